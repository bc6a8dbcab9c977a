"""The producer: ticks onto a Kinesis stream with PutRecords, synthetic or from a JSON-lines file.

Ticks use the producer's flat form; numbers are written as JSON numbers with fixed decimals
(Decimal, never float). The partition key is the ticker, so one ticker's ticks stay in order on
one shard; one ticker's ticks carry successive seconds, so each is its own table item.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptoconsumer.errors import InputError

DEFAULT_TICKERS = ("BTCUSD", "ETHUSD", "DOGEUSD")
# PutRecords limits: 500 records and 5 MiB per call, 1 MiB per record (data + partition key).
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
# Records a partial failure names are retried this many times in all, with backoff.
PUT_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 2.0
MIN_WAIT_SECONDS = 0.001

PRICE_PLACES = Decimal("0.00000001")
STEP_PLACES = Decimal("0.000001")
SPREAD = Decimal("0.0005")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
TICKER = re.compile(r"(?P<base>[A-Z0-9]{1,10}?)[/-]?(?P<quote>[A-Z]{3})")

CURRENCY_NAMES = {
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "DOGE": "Dogecoin",
    "SOL": "Solana",
    "XRP": "XRP",
    "LTC": "Litecoin",
    "ADA": "Cardano",
    "USD": "United States Dollar",
    "EUR": "Euro",
    "GBP": "British Pound Sterling",
    "JPY": "Japanese Yen",
}
# Where a synthetic walk starts, so the demo's prices look like prices.
START_PRICES = {
    "BTC": Decimal("60000"),
    "ETH": Decimal("3000"),
    "DOGE": Decimal("0.15"),
    "SOL": Decimal("150"),
    "XRP": Decimal("0.5"),
    "LTC": Decimal("80"),
    "ADA": Decimal("0.4"),
}
DEFAULT_START_PRICE = Decimal("100")


@dataclass(frozen=True)
class OutgoingRecord:
    data: bytes
    partition_key: str

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode("utf-8"))


@dataclass(frozen=True)
class ProduceResult:
    stream_arn: str
    produced: int
    failed: int
    seconds: float

    def document(self) -> dict[str, Any]:
        return {
            "stream_arn": self.stream_arn,
            "produced": self.produced,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
        }


# -- ticks ------------------------------------------------------------------------------------


def parse_tickers(text: str, flag: str = "--tickers") -> tuple[tuple[str, str], ...]:
    """ "BTCUSD,ETH-EUR" -> (("BTC", "USD"), ("ETH", "EUR")); the quote is 3 letters."""
    pairs = []
    for raw in text.split(","):
        ticker = raw.strip().upper()
        # ASCII first: "ß".upper() is "SS", which would send a ticker nobody typed.
        match = TICKER.fullmatch(ticker) if raw.strip().isascii() else None
        if not match:
            raise InputError(
                f"{flag}: {raw.strip()!r} is not a ticker like BTCUSD "
                "(1-10 letters or digits, then a 3-letter currency)"
            )
        pairs.append((match["base"], match["quote"]))
    if len(set(pairs)) != len(pairs):
        raise InputError(f"{flag}: a ticker is listed twice")
    return tuple(pairs)


def _price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_PLACES)


def synthetic_ticks(
    pairs: Sequence[tuple[str, str]], count: int, start: datetime, rng: random.Random
) -> Iterator[dict[str, Any]]:
    """`count` ticks, round-robin over the pairs, each pair's prices a random walk.

    A pair's n-th tick is stamped `start + n` seconds: distinct keys, in order.
    """
    prices = {pair: START_PRICES.get(pair[0], DEFAULT_START_PRICE) for pair in pairs}
    for index in range(count):
        pair = pairs[index % len(pairs)]
        step = Decimal(str(max(-0.05, min(0.05, rng.gauss(0, 0.002))))).quantize(STEP_PLACES)
        rate = _price(prices[pair] * (1 + step))
        prices[pair] = rate
        moment = start + timedelta(seconds=index // len(pairs))
        base, quote = pair
        yield {
            "from_currency_code": base,
            "from_currency_name": CURRENCY_NAMES.get(base, base),
            "to_currency_code": quote,
            "to_currency_name": CURRENCY_NAMES.get(quote, quote),
            "exchange_rate": rate,
            "last_refreshed": moment.strftime(TIMESTAMP_FORMAT),
            "time_zone": "UTC",
            "bid_price": _price(rate * (1 - SPREAD)),
            "ask_price": _price(rate * (1 + SPREAD)),
        }


def _json_value(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else json.dumps(value)


def tick_json(tick: dict[str, Any]) -> bytes:
    """A flat tick as compact JSON; Decimals become numbers with exactly their digits."""
    fields = (f"{json.dumps(key)}:{_json_value(value)}" for key, value in tick.items())
    return ("{" + ",".join(fields) + "}").encode("utf-8")


def partition_key(tick: dict[str, Any]) -> str:
    base, quote = tick.get("from_currency_code"), tick.get("to_currency_code")
    if isinstance(base, str) and isinstance(quote, str) and base and quote:
        return f"{base}{quote}".upper()
    # A tick without codes still needs a shard; the consumer will say what is wrong with it.
    return "UNKNOWN"


def tick_record(tick: dict[str, Any]) -> OutgoingRecord:
    return OutgoingRecord(tick_json(tick), partition_key(tick))


def read_ticks_file(path: Path) -> list[OutgoingRecord]:
    """Every line a JSON object, sent as written; any bad line fails the whole file first."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            tick = json.loads(line, parse_float=Decimal)
        except ValueError as err:
            raise InputError(f"{path}:{number}: not JSON ({err})") from None
        except RecursionError:
            raise InputError(f"{path}:{number}: nested too deeply to be a tick") from None
        if not isinstance(tick, dict):
            raise InputError(f"{path}:{number}: not a JSON object")
        record = OutgoingRecord(line.strip(), partition_key(tick))
        if record.size > MAX_RECORD_BYTES:
            raise InputError(f"{path}:{number}: {record.size} bytes, over Kinesis' 1 MiB")
        records.append(record)
    if not records:
        raise InputError(f"{path}: no ticks in the file")
    return records


