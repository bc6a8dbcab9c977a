"""Lambda consumer: crypto exchange-rate ticks from Kinesis, one DynamoDB item per tick.

Contract
- Entry point ``handler(event, context)`` behind a Kinesis event source mapping created with
  ``FunctionResponseTypes=["ReportBatchItemFailures"]``. It returns
  ``{"batchItemFailures": [{"itemIdentifier": "<sequenceNumber>"}, ...]}``; Lambda resumes the
  shard from the lowest sequence number reported and delivers everything after it again, so every
  write is an idempotent put keyed by ``ticker`` + ``last_refreshed``.
- Environment: ``DYNAMO_TABLE_NAME`` (required), ``DEAD_LETTER_QUEUE_URL`` (optional),
  ``LOG_LEVEL`` (optional, default INFO).
- Payloads: UTF-8 JSON objects in the producer's flat form or Alpha Vantage's numbered
  CURRENCY_EXCHANGE_RATE form (bare or wrapped in "Realtime Currency Exchange Rate"), each possibly
  packed into a Kinesis Producer Library aggregate.
- A record that can never be written (a data problem) goes to the dead-letter queue, or to the log
  at ERROR when no queue is configured, and counts as processed: it never blocks the shard. A
  record left unwritten for a reason outside the record (throttling past the time budget, a
  missing table, an unreachable queue) is reported as a batch item failure: nothing is lost.
- Imports only the standard library, boto3 and its sibling ``kpl_aggregate`` (by plain name: the
  zip root is on sys.path, ``lambda_handler/__init__.py`` is not in the zip).

Layout: configuration; parsed values; pure parsing (numbers, timestamps, payloads, Kinesis
records); batch planning and deduplication; dead-letter messages; AWS clients; I/O
(``DeadLetterSink``, ``BatchWriter``); the handler. Everything above "AWS clients" is pure.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, DecimalException
from typing import Any

import boto3
import kpl_aggregate
from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------

TABLE_NAME_ENV = "DYNAMO_TABLE_NAME"
DEAD_LETTER_QUEUE_URL_ENV = "DEAD_LETTER_QUEUE_URL"
LOG_LEVEL_ENV = "LOG_LEVEL"

BATCH_WRITE_MAX_ITEMS = 25  # BatchWriteItem's hard limit per request
SQS_BATCH_MAX_ENTRIES = 10  # SendMessageBatch's hard limit per request
# SQS caps one message and the sum of one SendMessageBatch at 256 KiB (the classic limit; queues
# may allow more, but this one is always safe).
SQS_MESSAGE_MAX_BYTES = 256 * 1024
SQS_BATCH_MAX_BYTES = 256 * 1024
DYNAMODB_ITEM_MAX_BYTES = 400 * 1024
# DynamoDB numbers: 38 significant digits, magnitude between 1E-130 and 9.99...E+125.
DYNAMODB_MIN_ADJUSTED_EXPONENT = -130
DYNAMODB_MAX_ADJUSTED_EXPONENT = 125

WRITE_WORKERS = 8
DEFAULT_BUDGET_MS = 20_000  # used when there is no Lambda context (local runs, tests)
MAX_SAFETY_MARGIN_MS = 2_000
MIN_SAFETY_MARGIN_MS = 250
SAFETY_MARGIN_FRACTION = 0.10
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0
DEAD_LETTER_SEND_ATTEMPTS = 2

# botocore's own retries stay modest so the time-budget loop in BatchWriter keeps control of
# throttling; short timeouts stop one hung connection from eating the whole budget.
DYNAMODB_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=WRITE_WORKERS + 2,
)
SQS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=WRITE_WORKERS + 2,
)

RETRYABLE_DYNAMODB_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)

WRAPPER_KEY = "Realtime Currency Exchange Rate"
# Producer's flat name -> Alpha Vantage's numbered name.
NUMBERED_FIELD_NAMES: dict[str, str] = {
    "from_currency_code": "1. From_Currency Code",
    "from_currency_name": "2. From_Currency Name",
    "to_currency_code": "3. To_Currency Code",
    "to_currency_name": "4. To_Currency Name",
    "exchange_rate": "5. Exchange Rate",
    "last_refreshed": "6. Last Refreshed",
    "time_zone": "7. Time Zone",
    "bid_price": "8. Bid Price",
    "ask_price": "9. Ask Price",
}
# Alpha Vantage answers "-" for a bid or ask it does not have; that means "absent", not "bad".
ABSENT_PRICE_MARKERS = frozenset({"", "-"})

logger = logging.getLogger("data_consumer_lambda")

AttributeValue = dict[str, Any]
DynamoDBItem = dict[str, AttributeValue]


class ConfigurationError(RuntimeError):
    """The function is deployed without something it needs; no record is at fault."""


# --------------------------------------------------------------------------------------------
# Parsed values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick:
    """One validated exchange-rate observation, normalised and ready to become an item."""

    from_currency_code: str
    to_currency_code: str
    last_refreshed: str
    exchange_rate: Decimal
    from_currency_name: str | None = None
    to_currency_name: str | None = None
    time_zone: str | None = None
    bid_price: Decimal | None = None
    ask_price: Decimal | None = None

    @property
    def ticker(self) -> str:
        return self.from_currency_code + self.to_currency_code

    @property
    def key(self) -> tuple[str, str]:
        return (self.ticker, self.last_refreshed)


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A payload that can never become an item, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """Where a payload came from: the Kinesis record and, for KPL aggregates, the user record."""

    sequence_number: str | None
    partition_key: str | None
    event_source_arn: str | None
    approximate_arrival: float | int | None
    user_record_index: int | None = None

    @property
    def order(self) -> tuple[int, int]:
        """Stream order: sequence numbers compare as integers, user records by position."""
        return (_sequence_as_int(self.sequence_number), self.user_record_index or 0)


@dataclass(frozen=True, slots=True)
class Payload:
    """The bytes of one (user) record, with their origin."""

    source: SourceRecord
    data: bytes


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that can never be written, kept for a human to look at."""

    reason: str
    source: SourceRecord
    data_base64: str


