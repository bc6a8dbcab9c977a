"""Handler throughput: batched, concurrent writes against a naive per-record put_item loop.

Both run against moto's server on 127.0.0.1 with the same injected latency per DynamoDB request
(a botocore ``before-send`` hook that sleeps), and both have their requests counted by a hook.
The figures go into the "Handler throughput (issue 3)" section of docs/benchmarks.md.

    python bench/bench_handler.py                      # 1,000 and 10,000 records, 10 ms latency
    python bench/bench_handler.py --no-write            # print only
    python bench/bench_handler.py --naive-sizes 1000    # skip the slow naive 10,000 run
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import math
import os
import platform
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
HANDLER_DIR = REPO_ROOT / "lambda_handler"
DOCS_PATH = REPO_ROOT / "docs" / "benchmarks.md"
SECTION_HEADING = "## Handler throughput (issue 3)"
REGION = "us-east-1"

# Lambda's runtime puts the zip root on sys.path; so does the benchmark.
sys.path.insert(0, str(HANDLER_DIR))


@dataclass(frozen=True)
class Measurement:
    records: int
    seconds: float
    requests: int
    items_in_table: int
    failures: int
    planning_seconds: float | None = None  # the pure part: decode, parse, deduplicate


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
                    "partitionKey": "BTC",
                    "sequenceNumber": str(base + index),
                    "data": base64.b64encode(tick_payload(index)).decode("ascii"),
                    "approximateArrivalTimestamp": 1_795_528_701.0,
                },
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{base + index}",
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


def run_handler(admin: Any, record_count: int, latency_seconds: float) -> Measurement:
    import data_consumer_lambda

    table_name = f"bench_handler_{record_count}"
    create_table(admin, table_name)
    os.environ["DYNAMO_TABLE_NAME"] = table_name
    data_consumer_lambda.reset_clients()
    client = data_consumer_lambda.get_dynamodb_client()
    # Warm container: client, connection pool and worker threads exist before the timed event.
    # The handler's JSON summary line goes to stderr, leaving stdout for the figures.
    with contextlib.redirect_stdout(sys.stderr):
        data_consumer_lambda.handler(kinesis_event(1), None)
        meter = RequestMeter(latency_seconds)
        meter.attach(client)
        event = kinesis_event(record_count)
        started = time.perf_counter()
        result = data_consumer_lambda.handler(event, None)
        seconds = time.perf_counter() - started
    meter.detach(client)
    planning_started = time.perf_counter()
    data_consumer_lambda.plan_batch(event["Records"])
    planning_seconds = time.perf_counter() - planning_started
    return Measurement(
        records=record_count,
        seconds=seconds,
        requests=meter.requests,
        items_in_table=count_items(admin, table_name),
        failures=len(result["batchItemFailures"]),
        planning_seconds=planning_seconds,
    )


def run_naive(admin: Any, record_count: int, latency_seconds: float) -> Measurement:
    """What users run today: one put_item per record, raising on the first bad one."""
    import boto3

    table_name = f"bench_naive_{record_count}"
    create_table(admin, table_name)
    table = boto3.resource("dynamodb", region_name=REGION).Table(table_name)
    meter = RequestMeter(latency_seconds)
    meter.attach(table.meta.client)
    event = kinesis_event(record_count)
    started = time.perf_counter()
    for record in event["Records"]:
        tick = json.loads(base64.b64decode(record["kinesis"]["data"]), parse_float=Decimal)
        table.put_item(
            Item={
                "ticker": tick["from_currency_code"] + tick["to_currency_code"],
                "last_refreshed": tick["last_refreshed"],
                "exchange_rate": Decimal(tick["exchange_rate"]),
                "bid_price": Decimal(tick["bid_price"]),
                "ask_price": Decimal(tick["ask_price"]),
            }
        )
    seconds = time.perf_counter() - started
    meter.detach(table.meta.client)
    return Measurement(record_count, seconds, meter.requests, count_items(admin, table_name), 0)


def render_section(
    handler_runs: Sequence[Measurement],
    naive_runs: dict[int, Measurement],
    latency_ms: float,
    command: str,
) -> str:
    lines = [
        SECTION_HEADING,
        "",
        f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d')} with `{command}`",
        f"(Python {platform.python_version()}, moto {_moto_version()} server on 127.0.0.1 in the "
        f"same process, {os.cpu_count()} CPUs, {latency_ms:g} ms injected per DynamoDB request "
        "by a botocore `before-send` hook that also counts requests, retries included).",
        "Handler: warm container, default 20 s budget, BatchWriteItem of 25 with 8 requests in "
        "flight. Naive: one `Table.put_item` per record, in order.",
        "",
        "| records | handler wall time | handler requests | requests / record "
        "| naive wall time | naive requests | speed-up | items in table | of which parsing |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in handler_runs:
        naive = naive_runs.get(run.records)
        naive_time = f"{naive.seconds:.2f} s" if naive else "not run"
        naive_requests = f"{naive.requests:,}" if naive else "-"
        speed_up = f"{naive.seconds / run.seconds:.1f}x" if naive else "-"
        planning = f"{run.planning_seconds * 1000:.0f} ms" if run.planning_seconds else "-"
        lines.append(
            f"| {run.records:,} | {run.seconds:.3f} s | {run.requests:,} "
            f"| {run.requests / run.records:.4f} (1/25 = 0.04) | {naive_time} | {naive_requests} "
            f"| {speed_up} | {run.items_in_table:,} | {planning} |"
        )
    lines.append("")
    lines.append(
        "Requests per record above 1/25 would be retries of UnprocessedItems or throttling; "
        "moto never throttles, so these are the floor. moto's own request handling shares the "
        'benchmark\'s CPU, so wall times include it. "Of which parsing" is the pure part '
        "(base64, JSON, validation, deduplication, serialisation), timed separately."
    )
    return "\n".join(lines) + "\n"


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


def write_section(section: str, path: Path = DOCS_PATH) -> None:
    """Replace this benchmark's section only; other sections belong to other benchmarks."""
    existing = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = existing.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION_HEADING), None)
    if start is None:
        updated = existing.rstrip("\n") + "\n\n" + section
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        tail = "".join(lines[end:])
        updated = "".join(lines[:start]) + section + ("\n" + tail if tail else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--naive-sizes", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    arguments = parser.parse_args(argv)
    command = "python " + " ".join(["bench/bench_handler.py", *(argv or sys.argv[1:])])

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        }
    )
    os.environ.pop("DEAD_LETTER_QUEUE_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    try:
        import boto3

        admin = boto3.client("dynamodb", region_name=REGION)
        latency_seconds = arguments.latency_ms / 1000
        handler_runs: list[Measurement] = []
        naive_runs: dict[int, Measurement] = {}
        for size in arguments.sizes:
            run = run_handler(admin, size, latency_seconds)
            handler_runs.append(run)
            print(f"handler {size:>6} records: {run}", file=sys.stderr, flush=True)
            if run.failures or run.items_in_table != size:
                print("handler run incomplete; figures not written", file=sys.stderr)
                return 1
            if size in arguments.naive_sizes:
                naive = run_naive(admin, size, latency_seconds)
                naive_runs[size] = naive
                print(f"naive   {size:>6} records: {naive}", file=sys.stderr, flush=True)
    finally:
        server.stop()

    section = render_section(handler_runs, naive_runs, arguments.latency_ms, command)
    print(section)
    if not arguments.no_write:
        write_section(section)
        print(f"written to {DOCS_PATH.relative_to(REPO_ROOT)}", file=sys.stderr)
    expected_requests = {run.records: math.ceil(run.records / 25) for run in handler_runs}
    print(f"minimum requests: {expected_requests}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
