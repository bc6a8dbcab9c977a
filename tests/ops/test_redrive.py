"""`dlq redrive`: failed batches replayed from the stream through the function, bad records
exported/purged but never re-sent, every message not deleted visible again afterwards."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from cryptoconsumer.aws import Clients
from cryptoconsumer.cli import ops_cmds
from cryptoconsumer.ops import redrive

from .conftest import REGION, Deployed, json_of
from .dead_letters import (
    dead_letter_a_bad_record,
    depth,
    failed_batch_body,
    put_ticks,
    send,
    tick,
)
from .lambda_double import InProcessLambda


@pytest.fixture
def function(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> InProcessLambda:
    """Every Invoke the CLI makes runs the real handler in-process."""
    double = InProcessLambda(REGION)
    session = double.install(boto3.Session(region_name=REGION))
    monkeypatch.setattr(ops_cmds, "_clients", lambda target: Clients(target, session=session))
    return double


def item(deployed: Deployed, ticker: str, when: str) -> dict[str, Any] | None:
    return (
        deployed.client("dynamodb")
        .get_item(
            TableName=deployed.table_name,
            Key={"ticker": {"S": ticker}, "last_refreshed": {"S": when}},
            ConsistentRead=True,
        )
        .get("Item")
    )


def failed_batch(deployed: Deployed, rates: list[str]) -> tuple[str, list[dict[str, str]]]:
    """Ticks put on the stream, and a failed-batch message pointing at exactly them."""
    put = put_ticks(
        deployed, [tick(rate, f"2026-11-24 14:05:0{n}") for n, rate in enumerate(rates)]
    )
    body = failed_batch_body(
        deployed, put[0]["ShardId"], put[0]["SequenceNumber"], put[-1]["SequenceNumber"], len(put)
    )
    return send(deployed, body), put


def test_replays_a_failed_batch_and_deletes_only_its_message(
    deployed: Deployed, function: InProcessLambda, cli: Any
) -> None:
    batch_id, put = failed_batch(deployed, ["37021.5", "37022.123456789012345678901234567"])
    put_ticks(deployed, [tick("1", "2026-11-24 15:00:00")])  # after the range: not replayed
    dead_letter_a_bad_record(deployed, b"not json")

    result = cli("dlq", "redrive", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["dry_run"] is False
    assert document["counts"] == {
        "replayed": 1,
        "skipped": 0,
        "failed": 0,
        "replayed_records": 2,
        "exported": 0,
        "purged": 0,
        "left": 1,
    }
    replayed = next(m for m in document["messages"] if m["message_id"] == batch_id)
    assert replayed["action"] == "replayed" and replayed["records"] == 2
    written = item(deployed, "BTCUSD", "2026-11-24 14:05:01")
    assert written is not None
    assert written["exchange_rate"] == {"N": "37022.123456789012345678901234567"}
    assert written["sequence_number"] == {"S": put[1]["SequenceNumber"]}
    assert item(deployed, "BTCUSD", "2026-11-24 15:00:00") is None
    assert len(function.events) == 1
    assert depth(deployed) == (1, 0)  # the bad record, visible again at once


def test_the_replayed_event_has_lambdas_kinesis_shape(
    deployed: Deployed, function: InProcessLambda, cli: Any
) -> None:
    _, put = failed_batch(deployed, ["100", "101"])

    assert cli("dlq", "redrive").exit_code == 0

    (event,) = function.events
    first = event["Records"][0]
    assert [r["kinesis"]["sequenceNumber"] for r in event["Records"]] == [
        p["SequenceNumber"] for p in put
    ]
    assert base64.b64decode(first["kinesis"]["data"]) == tick("100", "2026-11-24 14:05:00")
    assert first["kinesis"]["partitionKey"] == "BTCUSD"
    assert first["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert isinstance(first["kinesis"]["approximateArrivalTimestamp"], float)
    assert first["eventSource"] == "aws:kinesis"
    assert first["eventSourceARN"] == deployed.stream_arn
    assert first["eventID"] == f"{put[0]['ShardId']}:{put[0]['SequenceNumber']}"
    assert first["awsRegion"] == REGION
    assert first["invokeIdentityArn"] == deployed.outputs["role_arn"]


@pytest.mark.parametrize(
    ("double", "problem"),
    [
        (InProcessLambda(REGION, function_error="Unhandled"), "function error Unhandled: boom"),
        (InProcessLambda(REGION, report_failures=True), "reported 1 record(s) as failed"),
    ],
)
def test_a_batch_the_function_still_fails_stays_in_the_queue(
    deployed: Deployed,
    cli: Any,
    monkeypatch: pytest.MonkeyPatch,
    double: InProcessLambda,
    problem: str,
) -> None:
    session = double.install(boto3.Session(region_name=REGION))
    monkeypatch.setattr(ops_cmds, "_clients", lambda target: Clients(target, session=session))
    batch_id, _ = failed_batch(deployed, ["5"])

    result = cli("dlq", "redrive", "--output", "json")

    assert result.exit_code == 3
    document = json_of(result)
    assert document["counts"]["failed"] == 1 and document["counts"]["left"] == 1
    (message,) = document["messages"]
    assert message["message_id"] == batch_id
    assert message["action"] == "failed"
    assert problem in message["detail"]
    assert depth(deployed) == (1, 0)


def test_batches_outside_retention_are_skipped_and_left(
    deployed: Deployed, function: InProcessLambda, cli: Any
) -> None:
    put = put_ticks(deployed, [tick("7")])
    trimmed = send(
        deployed,
        failed_batch_body(deployed, put[0]["ShardId"], "0", put[0]["SequenceNumber"], 2),
    )
    gone_shard = send(deployed, failed_batch_body(deployed, "shardId-000000000042", "1", "2", 2))

    result = cli("dlq", "redrive", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["counts"]["skipped"] == 2 and document["counts"]["left"] == 2
    details = {m["message_id"]: m["detail"] for m in document["messages"]}
    assert "trimmed" in details[trimmed]
    assert "outside the stream's retention (ResourceNotFoundException" in details[gone_shard]
    assert function.events == []
    assert depth(deployed) == (2, 0)


def test_dry_run_invokes_and_deletes_nothing(
    deployed: Deployed, function: InProcessLambda, cli: Any
) -> None:
    batch_id, _ = failed_batch(deployed, ["5", "6", "7"])
    dead_letter_a_bad_record(deployed, b"[]")

    result = cli("dlq", "redrive", "--dry-run", "--purge-bad", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["dry_run"] is True
    assert document["counts"]["replayed"] == 0 and document["counts"]["left"] == 2
    planned = next(m for m in document["messages"] if m["message_id"] == batch_id)
    assert planned["detail"].startswith("would replay shardId-000000000000")
    assert planned["records"] == 3
    assert function.events == []
    assert depth(deployed) == (2, 0)


def test_bad_records_are_exported_then_purged_never_resent(
    deployed: Deployed, function: InProcessLambda, cli: Any, tmp_path: Path
) -> None:
    dead_letter_a_bad_record(deployed, b"not json", sequence_number="901")
    dead_letter_a_bad_record(deployed, b"[1]", sequence_number="902")
    export = tmp_path / "bad.jsonl"

    result = cli("dlq", "redrive", "--export", str(export), "--purge-bad", "--output", "json")

    assert result.exit_code == 0, result.stderr
    counts = json_of(result)["counts"]
    assert (counts["exported"], counts["purged"], counts["left"]) == (2, 2, 0)
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert sorted(line["sequence_number"] for line in lines) == ["901", "902"]
    assert {line["reason"] for line in lines} == {
        "payload is not valid JSON",
        "payload is not a JSON object",
    }
    assert all(line["message_id"] for line in lines)
    assert function.events == []
    assert depth(deployed) == (0, 0)


def test_export_alone_keeps_the_bad_records(
    deployed: Deployed, function: InProcessLambda, cli: Any, tmp_path: Path
) -> None:
    dead_letter_a_bad_record(deployed, b"not json")
    export = tmp_path / "bad.jsonl"

    result = cli("dlq", "redrive", "--export", str(export), "--output", "json")

    assert json_of(result)["counts"]["exported"] == 1
    assert len(export.read_text().splitlines()) == 1
    assert depth(deployed) == (1, 0)


def test_an_existing_export_file_is_never_overwritten(
    deployed: Deployed, function: InProcessLambda, cli: Any, tmp_path: Path
) -> None:
    dead_letter_a_bad_record(deployed, b"not json")
    export = tmp_path / "bad.jsonl"
    export.write_text("precious\n")

    result = cli("dlq", "redrive", "--export", str(export), "--purge-bad")

    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert export.read_text() == "precious\n"
    assert depth(deployed) == (1, 0)


def test_text_output_counts_outcomes(
    deployed: Deployed, function: InProcessLambda, cli: Any
) -> None:
    failed_batch(deployed, ["5"])

    result = cli("dlq", "redrive")

    assert result.exit_code == 0, result.stderr
    assert "dead-letter messages that were:" in result.stdout
    assert "replayed records" in result.stdout
    assert "replayed: batch" in result.stderr


def test_large_batches_are_split_under_the_payload_limit() -> None:
    records = [{"Data": b"x" * 1_000_000, "SequenceNumber": str(n)} for n in range(12)]

    groups = redrive.chunks(records)

    assert [len(group) for group in groups] == [4, 4, 4]
    assert [r["SequenceNumber"] for group in groups for r in group] == [str(n) for n in range(12)]
