"""The accounting invariant, over arbitrary bytes, arbitrary JSON and arbitrary KPL aggregates.

For every invocation: user records in = written + duplicates + dead-lettered + failed (reported
as batch item failures), the handler never raises, every good tick is in the table, every
dead letter is in the queue, and every reported sequence number is one of the batch's.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import Any

import boto3
import consumer_dead_letters as dead_letters
import consumer_records as records
from consumer_events import (
    aggregate_message,
    flat_tick,
    frame_aggregate,
    kinesis_record,
    numbered_tick,
    sequence_number,
    table_items,
    to_json_bytes,
)
from hostile_records import BROKEN_AGGREGATES, HOSTILE_PAYLOADS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.aws_state import TICKS_TABLE

# --- strategies ------------------------------------------------------------------------------

TICK_FIELDS = [
    "from_currency_code",
    "from_currency_name",
    "to_currency_code",
    "to_currency_name",
    "exchange_rate",
    "last_refreshed",
    "time_zone",
    "bid_price",
    "ask_price",
]
NASTY_TEXT = [
    "\ud800",
    "Bit\udfffcoin",
    "1e99999999999999999999",
    "-1e-99999999999999999999",
    "9" * 60,
    "NaN",
    "-Infinity",
    "0",
    "-",
    "",
    " ",
    "\x00",
    "\x1b]0;owned\x07",
    "2026-11-24T14:05:01+99:00",
    "0000-00-00 00:00:00",
    "9999-12-31 23:59:59-01:00",
    "BTC",
    "USD",
    "2026-11-24 14:05:01",
    "37021.5",
]
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(NASTY_TEXT)
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=12,
)
tick_like = st.fixed_dictionaries(
    {}, optional={name: json_values | st.sampled_from(NASTY_TEXT) for name in TICK_FIELDS}
)
raw_numbers = st.sampled_from(
    [
        "1e99999999999999999999",
        "-1e99999999999999999999",
        "1e-99999999999999999999",
        "1" * 45,
        "NaN",
        "Infinity",
        "-Infinity",
        "0.0",
        "1E+125",
        "1E-130",
        "123456789" * 600,
    ]
)


@st.composite
def raw_number_ticks(draw: st.DrawFn) -> bytes:
    """A tick with one numeric field written as raw JSON number text (no string quotes)."""
    name = draw(st.sampled_from(["exchange_rate", "bid_price", "ask_price", "volume"]))
    document = json.dumps(flat_tick(**{name: None}))
    return f'{document[:-1]}, "{name}": {draw(raw_numbers)}}}'.encode()


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: lone surrogates travel as \ud800 escapes


hostile_payloads = st.one_of(
    st.binary(max_size=300),
    json_values.map(_json_bytes),
    tick_like.map(_json_bytes),
    tick_like.map(lambda fields: _json_bytes({"Realtime Currency Exchange Rate": fields})),
    raw_number_ticks(),
    st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.sampled_from([payload for _, payload, _ in HOSTILE_PAYLOADS]),
)


@dataclass
class Batch:
    """An event under construction, and what it must lead to."""

    records: list[Any] = field(default_factory=list)
    good_keys: set[tuple[str, str]] = field(default_factory=set)
    next_offset: Iterator[int] = field(default_factory=itertools.count)
    next_good: Iterator[int] = field(default_factory=itertools.count)

    def good_tick(self, form: str) -> bytes:
        """A valid tick whose key no hostile payload can produce (to-currency G<n>)."""
        index = next(self.next_good)
        flat = flat_tick(to_currency_code=f"G{index}", exchange_rate=f"{index + 1}.5")
        self.good_keys.add((f"BTCG{index}", flat["last_refreshed"]))
        document = flat if form == "flat" else numbered_tick(flat, wrapped=form == "wrapped")
        return to_json_bytes(document)


forms = st.sampled_from(["flat", "numbered", "wrapped"])
user_record = st.one_of(
    forms.map(lambda form: ("good", form)), hostile_payloads.map(lambda data: ("bad", data))
)


def _materialise(batch: Batch, drawn: tuple[str, Any]) -> bytes:
    kind, value = drawn
    return batch.good_tick(value) if kind == "good" else value


def _break(message: bytes, how: str, position: int) -> bytes:
    if how == "flip" and message:
        flipped = bytearray(message)
        flipped[position % len(flipped)] ^= 0xFF
        return frame_aggregate(bytes(flipped))
    if how == "truncate":
        framed = frame_aggregate(message)
        return framed[: position % len(framed)]
    if how == "bad-checksum":
        framed = bytearray(frame_aggregate(message))
        framed[-1] ^= 0x01
        return bytes(framed)
    return frame_aggregate(message[: position % (len(message) + 1)])  # cut the protobuf


kinesis_entries = st.one_of(
    st.tuples(st.just("plain"), user_record),
    st.tuples(
        st.just("aggregate"),
        st.lists(st.tuples(st.text(max_size=8), user_record), min_size=1, max_size=6),
    ),
    st.tuples(
        st.just("broken-aggregate"),
        st.tuples(
            st.lists(st.tuples(st.text(max_size=8), user_record), max_size=4),
            st.sampled_from(["flip", "truncate", "bad-checksum", "cut"]),
            st.integers(0, 10_000),
        ),
    ),
    st.tuples(st.just("framed-garbage"), st.binary(max_size=200)),
    st.tuples(st.just("known-broken"), st.sampled_from([blob for _, blob, _ in BROKEN_AGGREGATES])),
    st.tuples(st.just("shape"), json_values),
)


def build_batch(entries: list[tuple[str, Any]]) -> Batch:
    batch = Batch()
    for kind, value in entries:
        offset = next(batch.next_offset)
        if kind == "plain":
            batch.records.append(kinesis_record(_materialise(batch, value), offset))
        elif kind == "aggregate":
            users = [(key, _materialise(batch, drawn)) for key, drawn in value]
            blob = frame_aggregate(aggregate_message(users))
            batch.records.append(kinesis_record(blob, offset))
        elif kind == "broken-aggregate":
            users_drawn, how, position = value
            # Good ticks inside a broken aggregate may or may not survive: not tracked.
            shadow = Batch()
            users = [(key, _materialise(shadow, drawn)) for key, drawn in users_drawn]
            blob = _break(aggregate_message(users), how, position)
            batch.records.append(kinesis_record(blob, offset))
        elif kind in ("framed-garbage", "known-broken"):
            blob = frame_aggregate(value) if kind == "framed-garbage" else value
            batch.records.append(kinesis_record(blob, offset))
        else:
            batch.records.append(value)  # anything at all where a record should be
    return batch


batches = st.lists(kinesis_entries, max_size=25).map(build_batch)


# --- the pure part: many examples, no AWS ----------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(batch=batches)
def test_every_user_record_is_planned_exactly_once(batch: Batch) -> None:
    plan = records.plan_batch(batch.records)

    folded = sum(item.user_records for item in plan.items)
    assert plan.user_record_count == folded + len(plan.dead_letters)
    assert batch.good_keys <= {item.key for item in plan.items}
    offsets = {sequence_number(offset) for offset in range(len(batch.records))}
    for item in plan.items:
        assert item.sequence_numbers and item.sequence_numbers <= offsets
        for name, value in item.item.items():
            [(kind, text)] = value.items()
            name.encode("utf-8")
            text.encode("utf-8")
            if kind == "N":
                assert Decimal(text).is_finite()
    for letter in plan.dead_letters:
        assert letter.reason
        body = dead_letters.to_json(dead_letters.dead_letter_fields(letter))
        assert len(body) <= dead_letters.SQS_MESSAGE_MAX_BYTES
        json.loads(body)


# --- the handler on moto: table, queue and summary agree -------------------------------------

_names = itertools.count()


@contextlib.contextmanager
def _environment(**variables: str | None) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    for name, value in variables.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _queue_bodies(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300
        ).get("Messages", [])
        if not received:
            return bodies
        bodies.extend(json.loads(message["Body"]) for message in received)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=batches, queue=st.sampled_from(["queue", "no-queue", "unreachable-queue"]))
def test_accounting_holds_for_every_invocation(
    consumer: ModuleType, aws: None, batch: Batch, queue: str
) -> None:
    number = next(_names)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    table = f"accounting_{number}"
    dynamodb.create_table(TableName=table, **TICKS_TABLE)
    queue_url = None
    if queue != "no-queue":
        queue_url = sqs.create_queue(QueueName=f"accounting-{number}")["QueueUrl"]
    if queue == "unreachable-queue":
        sqs.delete_queue(QueueUrl=queue_url)
    consumer.reset_clients()
    output = io.StringIO()

    with (
        _environment(
            DYNAMO_TABLE_NAME=table, DEAD_LETTER_QUEUE_URL=queue_url, LOG_LEVEL="CRITICAL"
        ),
        contextlib.redirect_stdout(output),
    ):
        result = consumer.handler({"Records": batch.records}, None)

    [summary_line] = output.getvalue().splitlines()
    summary = json.loads(summary_line)
    assert summary["records"] == len(batch.records)
    assert summary["user_records"] == (
        summary["written"] + summary["duplicates"] + summary["dead_lettered"] + summary["failed"]
    )
    reported = [failure["itemIdentifier"] for failure in result["batchItemFailures"]]
    assert len(reported) == len(set(reported)) == summary["batch_item_failures"]
    offsets = {sequence_number(offset) for offset in range(len(batch.records))}
    assert set(reported) <= offsets
    stored = table_items(table)
    assert batch.good_keys <= set(stored)
    assert len(stored) <= summary["written"]
    # moto writes everything, so only dead letters can fail, and only when the queue is gone.
    plan = records.plan_batch(batch.records)
    assert summary["written"] + summary["duplicates"] == sum(i.user_records for i in plan.items)
    identified = {
        letter.source.sequence_number
        for letter in plan.dead_letters
        if letter.source.sequence_number is not None
    }
    if queue == "unreachable-queue":
        assert set(reported) == identified
        assert summary["failed"] == len(
            [letter for letter in plan.dead_letters if letter.source.sequence_number]
        )
    else:
        assert reported == []
        assert summary["dead_lettered"] == len(plan.dead_letters)
    if queue == "queue":
        assert len(_queue_bodies(sqs, queue_url)) == summary["dead_lettered"]
