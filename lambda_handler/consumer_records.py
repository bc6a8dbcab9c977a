"""Kinesis event reading: the event's records -> user records -> prepared items or dead letters.

Pure: no I/O. Each Kinesis record, and each user record of a KPL aggregate, goes through its own
barrier: whatever goes wrong while decoding, parsing, validating or serialising it turns that one
record into a dead letter with a reason; it can never fail its neighbours.

``WritePlanner`` then groups the prepared items, in stream order, into BatchWriteItem chunks of
distinct keys, handing each chunk over as soon as it is full so writes start while the rest of
the batch is still being read.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import kpl_aggregate
from consumer_payloads import BadRecord, DynamoDBItem, Tick, item_attributes, parse_item

BATCH_WRITE_MAX_ITEMS = 25  # BatchWriteItem's hard limit per request
# The values below are made once per record and never changed after: slotted dataclasses,
# not frozen ones, because a frozen one costs about three times as much to make.
REASON_MAX_CHARACTERS = 1_000


@dataclass(slots=True)
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
        return (sequence_as_int(self.sequence_number), self.user_record_index or 0)


NO_SOURCE = SourceRecord(None, None, None, None)


@dataclass(slots=True)
class Payload:
    """The bytes of one (user) record, with their origin."""

    source: SourceRecord
    data: bytes


@dataclass(slots=True)
class DeadLetter:
    """A record that can never be written, kept for a human to look at."""

    reason: str
    source: SourceRecord
    data_base64: str


@dataclass(slots=True)
class PreparedTick:
    """One user record turned into its item, ready to be deduplicated and written."""

    key: tuple[str, str]
    item: DynamoDBItem
    source: SourceRecord


def sequence_as_int(sequence_number: str | None) -> int:
    try:
        return int(sequence_number) if sequence_number is not None else -1
    except ValueError:  # not digits, or more digits than int() accepts from text
        return -1


def unexpected(error: BaseException) -> str:
    """The reason for a failure nobody foresaw, short enough for a message and a log line."""
    try:
        detail = str(error)
    except Exception:
        detail = "(no description)"
    return f"unexpected error: {type(error).__name__}: {detail}"[:REASON_MAX_CHARACTERS]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------------------------
# The event
# --------------------------------------------------------------------------------------------


def event_records(event: object) -> tuple[Sequence[object], str | None]:
    """The event's Records, or what makes it something other than a Kinesis event."""
    if not isinstance(event, Mapping):
        return [], f"the event is {_kind(event)}, not a JSON object"
    records = event.get("Records")
    if records is None:
        return [], "the event has no Records"
    if not isinstance(records, (list, tuple)):
        return [], f"the event's Records is {_kind(records)}, not a list"
    return records, None


def _kind(value: object) -> str:
    return "null" if value is None else f"a {type(value).__name__}"


# --------------------------------------------------------------------------------------------
# One Kinesis record -> its user records
# --------------------------------------------------------------------------------------------


def read_kinesis_record(record: object) -> list[Payload | DeadLetter]:
    """One entry of the event's Records -> one entry per user record it holds; never raises."""
    try:
        return _read_kinesis_record(record)
    except Exception as error:
        return [DeadLetter(unexpected(error), _source_or_none(record), _raw_data(record))]


