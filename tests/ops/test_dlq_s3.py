"""`dlq list` and `dlq redrive` with --failure-destination s3: failed batches replayed from the
records their objects hold, objects deleted only after a full replay, bad objects kept."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from cryptoconsumer.aws import Clients
from cryptoconsumer.cli import ops_cmds
from cryptoconsumer.local.destinations import failure_object_body, failure_object_key
from cryptoconsumer.local.events import EventSource, StreamRecord, kinesis_event
from cryptoconsumer.ops import dlq

from .conftest import REGION, Deployed, create_stream, deploy, json_of
from .dead_letters import failed_batch_body, tick
from .lambda_double import InProcessLambda

ACCOUNT = "123456789012"
BUCKET = f"crypto-failed-batches-{ACCOUNT}-{REGION}"
SHARD = "shardId-000000000000"


@pytest.fixture
def deployed(clients: Clients) -> Deployed:
    return deploy(create_stream(clients), clients, failure_destination="s3")


@pytest.fixture
def function(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> InProcessLambda:
    double = InProcessLambda(REGION)
    session = double.install(boto3.Session(region_name=REGION))
    monkeypatch.setattr(ops_cmds, "_clients", lambda target: Clients(target, session=session))
    return double


def records(rates: list[str], first: int = 1000) -> list[StreamRecord]:
    """Records that are NOT in the stream: only the object keeps them."""
    return [
        StreamRecord(
            shard_id=SHARD,
            sequence_number=str(first + n),
            partition_key="BTCUSD",
            data=tick(rate, f"2026-11-24 14:05:0{n}"),
            arrival=1795600000.0 + n,
        )
        for n, rate in enumerate(rates)
    ]


def put_failure_object(deployed: Deployed, stored: list[StreamRecord], when: float = 0.0) -> str:
    """What Lambda writes for a batch it gave up on: the SQS document plus the event."""
    message = failed_batch_body(
        deployed, SHARD, stored[0].sequence_number, stored[-1].sequence_number, len(stored)
    )
    event = kinesis_event(
        stored,
        EventSource(
            stream_arn=deployed.stream_arn, region=REGION, invoke_identity_arn="arn:aws:iam::x"
        ),
    )
    key = failure_object_key("0b7e7a9e-0000-4000-8000-000000000001", SHARD, when)
    deployed.client("s3").put_object(
        Bucket=BUCKET, Key=key, Body=failure_object_body(message, event).encode()
    )
    return key


def put_raw_object(deployed: Deployed, body: bytes, name: str) -> str:
    key = f"aws/lambda/0b7e7a9e-0000-4000-8000-000000000001/{SHARD}/2026/11/24/{name}"
    deployed.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return key


def keys(deployed: Deployed) -> list[str]:
    listed = deployed.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return [item["Key"] for item in listed]


def items(deployed: Deployed) -> int:
    return int(
        deployed.client("dynamodb").scan(TableName=deployed.table_name, Select="COUNT")["Count"]
    )


def test_redrive_replays_the_records_the_object_holds_and_then_deletes_it(
    deployed: Deployed, function: InProcessLambda, cli: Any
) -> None:
    key = put_failure_object(deployed, records(["37021.5", "37022.1", "37023.7"]))

    result = cli("dlq", "redrive", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["counts"]["replayed"] == 1
    assert document["counts"]["replayed_records"] == 3
    [outcome] = document["messages"]
    assert (outcome["message_id"], outcome["kind"], outcome["action"]) == (
        key,
        "s3_batch",
        "replayed",
    )
    assert items(deployed) == 3  # the stream never held them: the object did
    assert keys(deployed) == []
    [event] = function.events
    assert [r["kinesis"]["sequenceNumber"] for r in event["Records"]] == ["1000", "1001", "1002"]
    assert base64.b64decode(event["Records"][0]["kinesis"]["data"]) == tick(
        "37021.5", "2026-11-24 14:05:00"
    )


def test_a_failed_replay_keeps_the_object_and_exits_3(
    deployed: Deployed, function: InProcessLambda, cli: Any
) -> None:
    key = put_failure_object(deployed, records(["1", "2"]))
    function.function_error = "Unhandled"

    result = cli("dlq", "redrive", "--output", "json")

    assert result.exit_code == 3
    assert json_of(result)["counts"]["failed"] == 1
    assert keys(deployed) == [key]


def test_dry_run_invokes_and_deletes_nothing(
    deployed: Deployed, function: InProcessLambda, cli: Any
) -> None:
    key = put_failure_object(deployed, records(["1", "2"]))

    result = cli("dlq", "redrive", "--dry-run", "--output", "json")

    assert result.exit_code == 0, result.stderr
    [outcome] = json_of(result)["messages"]
    assert outcome["action"] == "left" and outcome["detail"].startswith("would replay")
    assert function.events == []
    assert keys(deployed) == [key]


def test_export_writes_each_object_before_its_replay_deletes_it(
    deployed: Deployed, function: InProcessLambda, cli: Any, tmp_path: Path
) -> None:
    key = put_failure_object(deployed, records(["1", "2"]))
    target = tmp_path / "dead.jsonl"

    result = cli("dlq", "redrive", "--export", str(target), "--output", "json")

    assert result.exit_code == 0, result.stderr
    [line] = target.read_text().splitlines()
    exported = json.loads(line)
    assert (exported["bucket"], exported["object_key"]) == (BUCKET, key)
    assert len(json.loads(json.loads(exported["body"])["payload"])["Records"]) == 2
    assert json_of(result)["counts"]["exported"] == 1
    assert keys(deployed) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\xff\xfe not text", "not UTF-8 text"),
        (b"{not json", "not a JSON document"),
        (b"[1, 2]", "no KinesisBatchInfo"),
        (b'{"KinesisBatchInfo": {"shardId": "s"}}', "KinesisBatchInfo is incomplete"),
        (b"[" * 100000 + b"]" * 100000, "not a JSON document"),
    ],
)
def test_a_malformed_object_is_reported_kept_and_never_replayed(
    deployed: Deployed, function: InProcessLambda, cli: Any, body: bytes, problem: str
) -> None:
    key = put_raw_object(deployed, body, "bad")
    good = put_failure_object(deployed, records(["1"]))

    result = cli("dlq", "redrive", "--output", "json")

    assert result.exit_code == 0, result.stderr
    outcomes = {o["message_id"]: o for o in json_of(result)["messages"]}
    assert outcomes[key]["action"] == "left"
    assert problem in outcomes[key]["detail"]
    assert outcomes[good]["action"] == "replayed"
    assert keys(deployed) == [key]


def _object_with(deployed: Deployed, change: Any) -> str:
    stored = records(["1", "2"])
    message = failed_batch_body(deployed, SHARD, "1000", "1001", 2)
    event = kinesis_event(stored, EventSource(deployed.stream_arn, REGION, "arn:aws:iam::x"))
    change(message, event)
    return put_raw_object(deployed, failure_object_body(message, event).encode(), "edited")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m, e: m.pop("payload", None) or e.clear(), "payload has no Records"),
        (lambda m, e: e["Records"][0]["kinesis"].update(data="%%%"), "data is not base64"),
        (lambda m, e: e["Records"][1]["kinesis"].update(sequenceNumber="1e9"), "digits"),
        (lambda m, e: e["Records"].pop(), "do not span"),
        (lambda m, e: m["KinesisBatchInfo"].update(batchSize=5), "holds 2 record(s)"),
        (lambda m, e: e["Records"].reverse(), "not in sequence order"),
        (lambda m, e: m["KinesisBatchInfo"].update(streamArn="arn:aws:kinesis:x"), "another"),
    ],
)
def test_an_object_whose_records_do_not_match_its_batch_is_kept(
    deployed: Deployed, function: InProcessLambda, cli: Any, change: Any, problem: str
) -> None:
    key = _object_with(deployed, change)

    result = cli("dlq", "redrive", "--output", "json")

    assert result.exit_code == 0, result.stderr
    [outcome] = json_of(result)["messages"]
    assert outcome["action"] == "left" and problem in outcome["detail"], outcome
    assert function.events == []
    assert keys(deployed) == [key]


def test_an_object_without_a_payload_is_kept() -> None:
    found = dlq.parse_object("k", json.dumps({"KinesisBatchInfo": {}}).encode(), 2, None)
    assert found.problem == "KinesisBatchInfo is incomplete"
    body = {
        "KinesisBatchInfo": {
            "shardId": SHARD,
            "startSequenceNumber": "1",
            "endSequenceNumber": "1",
            "streamArn": "arn",
        }
    }
    found = dlq.parse_object("k", json.dumps(body).encode(), 2, None)
    assert found.problem == "no payload: the records are not in the object"


def test_list_shows_the_objects_without_touching_them(
    deployed: Deployed, function: InProcessLambda, cli: Any
) -> None:
    key = put_failure_object(deployed, records(["1", "2"]))
    bad = put_raw_object(deployed, b"garbage \x1b[31m", "bad")

    result = cli("dlq", "list", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["bucket"] == BUCKET
    by_key = {o["key"]: o for o in document["objects"]}
    assert by_key[key]["kind"] == "batch" and by_key[key]["records"] == 2
    assert by_key[key]["batch"]["start_sequence_number"] == "1000"
    assert by_key[bad]["kind"] == "unknown" and by_key[bad]["problem"] == "not a JSON document"
    assert sorted(keys(deployed)) == sorted([key, bad])

    text = cli("dlq", "list")
    assert text.exit_code == 0, text.stderr
    assert f"bucket {BUCKET}: 2 failed batch(es)" in text.stdout
    assert "shardId-000000000000 1000..1001 (2 record(s) stored)" in text.stdout
    assert "\x1b" not in text.stdout


def test_list_honours_the_limit(deployed: Deployed, function: InProcessLambda, cli: Any) -> None:
    for n in range(3):
        put_failure_object(deployed, records(["1"], first=2000 + n), when=float(n))

    document = json_of(cli("dlq", "list", "--limit", "2", "--output", "json"))

    assert len(document["objects"]) == 2 and document["more_objects"] is True


def test_a_bucket_kept_after_switching_back_to_sqs_is_still_replayed(
    deployed: Deployed, function: InProcessLambda, cli: Any
) -> None:
    put_failure_object(deployed, records(["1", "2"]))
    deploy(deployed.stream_arn, deployed.clients, failure_destination="sqs")

    result = cli("dlq", "redrive", "--output", "json")

    assert result.exit_code == 0, result.stderr
    assert json_of(result)["counts"]["replayed_records"] == 2
    assert keys(deployed) == []
