"""Hostile records: each one becomes a dead letter with its reason, never a crash or a loss.

Every case is also run inside a batch of good ticks (plain and inside one KPL aggregate with
them), which must all be written.
"""

from __future__ import annotations

import base64
import json
import logging
from types import ModuleType
from typing import Any

import consumer_payloads as payloads
import pytest
from consumer_events import (
    aggregate_message,
    encode_aggregate,
    flat_tick,
    frame_aggregate,
    kinesis_record,
    queue_messages,
    sequence_number,
    table_items,
    to_json_bytes,
)
from hostile_records import (
    BROKEN_AGGREGATES,
    HOSTILE_PAYLOADS,
    HUGE_EXPONENT,
    field_bytes,
    good,
    with_raw,
)

NO_FAILURES: dict[str, list[Any]] = {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(payload, reason) for _, payload, reason in HOSTILE_PAYLOADS],
    ids=[name for name, _, _ in HOSTILE_PAYLOADS],
)
def test_hostile_payload_is_a_bad_record_with_its_reason(payload: bytes, reason: str) -> None:
    parsed = payloads.parse_payload(payload)

    assert isinstance(parsed, payloads.BadRecord)
    assert reason in parsed.reason


def test_unusable_numbers_in_fields_the_tick_does_not_use_are_ignored() -> None:
    payload = with_raw("volume", HUGE_EXPONENT)

    parsed = payloads.parse_payload(payload)

    assert isinstance(parsed, payloads.Tick)


def _letters_by_sequence(queue_url: str) -> dict[tuple[str, int | None], dict[str, Any]]:
    return {
        (message["sequence_number"], message.get("user_record_index")): message
        for message in queue_messages(queue_url)
    }