def _read_kinesis_record(record: object) -> list[Payload | DeadLetter]:
    if not isinstance(record, Mapping):
        reason = f"event record is {_kind(record)}, not an object"
        return [DeadLetter(reason + _AS_JSON, NO_SOURCE, _json_b64(record))]
    source = _source(record)
    kinesis = record.get("kinesis")
    encoded = kinesis.get("data") if isinstance(kinesis, Mapping) else None
    if not isinstance(encoded, str):
        return [DeadLetter("record has no kinesis.data" + _AS_JSON, source, _json_b64(record))]
    if source.sequence_number is None:
        # Lambda always sends one; without it the record could never be reported for a retry.
        reason = "record has no kinesis.sequenceNumber (a string of digits)"
        return [DeadLetter(reason, source, encoded)]
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return [DeadLetter("kinesis.data is not valid base64", source, encoded)]
    if not kpl_aggregate.is_aggregated(blob):
        return [Payload(source, blob)]
    try:
        user_records = kpl_aggregate.unpack(blob)
    except kpl_aggregate.AggregateError as error:
        return [DeadLetter(f"bad KPL aggregate: {error}", source, encoded)]
    units: list[Payload | DeadLetter] = []
    for index, user_record in enumerate(user_records):
        user_source = SourceRecord(
            sequence_number=source.sequence_number,
            partition_key=user_record.partition_key,
            event_source_arn=source.event_source_arn,
            approximate_arrival=source.approximate_arrival,
            user_record_index=index,
        )
        if isinstance(user_record, kpl_aggregate.BrokenUserRecord):
            reason = f"bad KPL user record: {user_record.reason}"
            units.append(DeadLetter(reason, user_source, _b64(user_record.data)))
        else:
            units.append(Payload(user_source, user_record.data))
    return units


_AS_JSON = " (data_base64 holds the event record as JSON)"


def _source(record: Mapping[str, Any]) -> SourceRecord:
    kinesis = record.get("kinesis")
    if not isinstance(kinesis, Mapping):
        kinesis = {}
    return SourceRecord(
        sequence_number=_sequence_number(kinesis.get("sequenceNumber")),
        partition_key=_optional_str(kinesis.get("partitionKey")),
        event_source_arn=_optional_str(record.get("eventSourceARN")),
        approximate_arrival=_arrival(kinesis.get("approximateArrivalTimestamp")),
    )


def _arrival(value: object) -> float | int | None:
    """Epoch seconds, when they are a plausible number (a huge int cannot even be printed)."""
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**15:
        return value
    return None


def _source_or_none(record: object) -> SourceRecord:
    try:
        return _source(record) if isinstance(record, Mapping) else NO_SOURCE
    except Exception:
        return NO_SOURCE


def _sequence_number(value: object) -> str | None:
    """A Kinesis sequence number: decimal digits (about 56 of them), nothing else."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 128:
        return value
    return None


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _raw_data(record: object) -> str:
    """Whatever can be kept of a record that failed in an unforeseen way."""
    try:
        kinesis = record.get("kinesis") if isinstance(record, Mapping) else None
        encoded = kinesis.get("data") if isinstance(kinesis, Mapping) else None
        return encoded if isinstance(encoded, str) else _json_b64(record)
    except Exception:
        return ""


def _json_b64(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=True, default=repr)
    except Exception:  # RecursionError on absurd nesting, or a repr that raises
        return ""
    return _b64(text.encode("ascii"))


# --------------------------------------------------------------------------------------------
# One user record -> its item
# --------------------------------------------------------------------------------------------


def prepare(payload: Payload) -> PreparedTick | DeadLetter:
    """A user record's item, or its dead letter; never raises."""
    try:
        parsed = parse_item(payload.data, payload.source.sequence_number)
        if isinstance(parsed, BadRecord):
            return DeadLetter(parsed.reason, payload.source, _b64(payload.data))
        tick, item = parsed
        return PreparedTick(tick.key, item, payload.source)
    except Exception as error:
        return DeadLetter(unexpected(error), payload.source, _b64(payload.data))


def read_units(records: Iterable[object]) -> Iterable[PreparedTick | DeadLetter]:
    """Every user record of every Kinesis record, in stream order, as an item or a dead letter."""
    for record in records:
        for unit in read_kinesis_record(record):
            yield prepare(unit) if isinstance(unit, Payload) else unit


