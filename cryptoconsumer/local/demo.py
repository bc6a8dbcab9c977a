"""`cryptoconsumer demo`: the whole pipeline on the embedded emulator, checked end to end.

Create a 2-shard stream, `up` the stack, produce N good ticks and B malformed records, wait
until the table holds N items and the dead-letter queue B messages, read the latest price per
ticker, and `destroy` (unless kept).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cryptoconsumer.aws import Clients, translated
from cryptoconsumer.config import StackConfig, StackOptions, build_config
from cryptoconsumer.errors import InputError
from cryptoconsumer.local.pipeline import LocalPipeline, create_stream
from cryptoconsumer.produce import (
    DEFAULT_TICKERS,
    OutgoingRecord,
    parse_tickers,
    put_records,
    start_of_this_second,
    synthetic_ticks,
    tick_json,
    tick_record,
)
from cryptoconsumer.progress import Reporter

DEMO_STACK = "demo"
DEMO_REGION = "us-east-1"
DEMO_STREAM = "demo-ticks"
DEMO_SHARDS = 2
DEFAULT_TIMEOUT_SECONDS = 120.0
CHECK_SECONDS = 0.1
# The demo holds every record it produces in memory, and so does the emulator: a million
# ticks is ~1 GB of emulator state, past what a demo on a laptop should take.
MAX_RECORDS = 1_000_000
MAX_BAD_RECORDS = 100_000
MAX_TIMEOUT_SECONDS = 86_400

# Each kind of malformed record the consumer must refuse, each for a different reason.
FLAG = "--only-tickers"
MALFORMED_KINDS = ("not JSON", "missing rate", "negative rate", "bad timestamp", "bad code")

# progress(processed): how many records the function has processed so far.
ProgressCallback = Callable[[int], None]
# Given how many records there are to process, open a display and return its update callback.
ProgressDisplay = Callable[[int], AbstractContextManager[ProgressCallback]]


@dataclass(frozen=True)
class DemoOptions:
    records: int = 300
    bad_records: int = 5
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    keep: bool = False
    # `up --only-tickers`: the mapping delivers only these of the demo's tickers
    only_tickers: str | None = None

    def wanted(self) -> frozenset[str]:
        """The tickers whose records reach the function (all of them without a filter)."""
        if self.only_tickers is None:
            return frozenset(DEFAULT_TICKERS)
        return frozenset(base + quote for base, quote in parse_tickers(self.only_tickers, FLAG))

    def validate(self) -> None:
        if not 1 <= self.records <= MAX_RECORDS:
            raise InputError(f"--records must be between 1 and {MAX_RECORDS:,}")
        if not 0 <= self.bad_records <= MAX_BAD_RECORDS:
            raise InputError(f"--bad-records must be between 0 and {MAX_BAD_RECORDS:,}")
        # NaN compares false with everything, so it must be refused by name, not by range.
        if not math.isfinite(self.timeout) or not 0 < self.timeout <= MAX_TIMEOUT_SECONDS:
            raise InputError(
                f"--timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:,}"
            )
        unknown = sorted(self.wanted() - set(DEFAULT_TICKERS))
        if unknown:
            raise InputError(
                f"{FLAG}: the demo produces {', '.join(DEFAULT_TICKERS)}, not {', '.join(unknown)}"
            )


@dataclass(frozen=True)
class DemoResult:
    produced: int
    bad_produced: int
    table_items: int
    dead_lettered: int
    seconds: float
    latest: dict[str, dict[str, str]] = field(default_factory=dict)
    stream_arn: str = ""
    # With --only-tickers: the good ticks of those tickers, and what AWS's filter dropped.
    expected_items: int | None = None
    filtered_out: int = 0
    only_tickers: tuple[str, ...] = ()

    @property
    def expected_dead_letters(self) -> int:
        # The malformed records carry no ticker of the demo's: a filter drops them all.
        return 0 if self.only_tickers else self.bad_produced

    @property
    def correct(self) -> bool:
        items = self.produced if self.expected_items is None else self.expected_items
        dropped = self.produced + self.bad_produced - items - self.expected_dead_letters
        return (
            self.table_items == items
            and self.dead_lettered == self.expected_dead_letters
            and self.filtered_out == dropped
        )

    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "produced": self.produced,
            "bad_produced": self.bad_produced,
            "table_items": self.table_items,
            "dead_lettered": self.dead_lettered,
            "seconds": round(self.seconds, 3),
        }
        if self.only_tickers:
            document.update(
                only_tickers=list(self.only_tickers),
                expected_items=self.expected_items,
                filtered_out=self.filtered_out,
            )
        return document


def malformed_record(index: int) -> OutgoingRecord:
    """The index-th bad record, cycling through MALFORMED_KINDS; each one distinct."""
    kind = MALFORMED_KINDS[index % len(MALFORMED_KINDS)]
    tick: dict[str, Any] = {
        "from_currency_code": "BAD",
        "to_currency_code": "USD",
        "exchange_rate": Decimal("1.00000000"),
        "last_refreshed": f"2000-01-01 00:00:{index % 60:02d}",
        "time_zone": "UTC",
    }
    if kind == "not JSON":
        return OutgoingRecord(f"not json #{index} {{".encode(), f"bad-{index}")
    if kind == "missing rate":
        del tick["exchange_rate"]
    elif kind == "negative rate":
        tick["exchange_rate"] = Decimal(f"-{index + 1}.5")
    elif kind == "bad timestamp":
        tick["last_refreshed"] = f"yesterday #{index}"
    else:
        tick["from_currency_code"] = f"B@D-{index}"
    return OutgoingRecord(tick_json(tick), f"bad-{index}")


def demo_records(
    good: int, bad: int, rng: random.Random
) -> tuple[list[OutgoingRecord], tuple[str, ...]]:
    """Good ticks with bad records spread evenly among them, and the tickers used."""
    pairs = parse_tickers(",".join(DEFAULT_TICKERS))
    ticks = [tick_record(t) for t in synthetic_ticks(pairs, good, start_of_this_second(), rng)]
    records: list[OutgoingRecord] = []
    bad_sent = 0
    for good_sent, tick in enumerate(ticks, start=1):
        records.append(tick)
        while bad_sent < bad and (bad_sent + 1) * good <= good_sent * (bad + 1):
            records.append(malformed_record(bad_sent))
            bad_sent += 1
    return records, tuple(base + quote for base, quote in pairs)


def count_table_items(clients: Clients, table_name: str) -> int:
    """The table's item count from DescribeTable.

    On the emulator (the only place the demo runs) moto counts the items live, so this is
    exact and costs the same at any size; AWS refreshes ItemCount only every few hours, so
    anything meant for AWS would scan with Select=COUNT instead.
    """
    table = clients.dynamodb.describe_table(TableName=table_name)["Table"]
    return int(table["ItemCount"])


def count_queue_messages(clients: Clients, queue_url: str) -> int:
    attributes = clients.sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def wait_until_processed(
    processed: Callable[[], int],
    expected: int,
    timeout: float,
    progress: ProgressCallback,
) -> None:
    """Wait until `expected` records are processed (or the timeout passes).

    `processed` is the poller's count of records whose invocations succeeded, so each check
    costs the same however large the table grows; the table and the queue are counted once,
    afterwards, and those counts are what the demo reports.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        done = processed()
        progress(done)
        if done >= expected or time.monotonic() >= deadline:
            return
        pause.wait(CHECK_SECONDS)


