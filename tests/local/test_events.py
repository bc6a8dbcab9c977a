"""Lambda's stream rules as pure functions: judging an answer, batch limits, message shapes."""

from __future__ import annotations

from typing import Any

import pytest

from cryptoconsumer.local.events import (
    MAX_PAYLOAD_BYTES,
    StreamRecord,
    iso_millis,
    judge,
    on_failure_message,
    take_batch,
)
from cryptoconsumer.local.mapping import FOREVER, MappingConfig


def records(count: int, size: int = 1) -> list[StreamRecord]:
    return [
        StreamRecord("shardId-000000000000", str(100 + i), "k", b"x" * size, 1_700_000_000.0 + i)
        for i in range(count)
    ]


BATCH = records(4)


@pytest.mark.parametrize(
    "payload",
    [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}],
    ids=["null", "empty", "null-list", "empty-list"],
)
def test_null_or_empty_answers_are_complete_success(payload: Any) -> None:
    assert judge(BATCH, None, payload, report_item_failures=True).succeeded


def test_the_lowest_reported_sequence_number_is_where_processing_resumes() -> None:
    payload = {"batchItemFailures": [{"itemIdentifier": "103"}, {"itemIdentifier": "101"}]}
    assert judge(BATCH, None, payload, report_item_failures=True).failed_from == 1


@pytest.mark.parametrize(
    "payload",
    [
        "ok",
        ["101"],
        {"batchItemFailures": "101"},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemId": "101"}]},
        {"batchItemFailures": [{"itemIdentifier": "999"}]},
        {"batchItemFailures": ["101"]},
    ],
    ids=[
        "string",
        "list",
        "failures-not-list",
        "empty-id",
        "null-id",
        "wrong-key",
        "unknown-id",
        "bare-id",
    ],
)
def test_malformed_answers_fail_the_whole_batch(payload: Any) -> None:
    verdict = judge(BATCH, None, payload, report_item_failures=True)
    assert verdict.failed_from == 0
    assert "malformed" in verdict.reason


def test_without_report_batch_item_failures_the_answer_is_ignored() -> None:
    payload = {"batchItemFailures": [{"itemIdentifier": "101"}]}
    assert judge(BATCH, None, payload, report_item_failures=False).succeeded


def test_a_function_error_fails_the_whole_batch() -> None:
    assert judge(BATCH, "Sandbox.Timedout", None, report_item_failures=True).failed_from == 0


def test_a_batch_stops_at_batch_size_and_at_the_payload_limit() -> None:
    assert len(take_batch(records(10), 4)) == 4
    big = records(10, size=1024 * 1024)
    batch = take_batch(big, 10)
    assert sum(r.event_size for r in batch) <= MAX_PAYLOAD_BYTES
    assert sum(r.event_size for r in big[: len(batch) + 1]) > MAX_PAYLOAD_BYTES
    assert len(take_batch(records(1, size=7 * 1024 * 1024), 10)) == 1


def test_the_on_failure_message_describes_the_discarded_records() -> None:
    message = on_failure_message(
        BATCH[1:3],
        stream_arn="arn:aws:kinesis:us-east-1:123456789012:stream/s",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        condition="RecordAgeExceeded",
        request_id="r-1",
        invoke_count=0,
        function_error=None,
        now=1_700_000_100.5,
    )
    assert message == {
        "requestContext": {
            "requestId": "r-1",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "condition": "RecordAgeExceeded",
            "approximateInvokeCount": 0,
        },
        "responseContext": {"statusCode": 0, "executedVersion": "$LATEST"},
        "version": "1.0",
        "timestamp": "2023-11-14T22:15:00.500Z",
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000000",
            "startSequenceNumber": "101",
            "endSequenceNumber": "102",
            "approximateArrivalOfFirstRecord": "2023-11-14T22:13:21.000Z",
            "approximateArrivalOfLastRecord": "2023-11-14T22:13:22.000Z",
            "batchSize": 2,
            "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
        },
    }


def test_iso_millis_keeps_milliseconds() -> None:
    assert iso_millis(0.0456) == "1970-01-01T00:00:00.045Z"


def test_mapping_defaults_are_lambdas() -> None:
    config = MappingConfig.from_api(
        {
            "UUID": "u",
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
        }
    )
    assert (config.batch_size, config.batching_window, config.bisect_on_error) == (100, 0, False)
    assert (config.max_retries, config.max_record_age) == (FOREVER, FOREVER)
    assert config.retries_left(10_000) and not config.expired(0, 10**9)
    assert config.on_failure_arn is None and not config.report_item_failures


def test_bounded_retries_and_record_age() -> None:
    config = MappingConfig.from_api(
        {
            "UUID": "u",
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
            "MaximumRetryAttempts": 2,
            "MaximumRecordAgeInSeconds": 60,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:1:q"}},
        }
    )
    assert config.retries_left(1) and not config.retries_left(2)
    assert config.expired(100.0, 161.0) and not config.expired(100.0, 160.0)
    assert config.report_item_failures
    assert config.on_failure_arn == "arn:aws:sqs:us-east-1:1:q"


def test_an_enhanced_fan_out_mapping_reads_its_stream() -> None:
    config = MappingConfig.from_api(
        {
            "UUID": "u",
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/f-efo:17",
        }
    )
    assert config.stream_arn == "arn:aws:kinesis:us-east-1:123456789012:stream/s"
    assert config.is_kinesis
