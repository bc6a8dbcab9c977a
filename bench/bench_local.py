"""The local pipeline's figures: demo time and memory, sustained throughput, idle-shard latency.

    python bench/bench_local.py                    # everything, then docs/benchmarks.md
    python bench/bench_local.py --only demo        # or throughput, latency
    python bench/bench_local.py --rates 1000 2000 3000 --seconds 60 --no-write

- demo: `cryptoconsumer demo --records 10000 --bad-records 20 --output json` as its own
  process, `--demo-runs` times; its own "seconds", and the peak RSS of its whole process tree
  (the CLI with the emulator, and the function's worker processes), sampled from /proc every
  20 ms (a child caught between fork and exec is its parent's pages, counted once).
- throughput: `cryptoconsumer local start --create-stream bench --shards 2` as its own process,
  `cryptoconsumer up` against it (the stack's defaults: BatchSize 100), then this process
  produces ticks with PutRecords (500 a call, distinct keys) at a fixed rate for `--seconds`.
  Every 0.1 s one just-put tick is followed with GetItem until the function has written it:
  put -> item in table latency. A rate is kept up with when p95 < 1 s and the backlog does not
  grow (the last 10 s window's p95 is under 1 s too, and every tick is in the table within 5 s
  of the end). The highest rate kept up with is the figure.
- latency: `python -m tests.local.measure_latency --records 60 --gap 0.3`.

Everything runs on this machine's loopback; the figures go into the "Local pipeline" section
of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchdoc import write_section

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
SECTION_HEADING = "## Local pipeline (issues 4 and 12)"
CLI = [sys.executable, "-m", "cryptoconsumer"]
REGION = "us-east-1"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4
KEEP_UP_P95_SECONDS = 1.0
DRAIN_SECONDS = 5.0
# Follow one tick of each PutRecords call, at most this often.
SAMPLE_SECONDS = 0.1


# -- process tree memory ---------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        tasks = list(task_dir.glob("*"))
    except OSError:  # the process ended meanwhile
        tasks = []
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def tree_rss_kb(pid: int) -> int:
    """The tree's resident memory, each address space counted once.

    A child caught between fork (or vfork) and exec still runs its parent's program on its
    parent's pages (shared, or the very same address space); counting it would count the
    parent twice for that instant, so it is left out until it has exec'd."""
    total, pending, seen = 0, [(pid, b"")], set()
    while pending:
        current, parent_command = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        command = _command_line(current)
        if parent_command and command == parent_command:
            continue
        try:
            resident = int(Path(f"/proc/{current}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += resident * PAGE_KB
        pending += [(child, command) for child in _children(current)]
    return total


class PeakTreeRss:
    """Samples a process tree's total RSS until stopped; `peak_mb` is the largest seen."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


# -- demo ------------------------------------------------------------------------------------


@dataclass
class DemoRun:
    seconds: float
    wall: float
    peak_mb: float
    correct: bool
    cpu_seconds: float


def run_demo(records: int, bad: int) -> DemoRun:
    import resource

    command = [*CLI, "demo", "--records", str(records), "--bad-records", str(bad)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen(
            [*command, "--output", "json"],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        meter = PeakTreeRss(process.pid)
        out, _ = process.communicate(timeout=600)
        peak = meter.stop()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    document = json.loads(out)
    return DemoRun(
        seconds=float(document["seconds"]),
        wall=wall,
        peak_mb=peak,
        correct=process.returncode == 0
        and document["table_items"] == records
        and document["dead_lettered"] == bad,
        cpu_seconds=cpu,
    )


# -- throughput ------------------------------------------------------------------------------


@dataclass
class RateResult:
    rate: int
    seconds: float
    produced: int
    achieved_rate: float
    samples: int
    p50: float
    p95: float
    last_window_p95: float
    max_latency: float
    drained: bool
    kept_up: bool = field(init=False)

    def __post_init__(self) -> None:
        self.kept_up = (
            self.p95 < KEEP_UP_P95_SECONDS
            and self.last_window_p95 < KEEP_UP_P95_SECONDS
            and self.drained
        )


class LocalStart:
    def __init__(self, batch_size: int) -> None:
        self.folder = tempfile.mkdtemp(prefix="bench-local-")
        # The emulator's own log (one line per invocation), kept for looking into a run.
        self.log_path = Path(self.folder) / "local-start.log"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
        env.pop("AWS_PROFILE", None)
        self.env = env
        self.process = subprocess.Popen(
            [*CLI, "local", "start", "--port", "0", "--create-stream", "bench", "--shards", "2"],
            cwd=self.folder,
            stdout=subprocess.PIPE,
            stderr=self.log_path.open("w"),
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        self.endpoint = ""
        for line in self.process.stdout:
            if " on http" in line:
                self.endpoint = line.split(" on ", 1)[1].split()[0]
                break
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        self.stream_arn = f"arn:aws:kinesis:{REGION}:123456789012:stream/bench"
        up = subprocess.run(
            [
                *CLI,
                "up",
                "--stack",
                "bench",
                "--stream-arn",
                self.stream_arn,
                "--starting-position",
                "LATEST",
                "--batch-size",
                str(batch_size),
                "--endpoint-url",
                self.endpoint,
                "--output",
                "json",
            ],
            cwd=self.folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if up.returncode != 0:
            self.stop()
            raise SystemExit(f"up failed: {up.stderr.strip()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def clients(endpoint: str) -> tuple[Any, Any]:
    import boto3
    from botocore.config import Config

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    config = Config(max_pool_connections=20, retries={"mode": "standard", "max_attempts": 3})
    return (
        session.client("kinesis", endpoint_url=endpoint, config=config),
        session.client("dynamodb", endpoint_url=endpoint, config=config),
    )


def tick(index: int, base: datetime, tickers: int) -> tuple[bytes, str, dict[str, Any]]:
    ticker = f"T{index % tickers}"
    moment = datetime.fromtimestamp(base.timestamp() + index // tickers, tz=timezone.utc)
    refreshed = moment.strftime("%Y-%m-%d %H:%M:%S")
    body = {
        "from_currency_code": ticker,
        "to_currency_code": "USD",
        "exchange_rate": f"{100 + index % 97}.{index % 1000:03d}",
        "last_refreshed": refreshed,
        "time_zone": "UTC",
    }
    key = {"ticker": {"S": f"{ticker}USD"}, "last_refreshed": {"S": refreshed}}
    return json.dumps(body).encode(), f"{ticker}USD", key


def measure_rate(endpoint: str, stream_arn: str, rate: int, seconds: float) -> RateResult:
    kinesis, dynamodb = clients(endpoint)
    # Each rate runs on a fresh emulator, so the same keys can be used again.
    base = datetime(2030, 1, 1, tzinfo=timezone.utc)
    tickers = 1000
    per_call = 500
    calls_per_second = max(1, rate // per_call)
    batch = rate // calls_per_second
    latencies: list[tuple[float, float]] = []  # (put at, latency)
    to_follow: list[tuple[float, dict[str, Any]]] = []
    follow_lock = threading.Lock()
    stop = threading.Event()
    produced = 0
    started = time.monotonic()

    def follow() -> None:
        pending: list[tuple[float, dict[str, Any]]] = []
        while not (stop.is_set() and not pending and not to_follow):
            with follow_lock:
                pending += to_follow
                to_follow.clear()
            still = []
            for put_at, key in pending:
                found = dynamodb.get_item(TableName="bench_intraday", Key=key).get("Item")
                now = time.monotonic()
                if found:
                    latencies.append((put_at - started, now - put_at))
                elif now - put_at < 60:
                    still.append((put_at, key))
            pending = still
            time.sleep(0.02)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    index = 0
    next_call = started
    last_sample = 0.0
    while time.monotonic() - started < seconds:
        records = []
        keys = []
        for _ in range(batch):
            data, partition, key = tick(index, base, tickers)
            records.append({"Data": data, "PartitionKey": partition})
            keys.append(key)
            index += 1
        answer = kinesis.put_records(StreamARN=stream_arn, Records=records)
        put_at = time.monotonic()
        produced += len(records) - answer["FailedRecordCount"]
        if put_at - last_sample >= SAMPLE_SECONDS:
            last_sample = put_at
            with follow_lock:
                to_follow.append((put_at, keys[-1]))
        next_call += 1 / calls_per_second
        pause = next_call - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    elapsed = time.monotonic() - started
    # Drained: the very last tick must be in the table within DRAIN_SECONDS.
    last_key = keys[-1]
    deadline = time.monotonic() + DRAIN_SECONDS
    drained = False
    while time.monotonic() < deadline:
        if dynamodb.get_item(TableName="bench_intraday", Key=last_key).get("Item"):
            drained = True
            break
        time.sleep(0.05)
    stop.set()
    follower.join(timeout=70)
    values = sorted(latency for _, latency in latencies)
    window = sorted(lat for at, lat in latencies if at >= elapsed - 10)
    return RateResult(
        rate=rate,
        seconds=elapsed,
        produced=produced,
        achieved_rate=produced / elapsed,
        samples=len(values),
        p50=statistics.median(values) if values else float("inf"),
        p95=_p95(values),
        last_window_p95=_p95(window),
        max_latency=values[-1] if values else float("inf"),
        drained=drained,
    )


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("inf")
    return statistics.quantiles(values, n=20)[18]


# -- latency ---------------------------------------------------------------------------------


def measure_latency() -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "tests.local.measure_latency", "--records", "60", "--gap", "0.3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return completed.stdout.strip().splitlines()[-1]


# -- report ----------------------------------------------------------------------------------


def environment() -> str:
    import moto

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"Python {platform.python_version()}, moto {moto.__version__}, {os.cpu_count()} CPUs, "
        f"load average {load} at the start"
    )


def render(
    command: str,
    env: str,
    demos: list[DemoRun],
    rates: list[RateResult],
    latency: str | None,
    batch_size: int,
) -> str:
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    lines = [
        SECTION_HEADING,
        "",
        f"Measured {today} with `{command}` ({env}; the machine is shared, so figures",
        "taken under load are upper bounds for time and lower bounds for throughput).",
        "",
    ]
    if demos:
        lines += [
            "### `cryptoconsumer demo --records 10000 --bad-records 20 --output json`",
            "",
            'Its own process; "seconds" is the demo\'s own figure (from the emulator being up',
            "to `destroy` done), wall adds interpreter start and imports; peak RSS is the whole",
            "process tree (CLI + emulator + the function's worker processes), sampled every",
            "20 ms; CPU is user + system of the tree.",
            "",
            '| run | "seconds" | wall | peak RSS, process tree | CPU | table_items == N and '
            "dead_lettered == B |",
            "|---:|---:|---:|---:|---:|---|",
        ]
        for number, run in enumerate(demos, start=1):
            lines.append(
                f"| {number} | {run.seconds:.2f} s | {run.wall:.2f} s | {run.peak_mb:.0f} MB | "
                f"{run.cpu_seconds:.1f} s | {'yes' if run.correct else 'NO'} |"
            )
        lines += [
            f"| median | {statistics.median(r.seconds for r in demos):.2f} s | "
            f"{statistics.median(r.wall for r in demos):.2f} s | "
            f"{statistics.median(r.peak_mb for r in demos):.0f} MB | | |",
            "",
        ]
    if rates:
        best = max((r.rate for r in rates if r.kept_up), default=None)
        lines += [
            "### Sustained throughput, `local start` with a 2-shard stream",
            "",
            f"`up` with BatchSize {batch_size}; PutRecords of up to 500 ticks with distinct keys",
            "at a fixed rate from this (separate) process; one tick every 0.1 s followed with",
            "GetItem until the function has written it. Kept up = p95 < 1 s overall and in",
            f"the last 10 s, and the last tick in the table within {DRAIN_SECONDS:.0f} s of the",
            "end.",
            "",
            "| target rate | seconds | achieved | samples | p50 | p95 | p95, last 10 s | max | "
            "kept up |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in rates:
            lines.append(
                f"| {r.rate:,}/s | {r.seconds:.0f} | {r.achieved_rate:,.0f}/s | {r.samples} | "
                f"{r.p50 * 1000:.0f} ms | {r.p95 * 1000:.0f} ms | "
                f"{r.last_window_p95 * 1000:.0f} ms | {r.max_latency * 1000:.0f} ms | "
                f"{'yes' if r.kept_up else 'no'} |"
            )
        lines += [
            "",
            f"Highest rate kept up with: {f'{best:,} records/s' if best else 'none of these'}.",
            "",
        ]
    if latency:
        lines += [
            "### Record -> function latency on an idle shard",
            "",
            "`python -m tests.local.measure_latency --records 60 --gap 0.3`: one PutRecord every",
            "0.3 s on an idle 1-shard stream, latency = the handler's clock minus the time",
            "PutRecord was called.",
            "",
            f"    {latency}",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["demo", "throughput", "latency"], action="append")
    parser.add_argument("--demo-runs", type=int, default=3)
    parser.add_argument("--rates", type=int, nargs="+", default=[1000, 2000, 3000])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--no-write", action="store_true")
    arguments = parser.parse_args()
    parts = set(arguments.only or ["demo", "throughput", "latency"])
    command = "python " + " ".join(["bench/bench_local.py", *sys.argv[1:]])
    env = environment()

    demos = []
    if "demo" in parts:
        for _ in range(arguments.demo_runs):
            demos.append(run_demo(10_000, 20))
            print(demos[-1], flush=True)
    rates = []
    if "throughput" in parts:
        for rate in arguments.rates:
            local = LocalStart(arguments.batch_size)
            try:
                result = measure_rate(local.endpoint, local.stream_arn, rate, arguments.seconds)
                rates.append(result)
            finally:
                local.stop()
            print(rates[-1], flush=True)
    latency = measure_latency() if "latency" in parts else None
    if latency:
        print(latency)
    section = render(command, env, demos, rates, latency, arguments.batch_size)
    print(section)
    # The section holds all three measures; a partial run would drop the others.
    if arguments.only and not arguments.no_write:
        print("(a run with --only is printed, not written: run without --only to update the docs)")
    elif not arguments.no_write:
        write_section(SECTION_HEADING, section)


if __name__ == "__main__":
    main()