class _Rejected(Exception):
    """Raised inside payload parsing with the reason a record is bad."""


def _sequence_as_int(sequence_number: str | None) -> int:
    try:
        return int(sequence_number) if sequence_number is not None else -1
    except ValueError:
        return -1


# --------------------------------------------------------------------------------------------
# Pure parsing: numbers
# --------------------------------------------------------------------------------------------

# Decimal() alone would also take "1_000" and non-ASCII digits; a tick must be plain digits.
_NUMBER_PATTERN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NON_FINITE_WORDS = frozenset({"nan", "snan", "inf", "infinity"})


def parse_positive_number(value: object, field_name: str) -> Decimal:
    """A JSON number (already a Decimal) or numeric string, finite, > 0 and storable exactly."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if _NUMBER_PATTERN.fullmatch(text):
            number = Decimal(text)
        elif text.lower().lstrip("+-") in _NON_FINITE_WORDS:
            raise _Rejected(f"{field_name} is not finite")
        else:
            raise _Rejected(f"{field_name} is not numeric")
    else:
        # bool is deliberately refused here too: True is not an exchange rate.
        raise _Rejected(f"{field_name} is not numeric")
    if not number.is_finite():
        raise _Rejected(f"{field_name} is not finite")
    if number <= 0:
        raise _Rejected(f"{field_name} must be greater than zero")
    if not (DYNAMODB_MIN_ADJUSTED_EXPONENT <= number.adjusted() <= DYNAMODB_MAX_ADJUSTED_EXPONENT):
        raise _Rejected(f"{field_name} is outside DynamoDB's number range")
    try:
        # The same context boto3's TypeSerializer uses: it refuses to round, and so do we.
        DYNAMODB_CONTEXT.create_decimal(number)
    except DecimalException:
        raise _Rejected(f"{field_name} has more than 38 significant digits") from None
    return number


# --------------------------------------------------------------------------------------------
# Pure parsing: timestamps
# --------------------------------------------------------------------------------------------

_TIMESTAMP_PATTERN = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[T ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?"
    r"\s*(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII | re.IGNORECASE,
)


def normalise_timestamp(text: str) -> tuple[str, bool]:
    """``YYYY-MM-DD HH:MM:SS`` from a space- or ``T``-separated ISO 8601 time.

    Fractions of a second are dropped (truncated). An explicit offset (``Z``, ``+05:30``,
    ``-0800``, ``+01``) is converted to UTC; the boolean says whether that happened.
    Raises ValueError when the text is not such a time.
    """
    match = _TIMESTAMP_PATTERN.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 date and time: {text!r}")
    moment = datetime(
        int(match["year"]),
        int(match["month"]),
        int(match["day"]),
        int(match["hour"]),
        int(match["minute"]),
        int(match["second"] or 0),
    )
    offset_text = match["offset"]
    if offset_text is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S"), False
    if offset_text.upper() == "Z":
        offset = timedelta(0)
    else:
        digits = offset_text[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"offset out of range: {offset_text!r}")
        offset = timedelta(hours=hours, minutes=minutes)
        if offset_text[0] == "-":
            offset = -offset
    try:
        utc_moment = moment.replace(tzinfo=timezone(offset)).astimezone(timezone.utc)
    except OverflowError as overflow:
        raise ValueError(f"out of range once converted to UTC: {text!r}") from overflow
    # strftime would not zero-pad years below 1000 on every platform.
    return _format_naive(utc_moment.replace(tzinfo=None)), True


def _format_naive(moment: datetime) -> str:
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


# --------------------------------------------------------------------------------------------
# Pure parsing: payloads
# --------------------------------------------------------------------------------------------

_CURRENCY_CODE_PATTERN = re.compile(r"[A-Za-z0-9]{1,10}")


def parse_payload(raw: bytes) -> Tick | BadRecord:
    """One user record's bytes -> a Tick, or the reason it can never be one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return BadRecord("payload is not valid UTF-8")
    try:
        # parse_constant keeps NaN/Infinity as Decimals so they get their own reason below.
        document = json.loads(
            text.removeprefix("\ufeff"),
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=Decimal,
        )
    except (ValueError, RecursionError):
        return BadRecord("payload is not valid JSON")
    if not isinstance(document, dict):
        return BadRecord("payload is not a JSON object")
    if WRAPPER_KEY in document:
        document = document[WRAPPER_KEY]
        if not isinstance(document, dict):
            return BadRecord(f"{WRAPPER_KEY!r} is not a JSON object")
    try:
        return _tick_from_fields(document)
    except _Rejected as rejection:
        return BadRecord(str(rejection))