# --------------------------------------------------------------------------------------------
# Deduplication and chunking
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PendingItem:
    """One item to write, and every user record whose fate depends on it."""

    key: tuple[str, str]
    item: DynamoDBItem
    source: SourceRecord
    sequence_numbers: set[str] = field(default_factory=set)
    user_records: int = 0
    # The item this one must not overtake: an earlier write of the same key already in flight.
    after: PendingItem | None = None

    def absorb(self, prepared: PreparedTick) -> None:
        """Fold another user record of the same key in; the later one in stream order wins."""
        if prepared.source.order > self.source.order:
            self.item, self.source = prepared.item, prepared.source
        self._count(prepared.source)

    def _count(self, source: SourceRecord) -> None:
        self.user_records += 1
        if source.sequence_number is not None:
            self.sequence_numbers.add(source.sequence_number)

    @classmethod
    def first(cls, prepared: PreparedTick, after: PendingItem | None = None) -> PendingItem:
        pending = cls(prepared.key, prepared.item, prepared.source, after=after)
        pending._count(prepared.source)
        return pending


class WritePlanner:
    """Distinct-key chunks of at most 25 items, in stream order, handed over as they fill.

    BatchWriteItem refuses a request holding the same key twice, and the latest tick is the one
    a sequential consumer would have left in the table. A duplicate of a key not yet handed over
    is folded into it. A newer duplicate of a key already handed over becomes a second write of
    that key, held back (``held``) until the first one has finished, so it cannot be overtaken.
    """

    def __init__(
        self,
        hand_over: Callable[[list[PendingItem]], None],
        chunk_size: int = BATCH_WRITE_MAX_ITEMS,
    ) -> None:
        self._hand_over = hand_over
        self._chunk_size = chunk_size
        self._open: dict[tuple[str, str], PendingItem] = {}
        self._handed_over: dict[tuple[str, str], PendingItem] = {}
        self._held: dict[tuple[str, str], PendingItem] = {}

    def add(self, prepared: PreparedTick) -> None:
        key = prepared.key
        pending = self._open.get(key) or self._held.get(key)
        if pending is not None:
            pending.absorb(prepared)
            return
        earlier = self._handed_over.get(key)
        if earlier is None:
            self._open[key] = PendingItem.first(prepared)
            if len(self._open) >= self._chunk_size:
                self.flush()
        elif prepared.source.order > earlier.source.order:
            self._held[key] = PendingItem.first(prepared, after=earlier)
        else:
            earlier.absorb(prepared)  # an older duplicate: the write in flight already wins

    def flush(self) -> None:
        """Hand over what is open (a partial chunk)."""
        if self._open:
            chunk = list(self._open.values())
            self._handed_over.update(self._open)
            self._open = {}
            self._hand_over(chunk)

    def held(self) -> list[PendingItem]:
        """Second writes of keys already handed over; each waits for its ``after``."""
        return list(self._held.values())


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Everything the handler will do with a batch, decided without any I/O (tests, benchmarks)."""

    items: list[PendingItem]
    dead_letters: list[DeadLetter]
    record_count: int
    user_record_count: int


def plan_batch(records: Sequence[object]) -> BatchPlan:
    items: list[PendingItem] = []
    dead_letters: list[DeadLetter] = []
    planner = WritePlanner(items.extend, chunk_size=sys.maxsize)
    user_records = 0
    for unit in read_units(records):
        user_records += 1
        if isinstance(unit, DeadLetter):
            dead_letters.append(unit)
        else:
            planner.add(unit)
    planner.flush()
    return BatchPlan(items, dead_letters, len(records), user_records)


def deduplicate(ticks: Sequence[tuple[Tick, SourceRecord]]) -> tuple[list[PendingItem], int]:
    """One item per (ticker, last_refreshed), the latest in stream order; and how many folded."""
    items: list[PendingItem] = []
    planner = WritePlanner(items.extend, chunk_size=sys.maxsize)
    for tick, source in ticks:
        planner.add(PreparedTick(tick.key, item_attributes(tick, source.sequence_number), source))
    planner.flush()
    return items, len(ticks) - len(items)