def latest_prices(
    clients: Clients, table_name: str, tickers: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    latest = {}
    for ticker in tickers:
        items = clients.dynamodb.query(
            TableName=table_name,
            KeyConditionExpression="ticker = :ticker",
            ExpressionAttributeValues={":ticker": {"S": ticker}},
            ScanIndexForward=False,
            Limit=1,
        )["Items"]
        if items:
            latest[ticker] = {
                "last_refreshed": items[0]["last_refreshed"]["S"],
                "exchange_rate": items[0]["exchange_rate"]["N"],
            }
    return latest


def demo_config(stream_arn: str, only_tickers: str | None = None) -> StackConfig:
    return build_config(
        StackOptions(
            stack=DEMO_STACK,
            stream_arn=stream_arn,
            region=DEMO_REGION,
            starting_position="TRIM_HORIZON",
            only_tickers=only_tickers,
        )
    )


def ticker_of(record: OutgoingRecord) -> str:
    """The demo's good ticks are keyed by their ticker (produce.partition_key)."""
    return record.partition_key


def run_demo(
    pipeline: LocalPipeline,
    options: DemoOptions,
    reporter: Reporter,
    display: ProgressDisplay,
    rng: random.Random | None = None,
) -> DemoResult:
    from cryptoconsumer import stack

    options.validate()
    started = time.monotonic()
    clients = pipeline.clients(DEMO_REGION)
    with reporter.waiting(f"creating stream {DEMO_STREAM} ({DEMO_SHARDS} shards)"):
        stream_arn = create_stream(clients, DEMO_STREAM, DEMO_SHARDS)
    config = demo_config(stream_arn, options.only_tickers)
    outputs = stack.execute(stack.plan_up(config, clients, reporter=reporter), reporter)
    table_name = config.table.name
    queue_url = str(outputs["queue_url"])

    stats = pipeline.poller.stats
    already = stats.delivered_records + stats.discarded_records
    already_filtered = stats.filtered_out_records
    records, tickers = demo_records(options.records, options.bad_records, rng or random.Random())
    with reporter.waiting(f"producing {len(records)} records"):
        produced = put_records(clients, stream_arn, records)
    wanted = options.wanted()
    expected_items = sum(ticker_of(r) in wanted for r in records)
    # The stream holds them now; the demo's own copy would only add to its peak memory.
    del records
    if produced.failed:
        reporter.info(f"{produced.failed} records could not be put on the stream")
    # Every record ends processed by the function or dropped by the filter.
    expected = options.records + options.bad_records

    def processed() -> int:
        handled = stats.delivered_records + stats.discarded_records - already
        return handled + stats.filtered_out_records - already_filtered

    with display(expected) as progress:
        wait_until_processed(processed, expected, options.timeout, progress)
    with translated("counting what was processed"):
        items = count_table_items(clients, table_name)
        letters = count_queue_messages(clients, queue_url)
    with translated("reading the latest prices"):
        latest = latest_prices(clients, table_name, tickers)
    if not options.keep:
        destroy = stack.plan_destroy(config, clients, delete_table=True, reporter=reporter)
        stack.execute(destroy, reporter)
    return DemoResult(
        produced=options.records,
        bad_produced=options.bad_records,
        table_items=items,
        dead_lettered=letters,
        seconds=time.monotonic() - started,
        latest=latest,
        stream_arn=stream_arn,
        expected_items=expected_items if options.only_tickers else None,
        filtered_out=stats.filtered_out_records - already_filtered,
        only_tickers=tuple(sorted(wanted)) if options.only_tickers else (),
    )