def test_every_hostile_payload_is_dead_lettered_and_every_good_tick_written(
    consumer: ModuleType, table: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    records = []
    for offset, (_, payload, _) in enumerate(HOSTILE_PAYLOADS):
        records.append(kinesis_record(good(offset), 2 * offset))
        records.append(kinesis_record(payload, 2 * offset + 1))

    assert consumer.handler({"Records": records}, None) == NO_FAILURES

    assert len(table_items(table)) == len(HOSTILE_PAYLOADS)
    letters = _letters_by_sequence(queue_url)
    assert len(letters) == len(HOSTILE_PAYLOADS)
    for offset, (name, payload, reason) in enumerate(HOSTILE_PAYLOADS):
        letter = letters[(sequence_number(2 * offset + 1), None)]
        assert reason in letter["reason"], name
        if not letter.get("truncated"):
            assert base64.b64decode(letter["data_base64"]) == payload, name
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["written"] == summary["dead_lettered"] == len(HOSTILE_PAYLOADS)


def test_hostile_user_records_inside_one_aggregate_do_not_fail_their_neighbours(
    consumer: ModuleType, table: str, queue_url: str
) -> None:
    user_records: list[tuple[str, bytes]] = []
    for offset, (_, payload, _) in enumerate(HOSTILE_PAYLOADS):
        user_records += [("GOOD", good(offset)), ("BAD", payload)]
    aggregate = encode_aggregate(user_records)

    assert consumer.handler({"Records": [kinesis_record(aggregate, 3)]}, None) == NO_FAILURES

    assert len(table_items(table)) == len(HOSTILE_PAYLOADS)
    letters = _letters_by_sequence(queue_url)
    assert sorted(index for _, index in letters) == list(range(1, 2 * len(HOSTILE_PAYLOADS), 2))
    for offset, (name, _, reason) in enumerate(HOSTILE_PAYLOADS):
        letter = letters[(sequence_number(3), 2 * offset + 1)]
        assert reason in letter["reason"], name
        assert letter["partition_key"] == "BAD"


def test_an_unforeseen_error_in_one_record_is_that_records_dead_letter(
    consumer: ModuleType, table: str, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = payloads.item_attributes

    def explode_on_ethereum(tick: payloads.Tick, sequence: str | None) -> Any:
        if tick.from_currency_code == "ETH":
            "\ud800".encode()
        return real(tick, sequence)

    monkeypatch.setattr(payloads, "item_attributes", explode_on_ethereum)
    poisoned = to_json_bytes(flat_tick(from_currency_code="ETH"))
    aggregate = encode_aggregate([("A", good(1)), ("B", poisoned), ("C", good(2))])
    event = {"Records": [kinesis_record(aggregate, 0), kinesis_record(good(3), 1)]}

    assert consumer.handler(event, None) == NO_FAILURES

    assert len(table_items(table)) == 3
    [letter] = queue_messages(queue_url)
    assert letter["reason"].startswith("unexpected error: UnicodeEncodeError: 'utf-8' codec")
    assert (letter["sequence_number"], letter["user_record_index"]) == (sequence_number(0), 1)
    assert base64.b64decode(letter["data_base64"]) == poisoned


# --- KPL aggregates that yield no user record, or broken user records ------------------------


@pytest.mark.parametrize(
    ("blob", "reason"),
    [(blob, reason) for _, blob, reason in BROKEN_AGGREGATES],
    ids=[name for name, _, _ in BROKEN_AGGREGATES],
)
def test_aggregate_without_a_readable_user_record_is_dead_lettered_whole(
    consumer: ModuleType, table: str, queue_url: str, blob: bytes, reason: str
) -> None:
    event = {"Records": [kinesis_record(blob, 0), kinesis_record(good(1), 1)]}

    assert consumer.handler(event, None) == NO_FAILURES

    assert len(table_items(table)) == 1
    [letter] = queue_messages(queue_url)
    assert reason in letter["reason"]
    assert letter["sequence_number"] == sequence_number(0)
    assert base64.b64decode(letter["data_base64"]) == blob


def test_a_broken_user_record_is_dead_lettered_alone(
    consumer: ModuleType, table: str, queue_url: str
) -> None:
    message = aggregate_message([("GOOD", good(1)), ("GOOD", good(2))])
    orphan = field_bytes(
        3, b"\x08\x07" + field_bytes(3, b"orphan data")
    )  # key index 7: no such key
    blob = frame_aggregate(message + orphan)

    assert consumer.handler({"Records": [kinesis_record(blob, 4)]}, None) == NO_FAILURES

    assert len(table_items(table)) == 2
    [letter] = queue_messages(queue_url)
    assert letter["reason"] == (
        "bad KPL user record: partition_key_index outside the partition key table"
    )
    assert letter["user_record_index"] == 2
    assert base64.b64decode(letter["data_base64"]) == b"orphan data"


# --- events that are not Kinesis events ------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ([kinesis_record(b"{}", 0)], "the event is a list, not a JSON object"),
        (None, "the event is null, not a JSON object"),
        ("Records", "the event is a str, not a JSON object"),
        ({}, "the event has no Records"),
        ({"records": []}, "the event has no Records"),
        ({"Records": "x"}, "the event's Records is a str, not a list"),
        ({"Records": {"0": {}}}, "the event's Records is a dict, not a list"),
    ],
    ids=["list", "null", "string", "empty", "lower-case", "records-string", "records-object"],
)
def test_an_event_that_is_not_a_kinesis_event_is_logged_and_answered(
    consumer: ModuleType,
    table: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    event: Any,
    problem: str,
) -> None:
    assert consumer.handler(event, None) == NO_FAILURES

    [error] = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.ERROR]
    assert error["message"] == "not a Kinesis event"
    assert error["problem"] == problem
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (summary["records"], summary["event_error"]) == (0, problem)


def _without(record: dict[str, Any], *path: str) -> dict[str, Any]:
    target = record
    for name in path[:-1]:
        target = target[name]
    del target[path[-1]]
    return record


