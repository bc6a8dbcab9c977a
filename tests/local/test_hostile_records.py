"""Hostile records end to end: the real poller, the real zip, moto's Kinesis, DynamoDB and SQS.

One stream carries good ticks mixed with every hostile kind the handler's tests know (lone
surrogates, huge exponents, deep nesting, odd types, broken and empty KPL aggregates, aggregates
mixing good and bad user records). Every good tick must reach the table, every bad one the
dead-letter queue, and no invocation may fail: lost 0, crashed 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cryptoconsumer import package
from tests.aws_state import TICKS_TABLE
from tests.local.conftest import Harness, wait_for

HANDLER_TESTS = Path(__file__).resolve().parents[1] / "lambda_handler"
if str(HANDLER_TESTS) not in sys.path:
    sys.path.insert(0, str(HANDLER_TESTS))

from consumer_events import aggregate_message, encode_aggregate, flat_tick, frame_aggregate  # noqa: E402
from hostile_records import BROKEN_AGGREGATES, HOSTILE_PAYLOADS, field_bytes  # noqa: E402

PUT_RECORDS_MAX_BYTES = 4 * 1024 * 1024  # under PutRecords' 5 MiB per call


class Stream:
    """Records to put, with what each must become."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes, str]] = []
        self.good_keys: set[tuple[str, str]] = set()
        self.bad_reasons: list[str] = []
        self.kinds: set[str] = set()
        self._ticks = 0

    def good(self) -> bytes:
        index = self._ticks
        self._ticks += 1
        hour, minute = divmod(index, 60)
        tick = flat_tick(
            to_currency_code="EUR", last_refreshed=f"2026-11-24 {hour:02d}:{minute:02d}:00"
        )
        self.good_keys.add(("BTCEUR", tick["last_refreshed"]))
        return json.dumps(tick).encode()

    def add(self, data: bytes, key: str = "k") -> None:
        self.records.append((data, key))

    def bad(self, kind: str, data: bytes, reason: str) -> None:
        self.kinds.add(kind)
        self.bad_reasons.append(reason)
        self.add(data)


def hostile_stream() -> Stream:
    stream = Stream()
    for name, payload, reason in HOSTILE_PAYLOADS:
        stream.add(stream.good())
        stream.bad(name, payload, reason)
    for name, blob, reason in BROKEN_AGGREGATES:
        stream.add(stream.good())
        stream.bad(f"aggregate: {name}", blob, reason)
    small = [(name, p, r) for name, p, r in HOSTILE_PAYLOADS if len(p) < 10_000]
    for name, payload, reason in small:
        # An aggregate mixing good and bad user records: the good ones must not be held back.
        stream.kinds.add(f"inside an aggregate: {name}")
        stream.bad_reasons.append(reason)
        stream.add(encode_aggregate([("G", stream.good()), ("B", payload), ("G", stream.good())]))
    orphan = field_bytes(3, b"\x08\x09" + field_bytes(3, b"{}"))  # no partition key 9
    message = aggregate_message([("G", stream.good()), ("G", stream.good())])
    stream.kinds.add("aggregate: a user record pointing at no partition key")
    stream.bad_reasons.append("bad KPL user record: partition_key_index outside")
    stream.add(frame_aggregate(message + orphan))
    for _ in range(20):
        stream.add(stream.good())
    return stream


def put_all(harness: Harness, stream_arn: str, records: list[tuple[bytes, str]]) -> None:
    batch: list[dict[str, Any]] = []
    size = 0
    for data, key in records:
        if batch and (len(batch) == 500 or size + len(data) > PUT_RECORDS_MAX_BYTES):
            _put(harness, stream_arn, batch)
            batch, size = [], 0
        batch.append({"Data": data, "PartitionKey": key})
        size += len(data)
    if batch:
        _put(harness, stream_arn, batch)


def _put(harness: Harness, stream_arn: str, batch: list[dict[str, Any]]) -> None:
    answer = harness.clients.kinesis.put_records(StreamARN=stream_arn, Records=batch)
    assert answer["FailedRecordCount"] == 0


def summaries(harness: Harness, function_name: str) -> list[dict[str, Any]]:
    logs = harness.clients.logs
    group = f"/aws/lambda/{function_name}"
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
        events = [event for page in pages for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"]) for e in events if '"batch processed"' in e["message"]]


def test_every_good_tick_is_written_and_every_hostile_record_dead_lettered(
    harness: Harness,
) -> None:
    stream_arn = harness.stream(shards=2)
    table = harness.name("table")
    harness.clients.dynamodb.create_table(TableName=table, **TICKS_TABLE)
    queue_url, _ = harness.queue()
    function = harness.function(
        zip_bytes=package.build().zip_bytes,
        handler="data_consumer_lambda.handler",
        timeout=20,
        environment={"DYNAMO_TABLE_NAME": table, "DEAD_LETTER_QUEUE_URL": queue_url},
    )
    harness.mapping(
        function,
        stream_arn,
        BatchSize=100,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=2,
    )
    stream = hostile_stream()

    put_all(harness, stream_arn, stream.records)

    def stored() -> set[tuple[str, str]]:
        paginator = harness.clients.dynamodb.get_paginator("scan")
        return {
            (item["ticker"]["S"], item["last_refreshed"]["S"])
            for page in paginator.paginate(TableName=table)
            for item in page["Items"]
        }

    letters: list[dict[str, Any]] = []

    def all_dead_letters() -> bool:
        letters.extend(harness.messages(queue_url))
        return len(letters) >= len(stream.bad_reasons)

    wait_for("every good tick in the table", lambda: stored() >= stream.good_keys, seconds=60)
    wait_for("every dead letter", all_dead_letters, seconds=60)
    lost = stream.good_keys - stored()
    crashed = harness.poller.stats.failed_invocations
    print(
        f"hostile kinds tried: {len(stream.kinds)}, hostile records: {len(stream.bad_reasons)}, "
        f"good ticks: {len(stream.good_keys)}, lost: {len(lost)}, crashed: {crashed}"
    )
    assert lost == set()
    assert crashed == 0
    assert len(letters) == len(stream.bad_reasons)
    expected = sorted(stream.bad_reasons)
    found = sorted(letter["reason"] for letter in letters)
    unmatched = [reason for reason in expected if not any(reason in f for f in found)]
    assert unmatched == []
    assert all(letter["sequence_number"] for letter in letters)
    assert harness.poller.stats.on_failure_messages == 0

    def every_summary() -> list[dict[str, Any]]:
        found = summaries(harness, function.name)
        total = sum(summary["user_records"] for summary in found)
        return found if total >= len(stream.good_keys) + len(stream.bad_reasons) else []

    for summary in wait_for("the batch summaries", every_summary):
        assert summary["user_records"] == (
            summary["written"]
            + summary["duplicates"]
            + summary["dead_lettered"]
            + summary["failed"]
        )
        assert summary["batch_item_failures"] == 0
