"""Handler overhead: the handler's time against the bare writes of the same items (issue 12).

    python bench/bench_handler.py                  # 1,000 and 10,000 records, 10 ms, 7 rounds
    python bench/bench_handler.py --no-write       # print only
    python bench/bench_handler.py --sizes 1000 --rounds 3

What it measures, per size:
- handler: `data_consumer_lambda.handler(event, None)` on a warm container (clients, connection
  pool and threads made by an earlier invocation), the event holding N distinct valid ticks in
  Lambda's Kinesis form. Timed from the call to its return, parsing included.
- direct: the very items the handler writes (its own plan, serialised the same way), sent
  straight to the server with BatchWriteItem, 25 a request, 16 requests in flight, by a warm
  client with the handler's client configuration. No parsing, no deduplication, no accounting.
- ratio: handler / direct (medians). 1.0 would mean the handler costs nothing beyond its writes.

Both write to a fresh table of the same moto server, which runs in a separate process (as
DynamoDB does for a Lambda function: the server's CPU is not the handler's); both clients carry
the same botocore `before-send` hook that sleeps 10 ms (the request's round trip) and counts
requests. Rounds alternate handler and direct so that load from elsewhere hits both alike; the
medians go into the "Handler throughput (issue 12)" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
HANDLER_DIR = REPO_ROOT / "lambda_handler"
DOCS_PATH = REPO_ROOT / "docs" / "benchmarks.md"
SECTION_HEADING = "## Handler throughput (issue 12)"
OLD_HEADINGS = ("## Handler throughput (issue 3)",)
REGION = "us-east-1"
DIRECT_IN_FLIGHT = 16
BATCH_WRITE_MAX_ITEMS = 25
HANDLER_TIMEOUT_SECONDS = 20.0  # the function's --timeout default

# Lambda's runtime puts the zip root on sys.path; so does the benchmark.
sys.path.insert(0, str(HANDLER_DIR))

from benchdoc import write_section  # noqa: E402

SERVER_SCRIPT = f"""
import sys
sys.path.insert(0, {str(REPO_ROOT)!r})
from tests.moto_server import MotoServer
server = MotoServer().start()
print(server.port, flush=True)
sys.stdin.read()
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float  # this process's CPU time (all threads) during the run
    requests: int
    items_in_table: int
    failures: int = 0


class RequestMeter:
    """Counts DynamoDB requests (retries included) and adds a fixed latency to each one."""

    def __init__(self, latency_seconds: float) -> None:
        self.latency_seconds = latency_seconds
        self.requests = 0
        self._lock = threading.Lock()

    def before_send(self, **_: Any) -> None:
        with self._lock:
            self.requests += 1
        time.sleep(self.latency_seconds)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-send.dynamodb.*", self.before_send)

    def detach(self, client: Any) -> None:
        client.meta.events.unregister("before-send.dynamodb.*", self.before_send)