# -- putting ----------------------------------------------------------------------------------


def call_batches(records: Sequence[OutgoingRecord]) -> Iterator[list[OutgoingRecord]]:
    """Consecutive groups within PutRecords' 500 records and 5 MiB."""
    batch: list[OutgoingRecord] = []
    size = 0
    for record in records:
        if batch and (
            len(batch) == MAX_RECORDS_PER_CALL or size + record.size > MAX_BYTES_PER_CALL
        ):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += record.size
    if batch:
        yield batch


class Pacer:
    """When each record may go: record i not before start + i / rate (no limit without rate)."""

    def __init__(self, rate: float | None, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.clock = clock
        self.start = clock()

    def due_at(self, index: int) -> float:
        assert self.rate
        return self.start + index / self.rate

    def due(self, sent: int, total: int) -> int:
        """How many more records may be sent now (at most one call's worth)."""
        if not self.rate:
            return total - sent
        now = self.clock()
        count = 0
        while sent + count < total and count < MAX_RECORDS_PER_CALL:
            if self.due_at(sent + count) > now:
                break
            count += 1
        return count

    def wait_seconds(self, sent: int) -> float:
        # Never zero: a wait must move a clock forward, or a rounding error could spin.
        return max(MIN_WAIT_SECONDS, self.due_at(sent) - self.clock())


def put_batch(
    client: Any,
    stream_arn: str,
    batch: list[OutgoingRecord],
    wait: Callable[[float], Any],
    rng: random.Random,
) -> int:
    """PutRecords one batch, retrying only the records a partial failure names; returns failures."""
    from cryptoconsumer.aws import call

    pending = batch
    for attempt in range(PUT_ATTEMPTS):
        answer = call(
            f"putting records on {stream_arn}",
            client.put_records,
            StreamARN=stream_arn,
            Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in pending],
        )
        if not answer.get("FailedRecordCount"):
            return 0
        results = zip(pending, answer["Records"], strict=True)
        pending = [record for record, result in results if result.get("ErrorCode")]
        if attempt + 1 < PUT_ATTEMPTS:
            ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
            wait(rng.uniform(ceiling / 2, ceiling))
    return len(pending)


def put_records(
    clients: Any,
    stream_arn: str,
    records: Sequence[OutgoingRecord],
    *,
    rate: float | None = None,
    on_progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], Any] | None = None,
    rng: random.Random | None = None,
) -> ProduceResult:
    """Send all records, at most `rate` per second; `on_progress` gets the running total."""
    wait = wait or threading.Event().wait
    rng = rng or random.Random()
    client = clients.kinesis
    pacer = Pacer(rate, clock)
    started = clock()
    sent = failed = 0
    while sent < len(records):
        due = pacer.due(sent, len(records))
        if due == 0:
            wait(pacer.wait_seconds(sent))
            continue
        batch = next(call_batches(records[sent : sent + due]))
        failed += put_batch(client, stream_arn, batch, wait, rng)
        sent += len(batch)
        if on_progress is not None:
            on_progress(sent)
    return ProduceResult(stream_arn, sent - failed, failed, clock() - started)


def start_of_this_second() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@dataclass(frozen=True)
class ProduceRequest:
    """What `produce` was asked for: synthetic ticks (count, tickers) or a file, and a rate."""

    stream_arn: str
    count: int | None = None
    rate: float | None = None
    file: Path | None = None
    tickers: str | None = None
    seed: int | None = None

    def validate(self) -> None:
        from cryptoconsumer.config import parse_stream_arn

        parse_stream_arn(self.stream_arn)
        if self.rate is not None and not (math.isfinite(self.rate) and self.rate > 0):
            raise InputError(
                f"--rate {self.rate} must be a positive, finite number of records per second"
            )
        if self.tickers is not None:
            parse_tickers(self.tickers)
        if self.file is not None and (self.count is not None or self.tickers is not None):
            raise InputError("--file sends the file's ticks: it goes without --count and --tickers")
        if self.count is not None and self.count < 1:
            raise InputError("--count must be at least 1")


DEFAULT_COUNT = 100


def target_region(stream_arn: str, region: str | None) -> str:
    """The stream's region; --region may repeat it but not contradict it."""
    from cryptoconsumer.config import parse_stream_arn

    stream_region = parse_stream_arn(stream_arn).region
    if region and region != stream_region:
        raise InputError(f"the stream is in {stream_region} but --region is {region}")
    return stream_region


def build_records(request: ProduceRequest) -> list[OutgoingRecord]:
    """Every record to send, built and checked before anything is sent."""
    request.validate()
    if request.file is not None:
        return read_ticks_file(request.file)
    pairs = parse_tickers(",".join(DEFAULT_TICKERS) if request.tickers is None else request.tickers)
    count = request.count or DEFAULT_COUNT
    ticks = synthetic_ticks(pairs, count, start_of_this_second(), random.Random(request.seed))
    return [tick_record(tick) for tick in ticks]


def produce(
    clients: Any,
    request: ProduceRequest,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ProduceResult:
    records = build_records(request)
    if on_start is not None:
        on_start(len(records))
    return put_records(
        clients, request.stream_arn, records, rate=request.rate, on_progress=on_progress
    )