def _field(fields: Mapping[str, Any], name: str) -> Any:
    """A field by its flat name, falling back to Alpha Vantage's numbered name."""
    if name in fields:
        return fields[name]
    return fields.get(NUMBERED_FIELD_NAMES[name])


def _currency_code(fields: Mapping[str, Any], name: str) -> str:
    value = _field(fields, name)
    if value is None:
        raise _Rejected(f"missing {name}")
    if not isinstance(value, str) or not _CURRENCY_CODE_PATTERN.fullmatch(value.strip()):
        raise _Rejected(f"{name} is not 1-10 letters or digits")
    return value.strip().upper()


def _optional_text(fields: Mapping[str, Any], name: str) -> str | None:
    value = _field(fields, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Rejected(f"{name} is not a string")
    return value.strip() or None


def _optional_price(fields: Mapping[str, Any], name: str) -> Decimal | None:
    value = _field(fields, name)
    if value is None or (isinstance(value, str) and value.strip() in ABSENT_PRICE_MARKERS):
        return None
    return parse_positive_number(value, name)


def _last_refreshed(fields: Mapping[str, Any]) -> tuple[str, bool]:
    value = _field(fields, "last_refreshed")
    if value is None:
        raise _Rejected("missing last_refreshed")
    if not isinstance(value, str):
        raise _Rejected("last_refreshed is not a string")
    try:
        return normalise_timestamp(value)
    except ValueError:
        raise _Rejected("last_refreshed is not a parseable date and time") from None


def _tick_from_fields(fields: Mapping[str, Any]) -> Tick:
    from_currency_code = _currency_code(fields, "from_currency_code")
    to_currency_code = _currency_code(fields, "to_currency_code")
    exchange_rate_value = _field(fields, "exchange_rate")
    if exchange_rate_value is None:
        raise _Rejected("missing exchange_rate")
    exchange_rate = parse_positive_number(exchange_rate_value, "exchange_rate")
    last_refreshed, converted_to_utc = _last_refreshed(fields)
    time_zone = _optional_text(fields, "time_zone")
    tick = Tick(
        from_currency_code=from_currency_code,
        to_currency_code=to_currency_code,
        last_refreshed=last_refreshed,
        exchange_rate=exchange_rate,
        from_currency_name=_optional_text(fields, "from_currency_name"),
        to_currency_name=_optional_text(fields, "to_currency_name"),
        # time_zone describes last_refreshed, which is now in UTC.
        time_zone="UTC" if converted_to_utc else time_zone,
        bid_price=_optional_price(fields, "bid_price"),
        ask_price=_optional_price(fields, "ask_price"),
    )
    # An oversized item would make DynamoDB reject its whole 25-item request.
    if _approximate_item_bytes(tick_to_item(tick, "9" * 56)) > DYNAMODB_ITEM_MAX_BYTES:
        raise _Rejected("item would exceed DynamoDB's 400 KB item size limit")
    return tick


def tick_to_item(tick: Tick, sequence_number: str | None) -> dict[str, str | Decimal]:
    """The item as Python values (Decimals, never floats)."""
    item: dict[str, str | Decimal] = {
        "ticker": tick.ticker,
        "last_refreshed": tick.last_refreshed,
        "from_currency_code": tick.from_currency_code,
        "to_currency_code": tick.to_currency_code,
        "exchange_rate": tick.exchange_rate,
    }
    optional_values: dict[str, str | Decimal | None] = {
        "from_currency_name": tick.from_currency_name,
        "to_currency_name": tick.to_currency_name,
        "time_zone": tick.time_zone,
        "bid_price": tick.bid_price,
        "ask_price": tick.ask_price,
        # A Kinesis sequence number has ~56 digits, beyond DynamoDB's 38: store it as a string.
        "sequence_number": sequence_number,
    }
    item.update({name: value for name, value in optional_values.items() if value is not None})
    return item


def _approximate_item_bytes(item: Mapping[str, str | Decimal]) -> int:
    return sum(len(name.encode()) + len(str(value).encode()) for name, value in item.items())


_SERIALIZER = TypeSerializer()


def serialize_item(item: Mapping[str, str | Decimal]) -> DynamoDBItem:
    return {name: _SERIALIZER.serialize(value) for name, value in item.items()}


# --------------------------------------------------------------------------------------------
# Pure parsing: Kinesis event records
# --------------------------------------------------------------------------------------------


def read_kinesis_record(record: object) -> tuple[list[Payload], list[DeadLetter]]:
    """One entry of the event's Records -> the payloads it carries, or why it is bad."""
    if not isinstance(record, Mapping):
        source = SourceRecord(None, None, None, None)
        return [], [DeadLetter("event record is not an object", source, "")]
    kinesis = record.get("kinesis")
    kinesis = kinesis if isinstance(kinesis, Mapping) else {}
    source = SourceRecord(
        sequence_number=_optional_str(kinesis.get("sequenceNumber")),
        partition_key=_optional_str(kinesis.get("partitionKey")),
        event_source_arn=_optional_str(record.get("eventSourceARN")),
        approximate_arrival=kinesis.get("approximateArrivalTimestamp"),
    )
    encoded = kinesis.get("data")
    if not isinstance(encoded, str):
        return [], [DeadLetter("record has no kinesis.data", source, "")]
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return [], [DeadLetter("kinesis.data is not valid base64", source, encoded)]
    if not kpl_aggregate.is_aggregated(blob):
        return [Payload(source, blob)], []
    try:
        user_records = kpl_aggregate.deaggregate(blob)
    except kpl_aggregate.AggregateError as error:
        return [], [DeadLetter(f"bad KPL aggregate: {error}", source, encoded)]
    payloads = [
        Payload(
            SourceRecord(
                sequence_number=source.sequence_number,
                partition_key=user_record.partition_key,
                event_source_arn=source.event_source_arn,
                approximate_arrival=source.approximate_arrival,
                user_record_index=index,
            ),
            user_record.data,
        )
        for index, user_record in enumerate(user_records)
    ]
    return payloads, []


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------------------------
# Batch planning and deduplication (pure)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingItem:
    """One item to write, and every source record whose fate depends on it."""

    key: tuple[str, str]
    item: DynamoDBItem
    sequence_numbers: frozenset[str]


@dataclass(frozen=True, slots=True)
class BatchPlan:
    items: list[PendingItem]
    dead_letters: list[DeadLetter]
    record_count: int
    user_record_count: int
    aggregated: bool
    duplicates: int


def plan_batch(records: Sequence[object]) -> BatchPlan:
    """Everything the handler will do with a batch, decided without any I/O."""
    ticks: list[tuple[Tick, SourceRecord]] = []
    dead_letters: list[DeadLetter] = []
    user_record_count = 0
    aggregated = False
    for record in records:
        payloads, record_dead_letters = read_kinesis_record(record)
        dead_letters.extend(record_dead_letters)
        user_record_count += len(payloads) + len(record_dead_letters)
        for payload in payloads:
            aggregated = aggregated or payload.source.user_record_index is not None
            parsed = parse_payload(payload.data)
            if isinstance(parsed, BadRecord):
                encoded = base64.b64encode(payload.data).decode("ascii")
                dead_letters.append(DeadLetter(parsed.reason, payload.source, encoded))
            else:
                ticks.append((parsed, payload.source))
    items, duplicates = deduplicate(ticks)
    return BatchPlan(
        items=items,
        dead_letters=dead_letters,
        record_count=len(records),
        user_record_count=user_record_count,
        aggregated=aggregated,
        duplicates=duplicates,
    )


def deduplicate(ticks: Sequence[tuple[Tick, SourceRecord]]) -> tuple[list[PendingItem], int]:
    """One item per (ticker, last_refreshed): the latest record in stream order wins.

    BatchWriteItem rejects a request holding the same key twice, and the latest tick is the one
    a sequential consumer would have left in the table.
    """
    winners: dict[tuple[str, str], tuple[Tick, SourceRecord]] = {}
    sources: dict[tuple[str, str], set[str]] = {}
    for tick, source in ticks:
        current = winners.get(tick.key)
        if current is None or source.order > current[1].order:
            winners[tick.key] = (tick, source)
        if source.sequence_number is not None:
            sources.setdefault(tick.key, set()).add(source.sequence_number)
    items = [
        PendingItem(
            key=key,
            item=serialize_item(tick_to_item(tick, source.sequence_number)),
            sequence_numbers=frozenset(sources.get(key, ())),
        )
        for key, (tick, source) in winners.items()
    ]
    return items, len(ticks) - len(winners)


# --------------------------------------------------------------------------------------------
# Dead-letter messages (pure)
# --------------------------------------------------------------------------------------------


def dead_letter_fields(
    letter: DeadLetter, max_bytes: int = SQS_MESSAGE_MAX_BYTES
) -> dict[str, Any]:
    """The dead-letter message as a dict whose JSON fits in max_bytes, data truncated if need be."""
    fields: dict[str, Any] = {
        "reason": letter.reason,
        "sequence_number": letter.source.sequence_number,
        "partition_key": letter.source.partition_key,
        "event_source_arn": letter.source.event_source_arn,
        "approximate_arrival": letter.source.approximate_arrival,
        "data_base64": letter.data_base64,
    }
    if letter.source.user_record_index is not None:
        fields["user_record_index"] = letter.source.user_record_index
    if len(_to_json(fields)) <= max_bytes:
        return fields
    without_data = _to_json({**fields, "data_base64": "", "truncated": True})
    room = max(0, max_bytes - len(without_data))
    # Whole base64 quanta, so the kept prefix still decodes.
    fields["data_base64"] = letter.data_base64[: room - room % 4]
    fields["truncated"] = True
    return fields


def _to_json(fields: Mapping[str, Any]) -> bytes:
    # ensure_ascii: every byte is a character SQS accepts, and len() is the byte size.
    return json.dumps(fields, ensure_ascii=True, default=str).encode("ascii")


def pack_message_batches(bodies: Sequence[str]) -> list[list[int]]:
    """Indices of bodies grouped into SendMessageBatch calls: <= 10 entries, <= 256 KiB in all."""
    batches: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for index, body in enumerate(bodies):
        size = len(body.encode("utf-8"))
        if current and (
            len(current) == SQS_BATCH_MAX_ENTRIES or current_bytes + size > SQS_BATCH_MAX_BYTES
        ):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(index)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


# --------------------------------------------------------------------------------------------
# AWS clients: one of each per container, created lazily, replaceable for tests and benchmarks
# --------------------------------------------------------------------------------------------

_clients_lock = threading.Lock()
_dynamodb_client: Any = None
_sqs_client: Any = None
_executor: ThreadPoolExecutor | None = None


def get_dynamodb_client() -> Any:
    global _dynamodb_client
    with _clients_lock:
        if _dynamodb_client is None:
            _dynamodb_client = boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG)
        return _dynamodb_client