@contextlib.contextmanager
def moto_server_process() -> Any:
    """A moto server (tests/moto_server.py) in its own process; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def tick_payload(index: int) -> bytes:
    """A distinct tick per index: 60 minutes x 24 hours per quote currency."""
    minute, hour, quote = index % 60, (index // 60) % 24, index // 1440
    return json.dumps(
        {
            "from_currency_code": "BTC",
            "from_currency_name": "Bitcoin",
            "to_currency_code": f"Q{quote}",
            "to_currency_name": "Quote currency",
            "exchange_rate": f"{37000 + index}.{index % 97:02d}",
            "last_refreshed": f"2026-11-24 {hour:02d}:{minute:02d}:00",
            "time_zone": "UTC",
            "bid_price": f"{36999 + index}.5",
            "ask_price": f"{37001 + index}.5",
        }
    ).encode()


def kinesis_event(record_count: int) -> dict[str, Any]:
    base = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898
    stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/crypto-ticks"
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "BTC",
                    "sequenceNumber": str(base + index),
                    "data": base64.b64encode(tick_payload(index)).decode("ascii"),
                    "approximateArrivalTimestamp": 1_795_528_701.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{base + index}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/consumer",
                "awsRegion": REGION,
                "eventSourceARN": stream_arn,
            }
            for index in range(record_count)
        ]
    }


def create_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "ticker", "KeyType": "HASH"},
            {"AttributeName": "last_refreshed", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "ticker", "AttributeType": "S"},
            {"AttributeName": "last_refreshed", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})


def count_items(client: Any, name: str) -> int:
    paginator = client.get_paginator("scan")
    return sum(page["Count"] for page in paginator.paginate(TableName=name, Select="COUNT"))


class Bench:
    def __init__(self, latency_seconds: float) -> None:
        import boto3
        import data_consumer_lambda

        self.handler_module = data_consumer_lambda
        self.latency_seconds = latency_seconds
        self.admin = boto3.client("dynamodb", region_name=REGION)
        self.direct_client = boto3.client(
            "dynamodb",
            region_name=REGION,
            config=data_consumer_lambda.DYNAMODB_CLIENT_CONFIG.merge(
                _pool_config(DIRECT_IN_FLIGHT + 2)
            ),
        )
        self.direct_pool = ThreadPoolExecutor(DIRECT_IN_FLIGHT, thread_name_prefix="direct")
        self._tables = 0

    def fresh_table(self, prefix: str) -> str:
        self._tables += 1
        name = f"{prefix}_{self._tables}"
        create_table(self.admin, name)
        return name

    def warm_up(self) -> None:
        """Clients, connection pools and threads exist before anything is timed."""
        table = self.fresh_table("warm")
        os.environ["DYNAMO_TABLE_NAME"] = table
        event = kinesis_event(BATCH_WRITE_MAX_ITEMS * DIRECT_IN_FLIGHT)
        with contextlib.redirect_stdout(sys.stderr):
            self.handler_module.handler(event, None)
        items = [pending.item for pending in self.handler_module.plan_batch(event["Records"]).items]
        self._write_direct(table, items)

    def handler_run(self, event: dict[str, Any]) -> Run:
        table = self.fresh_table("handler")
        os.environ["DYNAMO_TABLE_NAME"] = table
        client = self.handler_module.get_dynamodb_client()
        meter = RequestMeter(self.latency_seconds)
        meter.attach(client)
        # The handler's JSON summary line goes to stderr, leaving stdout for the figures.
        with contextlib.redirect_stdout(sys.stderr):
            cpu_started, started = time.process_time(), time.perf_counter()
            result = self.handler_module.handler(event, None)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        meter.detach(client)
        failures = len(result["batchItemFailures"])
        return Run(seconds, cpu, meter.requests, self.count_and_drop(table), failures)

    def direct_run(self, items: Sequence[dict[str, Any]]) -> Run:
        table = self.fresh_table("direct")
        meter = RequestMeter(self.latency_seconds)
        meter.attach(self.direct_client)
        cpu_started, started = time.process_time(), time.perf_counter()
        self._write_direct(table, items)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        meter.detach(self.direct_client)
        return Run(seconds, cpu, meter.requests, self.count_and_drop(table))

    def count_and_drop(self, table: str) -> int:
        """The items a run left, then the table goes: the server's heap stays the same size."""
        count = count_items(self.admin, table)
        self.admin.delete_table(TableName=table)
        return count

    def _write_direct(self, table: str, items: Sequence[dict[str, Any]]) -> None:
        chunks = [
            list(items[start : start + BATCH_WRITE_MAX_ITEMS])
            for start in range(0, len(items), BATCH_WRITE_MAX_ITEMS)
        ]
        for future in [self.direct_pool.submit(self._write_chunk, table, c) for c in chunks]:
            future.result()

    def _write_chunk(self, table: str, chunk: list[dict[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": item}} for item in chunk]
        while requests:
            answer = self.direct_client.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])


def _pool_config(connections: int) -> Any:
    from botocore.config import Config

    return Config(max_pool_connections=connections)


@dataclass(frozen=True)
class SizeResult:
    records: int
    handler: list[Run]
    direct: list[Run]
    planning_seconds: float

    @property
    def handler_median(self) -> float:
        return statistics.median(run.seconds for run in self.handler)

    @property
    def direct_median(self) -> float:
        return statistics.median(run.seconds for run in self.direct)

    @property
    def ratio(self) -> float:
        return self.handler_median / self.direct_median

    @property
    def best_ratio(self) -> float:
        return min(run.seconds for run in self.handler) / min(run.seconds for run in self.direct)

    @property
    def cpu_ratio(self) -> float:
        handler = statistics.median(run.cpu_seconds for run in self.handler)
        return handler / statistics.median(run.cpu_seconds for run in self.direct)


def measure(bench: Bench, size: int, rounds: int) -> SizeResult:
    event = kinesis_event(size)
    planning_seconds = float("inf")
    for _ in range(5):  # the best of five: what parsing costs when nothing else runs
        planning_started = time.perf_counter()
        plan = bench.handler_module.plan_batch(event["Records"])
        planning_seconds = min(planning_seconds, time.perf_counter() - planning_started)
    items = [pending.item for pending in plan.items]
    assert len(items) == size, "the benchmark's ticks must be distinct"
    handler_runs: list[Run] = []
    direct_runs: list[Run] = []
    for round_number in range(rounds):
        order = ("handler", "direct") if round_number % 2 == 0 else ("direct", "handler")
        for which in order:
            if which == "handler":
                handler_runs.append(bench.handler_run(event))
            else:
                direct_runs.append(bench.direct_run(items))
        print(
            f"{size:>6} records, round {round_number + 1}: handler "
            f"{handler_runs[-1].seconds:.3f} s, direct {direct_runs[-1].seconds:.3f} s",
            file=sys.stderr,
            flush=True,
        )
    for run in handler_runs + direct_runs:
        if run.failures or run.items_in_table != size:
            raise SystemExit(f"incomplete run ({run}); figures not written")
    return SizeResult(size, handler_runs, direct_runs, planning_seconds)


def _load() -> str:
    return " / ".join(f"{load:.1f}" for load in os.getloadavg())


def render_section(
    results: Sequence[SizeResult], latency_ms: float, rounds: int, command: str, load_before: str
) -> str:
    import data_consumer_lambda

    lines = [
        SECTION_HEADING,
        "",
        f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d')} with `{command}` "
        f"(Python {platform.python_version()}, moto {_moto_version()} server in its own process "
        f"on 127.0.0.1, {os.cpu_count()} CPUs shared with other work: load average "
        f"{load_before} before, {_load()} after).",
        "",
        f"- handler: `handler(event, None)` on a warm container, N distinct valid ticks; "
        f"BatchWriteItem of 25 with {data_consumer_lambda.WRITE_WORKERS} requests in flight, "
        "writes starting as soon as the first 25 ticks are read.",
        f"- direct: the handler's own items, BatchWriteItem of 25 with {DIRECT_IN_FLIGHT} "
        "requests in flight, straight from a warm client (no parsing at all).",
        f"- both: {latency_ms:g} ms slept per DynamoDB request by a botocore `before-send` hook "
        f"that also counts requests; median of {rounds} alternating rounds, each on a fresh table.",
        "",
        "| records | handler | direct (16 in flight) | handler / direct | best of each, ratio "
        "| requests | client CPU, handler / direct | reading + parsing alone | items in table |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.records:,} | {result.handler_median:.3f} s "
            f"| {result.direct_median:.3f} s | **{result.ratio:.2f}** "
            f"| {result.best_ratio:.2f} "
            f"| {result.handler[0].requests:,} / {result.direct[0].requests:,} "
            f"| {result.cpu_ratio:.2f} "
            f"| {result.planning_seconds * 1000:.0f} ms | {result.handler[0].items_in_table:,} |"
        )
    lines += [
        "",
        '"Handler" and "direct" are medians; "best of each" divides the fastest handler run by '
        "the fastest direct run, the figure least disturbed by other work on the machine. "
        '"Requests" is handler / direct (1 per 25 items: moto never throttles). "Client CPU" is '
        "the benchmark process's CPU time during the run, all threads (medians): the handler's "
        "own work on top of the same botocore work, whatever the load elsewhere. "
        '"Reading + parsing alone" is `plan_batch` on the same event (base64, KPL check, JSON, '
        "validation, deduplication, item building), best of 5 without I/O; in the handler it "
        "overlaps the writes. Each run's table is deleted after it is counted, so the server's "
        f"state is the same for every run. The function's timeout is "
        f"{HANDLER_TIMEOUT_SECONDS:g} s.",
    ]
    return "\n".join(lines) + "\n"


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    arguments = parser.parse_args(argv)
    command = "python " + " ".join(["bench/bench_handler.py", *(argv or sys.argv[1:])])

    load_before = _load()
    with moto_server_process() as endpoint:
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": endpoint,
            }
        )
        for name in ("DEAD_LETTER_QUEUE_URL", "AWS_PROFILE", "LOG_LEVEL"):
            os.environ.pop(name, None)
        bench = Bench(arguments.latency_ms / 1000)
        bench.warm_up()
        results = [measure(bench, size, arguments.rounds) for size in arguments.sizes]

    section = render_section(results, arguments.latency_ms, arguments.rounds, command, load_before)
    print(section)
    slowest = max(max(run.seconds for run in result.handler) for result in results)
    if slowest > HANDLER_TIMEOUT_SECONDS / 2:
        print(f"warning: a handler run took {slowest:.1f} s", file=sys.stderr)
    if not arguments.no_write:
        write_section(SECTION_HEADING, section, old_headings=OLD_HEADINGS)
        print(f"written to {DOCS_PATH.relative_to(REPO_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