def _with(record: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    target = record
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return record


def test_records_of_the_wrong_shape_are_dead_lettered_and_the_rest_written(
    consumer: ModuleType, table: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shapes: list[tuple[Any, str | None, str]] = [
        ("a string", None, "event record is a str, not an object"),
        ([1, 2], None, "event record is a list, not an object"),
        (None, None, "event record is null, not an object"),
        ({"eventSource": "aws:kinesis"}, None, "record has no kinesis.data"),
        ({"kinesis": "data"}, None, "record has no kinesis.data"),
        (
            _without(kinesis_record(good(0), 10), "kinesis", "data"),
            "10",
            "record has no kinesis.data",
        ),
        (
            _with(kinesis_record(good(0), 11), 12345, "kinesis", "data"),
            "11",
            "record has no kinesis.data",
        ),
        (
            _with(kinesis_record(good(0), 12), None, "kinesis", "data"),
            "12",
            "record has no kinesis.data",
        ),
        (
            _with(kinesis_record(b"", 13), "é", "kinesis", "data"),
            "13",
            "kinesis.data is not valid base64",
        ),
        (
            _without(kinesis_record(good(0), 14), "kinesis", "sequenceNumber"),
            None,
            "record has no kinesis.sequenceNumber",
        ),
        (
            _with(kinesis_record(good(0), 15), 15, "kinesis", "sequenceNumber"),
            None,
            "record has no kinesis.sequenceNumber",
        ),
        *[
            (
                _with(kinesis_record(good(0), 16), bad, "kinesis", "sequenceNumber"),
                None,
                "record has no kinesis.sequenceNumber (a string of digits)",
            )
            for bad in ("", "12a", "\ud800", "\u0661\u0662", "1" * 129)
        ],
    ]
    odd_but_good = [
        _with(kinesis_record(good(20), 20), {"x": 1}, "eventSourceARN"),
        _with(kinesis_record(good(21), 21), 10**5000, "kinesis", "approximateArrivalTimestamp"),
        _with(kinesis_record(good(22), 22), float("nan"), "kinesis", "approximateArrivalTimestamp"),
        _with(kinesis_record(good(23), 23), "\ud800\x1b[2J", "kinesis", "partitionKey"),
    ]
    records = [record for record, _, _ in shapes] + odd_but_good

    assert consumer.handler({"Records": records}, None) == NO_FAILURES

    assert len(table_items(table)) == len(odd_but_good)
    letters = queue_messages(queue_url)
    assert len(letters) == len(shapes)
    expected = sorted(
        ("" if offset is None else sequence_number(int(offset)), reason)
        for _, offset, reason in shapes
    )
    found = sorted((letter["sequence_number"] or "", letter["reason"]) for letter in letters)
    for (expected_sequence, reason), (sequence, found_reason) in zip(expected, found, strict=True):
        assert expected_sequence == sequence
        assert found_reason.startswith(reason)
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["records"] == summary["user_records"] == len(records)
    assert (summary["written"], summary["dead_lettered"]) == (len(odd_but_good), len(shapes))


def test_a_record_without_data_keeps_the_event_record_itself(
    consumer: ModuleType, table: str, queue_url: str
) -> None:
    record = _without(kinesis_record(good(0), 5), "kinesis", "data")

    assert consumer.handler({"Records": [record]}, None) == NO_FAILURES

    [letter] = queue_messages(queue_url)
    assert json.loads(base64.b64decode(letter["data_base64"])) == record


def test_unreachable_queue_reports_identified_records_and_logs_the_unidentified(
    consumer: ModuleType,
    table: str,
    queue_url: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import boto3

    boto3.client("sqs", region_name="us-east-1").delete_queue(QueueUrl=queue_url)
    records = [kinesis_record(b"bad", 0), "not a record", kinesis_record(good(1), 2)]

    assert consumer.handler({"Records": records}, None) == {
        "batchItemFailures": [{"itemIdentifier": sequence_number(0)}]
    }

    kept = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.levelno == logging.ERROR and "bad record kept here" in r.getMessage()
    ]
    assert [entry["reason"] for entry in kept] == [
        "event record is a str, not an object (data_base64 holds the event record as JSON)"
    ]
    assert base64.b64decode(kept[0]["data_base64"]) == b'"not a record"'
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (summary["written"], summary["dead_lettered"], summary["failed"]) == (1, 1, 1)