def get_sqs_client() -> Any:
    global _sqs_client
    with _clients_lock:
        if _sqs_client is None:
            _sqs_client = boto3.client("sqs", config=SQS_CLIENT_CONFIG)
        return _sqs_client


def set_dynamodb_client(client: Any) -> None:
    global _dynamodb_client
    with _clients_lock:
        _dynamodb_client = client


def set_sqs_client(client: Any) -> None:
    global _sqs_client
    with _clients_lock:
        _sqs_client = client


def reset_clients() -> None:
    """Forget both clients; the next invocation creates fresh ones (tests, benchmarks)."""
    set_dynamodb_client(None)
    set_sqs_client(None)


def get_executor() -> ThreadPoolExecutor:
    global _executor
    with _clients_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=WRITE_WORKERS, thread_name_prefix="consumer-io"
            )
        return _executor


# --------------------------------------------------------------------------------------------
# I/O
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment (time.monotonic) after which no new AWS call is started."""

    expires_at: float

    @classmethod
    def for_invocation(cls, context: Any, now: float) -> Deadline:
        remaining_ms = (
            DEFAULT_BUDGET_MS if context is None else context.get_remaining_time_in_millis()
        )
        # The margin lets in-flight calls finish and the response reach Lambda before timeout.
        margin_ms = min(
            MAX_SAFETY_MARGIN_MS,
            max(MIN_SAFETY_MARGIN_MS, remaining_ms * SAFETY_MARGIN_FRACTION),
        )
        return cls(now + (remaining_ms - margin_ms) / 1000)

    def remaining_seconds(self) -> float:
        return self.expires_at - time.monotonic()

    def allows(self, seconds: float = 0.0) -> bool:
        return self.remaining_seconds() > seconds


def _log_json(level: int, message: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps({"message": message, **fields}, default=str))


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    delivered: list[DeadLetter]
    undelivered: list[DeadLetter]


class DeadLetterSink:
    """Sends dead letters to SQS (or, without a queue, logs them at ERROR)."""

    def __init__(
        self,
        queue_url: str | None,
        client_factory: Callable[[], Any],
        executor: ThreadPoolExecutor,
        deadline: Deadline,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._queue_url = queue_url
        self._client_factory = client_factory
        self._executor = executor
        self._deadline = deadline
        self._sleep = sleep

    def deliver(self, letters: Sequence[DeadLetter]) -> DeliveryOutcome:
        if not letters:
            return DeliveryOutcome([], [])
        if self._queue_url is None:
            for letter in letters:
                _log_json(
                    logging.ERROR, "bad record (no dead-letter queue)", **dead_letter_fields(letter)
                )
            return DeliveryOutcome(list(letters), [])
        # Created on this thread: boto3 sessions are not thread-safe, clients are.
        client = self._client_factory()
        bodies = [_to_json(dead_letter_fields(letter)).decode("ascii") for letter in letters]
        batches = pack_message_batches(bodies)
        futures = [
            self._executor.submit(
                self._send_batch, client, [(letters[index], bodies[index]) for index in batch]
            )
            for batch in batches
        ]
        undelivered: list[DeadLetter] = []
        for batch, future in zip(batches, futures, strict=True):
            try:
                undelivered.extend(future.result())
            except Exception:
                # A bug must not lose these records: they are reported and come back.
                logger.exception("unexpected error sending dead letters")
                undelivered.extend(letters[index] for index in batch)
        undelivered_ids = {id(letter) for letter in undelivered}
        delivered = [letter for letter in letters if id(letter) not in undelivered_ids]
        return DeliveryOutcome(delivered, undelivered)

    def _send_batch(
        self, client: Any, entries: Sequence[tuple[DeadLetter, str]]
    ) -> list[DeadLetter]:
        pending = {str(position): entry for position, entry in enumerate(entries)}
        for attempt in range(DEAD_LETTER_SEND_ATTEMPTS):
            if not self._deadline.allows():
                break
            try:
                response = client.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {"Id": entry_id, "MessageBody": body}
                        for entry_id, (_, body) in pending.items()
                    ],
                )
            except (ClientError, BotoCoreError) as error:
                _log_json(
                    logging.ERROR,
                    "dead-letter queue unreachable; records reported as batch item failures",
                    error=str(error),
                    sequence_numbers=[
                        letter.source.sequence_number for letter, _ in pending.values()
                    ],
                )
                break
            succeeded = {entry["Id"] for entry in response.get("Successful", [])}
            for failure in response.get("Failed", []):
                _log_json(
                    logging.WARNING,
                    "dead-letter message refused",
                    code=failure.get("Code"),
                    detail=failure.get("Message"),
                    sender_fault=failure.get("SenderFault"),
                )
            pending = {key: entry for key, entry in pending.items() if key not in succeeded}
            if not pending:
                break
            delay = random.uniform(0, BACKOFF_BASE_SECONDS * 2 ** (attempt + 1))
            if not self._deadline.allows(delay):
                break
            self._sleep(delay)
        return [letter for letter, _ in pending.values()]


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    written: list[PendingItem]
    unwritten: list[PendingItem]


def _is_retryable(error: Exception) -> bool:
    if isinstance(error, (BotoConnectionError, HTTPClientError)):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in RETRYABLE_DYNAMODB_ERROR_CODES or status >= 500
    return False


class BatchWriter:
    """Writes items with BatchWriteItem, 25 per request, several requests in flight.

    Throttling and UnprocessedItems are retried with exponential backoff and full jitter until
    the deadline; whatever is still unwritten then is handed back, never raised.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        executor: ThreadPoolExecutor,
        deadline: Deadline,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._executor = executor
        self._deadline = deadline
        self._sleep = sleep
        self._jitter = jitter

    def submit(
        self, items: Sequence[PendingItem]
    ) -> list[tuple[list[PendingItem], Future[WriteOutcome]]]:
        chunks = [
            list(items[start : start + BATCH_WRITE_MAX_ITEMS])
            for start in range(0, len(items), BATCH_WRITE_MAX_ITEMS)
        ]
        return [(chunk, self._executor.submit(self._write_chunk, chunk)) for chunk in chunks]

    def collect(
        self, submitted: Sequence[tuple[list[PendingItem], Future[WriteOutcome]]]
    ) -> WriteOutcome:
        written: list[PendingItem] = []
        unwritten: list[PendingItem] = []
        for chunk, future in submitted:
            try:
                outcome = future.result()
            except Exception:
                # A bug must not lose the other chunks' progress; these records will be retried.
                logger.exception("unexpected error writing a chunk")
                outcome = WriteOutcome([], chunk)
            written.extend(outcome.written)
            unwritten.extend(outcome.unwritten)
        return WriteOutcome(written, unwritten)

    def _write_chunk(self, chunk: list[PendingItem]) -> WriteOutcome:
        remaining = list(chunk)
        attempt = 0
        while remaining and self._deadline.allows():
            try:
                response = self._client.batch_write_item(
                    RequestItems={
                        self._table_name: [
                            {"PutRequest": {"Item": item.item}} for item in remaining
                        ]
                    }
                )
            except (ClientError, BotoCoreError) as error:
                if not _is_retryable(error):
                    _log_json(
                        logging.ERROR,
                        "DynamoDB refused the write; records reported as batch item failures",
                        error=str(error),
                        table=self._table_name,
                        sequence_numbers=sorted(
                            {number for item in remaining for number in item.sequence_numbers},
                            key=_sequence_as_int,
                        ),
                    )
                    break
            else:
                unprocessed = response.get("UnprocessedItems", {}).get(self._table_name, [])
                unprocessed_keys = {
                    _item_key(request["PutRequest"]["Item"]) for request in unprocessed
                }
                remaining = [item for item in remaining if item.key in unprocessed_keys]
                if not remaining:
                    break
            attempt += 1
            delay = self._jitter(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))
            if not self._deadline.allows(delay):
                break
            self._sleep(delay)
        remaining_keys = {item.key for item in remaining}
        return WriteOutcome(
            written=[item for item in chunk if item.key not in remaining_keys],
            unwritten=remaining,
        )


