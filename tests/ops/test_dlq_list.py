"""`dlq list`: both kinds of message, described, and nothing consumed."""

from __future__ import annotations

import base64
from typing import Any

from cryptoconsumer.ops import dlq

from .conftest import Deployed, json_of
from .dead_letters import dead_letter_a_bad_record, depth, failed_batch_body, send


def test_lists_bad_records_and_failed_batches_without_consuming_them(
    deployed: Deployed, cli: Any
) -> None:
    dead_letter_a_bad_record(deployed, b'{"from_currency_code": "BTC", "to_currency_code": 7}')
    batch_id = send(deployed, failed_batch_body(deployed, "shardId-000000000000", "1", "5", 5))

    result = cli("dlq", "list", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["queue_url"] == deployed.queue_url
    assert document["approximate_messages"] == 2
    by_kind = {message["kind"]: message for message in document["messages"]}
    assert set(by_kind) == {"batch", "bad_record"}
    bad = by_kind["bad_record"]["bad_record"]
    assert bad["reason"] == "to_currency_code is not 1-10 letters or digits"
    assert bad["sequence_number"] == "77"
    assert bad["partition_key"] == "BTCUSD"
    assert bad["event_source_arn"] == deployed.stream_arn
    assert bad["preview"] == '{"from_currency_code": "BTC", "to_currency_code": 7}'
    assert base64.b64decode(bad["data_base64"]) == (
        b'{"from_currency_code": "BTC", "to_currency_code": 7}'
    )
    batch = by_kind["batch"]
    assert batch["message_id"] == batch_id
    assert batch["receive_count"] >= 1
    assert batch["batch"] == {
        "shard_id": "shardId-000000000000",
        "start_sequence_number": "1",
        "end_sequence_number": "5",
        "batch_size": 5,
        "stream_arn": deployed.stream_arn,
        "condition": "RetryAttemptsExhausted",
        "function_error": "Unhandled",
        "approximate_invoke_count": 4,
        "function_arn": deployed.outputs["function_arn"],
        "first_arrival": "2026-11-24T14:05:01.000Z",
        "last_arrival": "2026-11-24T14:05:02.000Z",
    }
    assert depth(deployed) == (2, 0)  # still there, still visible


def test_text_output_describes_each_message(deployed: Deployed, cli: Any) -> None:
    dead_letter_a_bad_record(deployed, b"not json at all")
    send(deployed, failed_batch_body(deployed, "shardId-000000000000", "10", "12", 3))
    send(deployed, "plain text someone sent")

    result = cli("dlq", "list")

    assert result.exit_code == 0, result.stderr
    assert "~3 message(s), 3 shown" in result.stdout
    assert "payload is not valid JSON (seq 77): not json at all" in result.stdout
    assert "shardId-000000000000 10..12 (3 record(s)): RetryAttemptsExhausted" in result.stdout
    assert "plain text someone sent" in result.stdout


def test_an_empty_queue_lists_nothing(deployed: Deployed, cli: Any) -> None:
    result = cli("dlq", "list", "--output", "json")

    assert result.exit_code == 0
    assert json_of(result)["messages"] == []


def test_a_stack_without_a_queue_is_refused(deployed: Deployed, cli: Any) -> None:
    result = cli("dlq", "list", "--no-dlq")

    assert result.exit_code == 2
    assert "no dead-letter queue" in result.stderr


def test_a_missing_queue_is_an_aws_error(deployed: Deployed, cli: Any) -> None:
    result = cli("dlq", "list", "--stack", "other")

    assert result.exit_code == 1
    assert "queue other_data_consumer-dlq does not exist" in result.stderr


def test_the_local_emulators_on_failure_message_is_understood() -> None:
    """The emulator builds what Lambda sends; the listing must read the same shape."""
    import json

    from cryptoconsumer.local.events import StreamRecord, on_failure_message

    records = [
        StreamRecord("shardId-000000000001", str(n), "BTCUSD", b"{}", 1795600000.0 + n)
        for n in (40, 41)
    ]
    body = on_failure_message(
        records,
        stream_arn="arn:aws:kinesis:us-east-1:123456789012:stream/ticks",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        condition="RecordAgeExceeded",
        request_id="r",
        invoke_count=0,
        function_error=None,
        now=1795600100.0,
    )

    kind, batch, bad = dlq.classify(json.dumps(body))

    assert kind == "batch" and bad is None and batch is not None
    assert (batch.shard_id, batch.start_sequence_number, batch.end_sequence_number) == (
        "shardId-000000000001",
        "40",
        "41",
    )
    assert (batch.batch_size, batch.condition, batch.function_error) == (
        2,
        "RecordAgeExceeded",
        None,
    )


def test_classify_tells_unknown_bodies_apart() -> None:
    assert dlq.classify("[1, 2]")[0] == "unknown"
    assert dlq.classify('{"KinesisBatchInfo": {"shardId": "s"}}')[0] == "unknown"
    assert dlq.classify('{"reason": "r", "data_base64": "eA=="}')[0] == "bad_record"