def _item_key(item: DynamoDBItem) -> tuple[str, str]:
    return (item["ticker"]["S"], item["last_refreshed"]["S"])


# --------------------------------------------------------------------------------------------
# Handler
# --------------------------------------------------------------------------------------------


def _apply_log_level() -> None:
    level = logging.getLevelName(os.environ.get(LOG_LEVEL_ENV, "INFO").strip().upper())
    logger.setLevel(level if isinstance(level, int) else logging.INFO)


def _table_name() -> str:
    table_name = os.environ.get(TABLE_NAME_ENV, "").strip()
    if not table_name:
        raise ConfigurationError(
            f"{TABLE_NAME_ENV} is not set: set it to the name of the DynamoDB table the "
            "consumer writes ticks to"
        )
    return table_name


def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    started = time.monotonic()
    _apply_log_level()
    table_name = _table_name()
    queue_url = os.environ.get(DEAD_LETTER_QUEUE_URL_ENV, "").strip() or None
    deadline = Deadline.for_invocation(context, started)
    records = event.get("Records") or []
    plan = plan_batch(records)

    executor = get_executor()
    writer = (
        BatchWriter(get_dynamodb_client(), table_name, executor, deadline) if plan.items else None
    )
    submitted = writer.submit(plan.items) if writer else []
    delivery = DeadLetterSink(queue_url, get_sqs_client, executor, deadline).deliver(
        plan.dead_letters
    )
    writes = writer.collect(submitted) if writer else WriteOutcome([], [])

    failed_sequence_numbers = {
        sequence_number for item in writes.unwritten for sequence_number in item.sequence_numbers
    }
    failed_sequence_numbers.update(
        letter.source.sequence_number
        for letter in delivery.undelivered
        if letter.source.sequence_number is not None
    )
    if writes.unwritten:
        _log_json(
            logging.WARNING,
            "items left unwritten; their records are reported as batch item failures",
            items=len(writes.unwritten),
            seconds_left=round(deadline.remaining_seconds(), 3),
        )
    unreportable = [
        letter.reason for letter in delivery.undelivered if letter.source.sequence_number is None
    ]
    if unreportable:
        # Lambda never sends such a record; if it ever does, the log is all that is left.
        _log_json(logging.ERROR, "record without a sequence number lost", reasons=unreportable)
    summary: dict[str, Any] = {
        "message": "batch processed",
        "records": plan.record_count,
        "written": len(writes.written),
        "duplicates": plan.duplicates,
        "dead_lettered": len(delivery.delivered),
        "failed": len(failed_sequence_numbers),
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
    }
    if plan.aggregated:
        summary["user_records"] = plan.user_record_count
    print(json.dumps(summary), flush=True)
    return {
        "batchItemFailures": [
            {"itemIdentifier": sequence_number}
            for sequence_number in sorted(failed_sequence_numbers, key=_sequence_as_int)
        ]
    }
