"""`check`: the canary end to end on the local emulator (real poller, real handler process),
and its polling, timeout and cleanup rules on in-process moto with a simulated mapping."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from cryptoconsumer.aws import Clients
from cryptoconsumer.cli import ops_cmds
from cryptoconsumer.ops import canary

from .conftest import REGION, Deployed, create_stream, deploy, json_of
from .lambda_double import InProcessLambda


def canary_items(clients: Any, table: str) -> list[dict[str, Any]]:
    return clients.dynamodb.query(
        TableName=table,
        KeyConditionExpression="ticker = :t",
        ExpressionAttributeValues={":t": {"S": canary.TICKER}},
        ConsistentRead=True,
    )["Items"]


def test_check_end_to_end_on_the_local_emulator(aws_env: None, cli: Any) -> None:
    """The deployed zip runs in a worker process fed by the emulator's mapping poller."""
    pipeline = pytest.importorskip("cryptoconsumer.local.pipeline")
    log: list[str] = []
    with pipeline.running(log=log.append) as local:
        clients = local.clients(REGION)
        # TRIM_HORIZON: a LATEST mapping misses records put before its first poll, on AWS too.
        deployed = deploy(create_stream(clients), clients, starting_position="TRIM_HORIZON")

        result = cli(
            "check", "--endpoint-url", local.endpoint_url, "--timeout", "45", "--output", "json"
        )

        assert result.exit_code == 0, (result.stdout, result.stderr, log)
        document = json_of(result)
        assert document["ok"] is True and document["arrived"] is True
        assert document["ticker"] == "CANARYTEST"
        assert document["marker"].startswith("canary-")
        assert document["stream_arn"] == deployed.stream_arn
        assert document["shard_id"] == "shardId-000000000000"
        assert 0 < document["latency_ms"] < 45_000
        assert document["deleted"] is True
        assert document["reasons"] == []
        assert canary_items(clients, deployed.table_name) == []


class SimulatedMapping:
    """Plays the event source mapping on in-process moto: each record put on the stream is
    delivered to the real handler when the table has been polled `delay_polls` times; with
    `first_poll` > 0, records put before that poll are never delivered (a LATEST mapping's
    first poll)."""

    def __init__(self, delay_polls: int, first_poll: int = 0) -> None:
        self.delay_polls = delay_polls
        self.first_poll = first_poll
        self.pending: list[dict[str, Any]] = []
        self.polls: list[dict[str, Any]] = []
        self.function = InProcessLambda(REGION)

    def session(self) -> boto3.Session:
        session = boto3.Session(region_name=REGION)
        session.events.register("before-parameter-build.kinesis.PutRecord", self._keep)
        session.events.register("after-call.kinesis.PutRecord", self._put)
        session.events.register("provide-client-params.dynamodb.BatchGetItem", self._poll)
        return session

    @staticmethod
    def _keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["put"] = dict(params)

    def _put(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params = context["put"]
        if len(self.polls) < self.first_poll:
            return  # before the mapping's first poll: never read
        self.pending.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": params["PartitionKey"],
                    "sequenceNumber": parsed["SequenceNumber"],
                    "data": base64.b64encode(params["Data"]).decode(),
                    "approximateArrivalTimestamp": 1795600000.0,
                },
                "eventSource": "aws:kinesis",
                "eventID": f"{parsed['ShardId']}:{parsed['SequenceNumber']}",
                "eventSourceARN": params["StreamARN"],
                "awsRegion": REGION,
            }
        )

    def _poll(self, params: dict[str, Any], **_: Any) -> None:
        self.polls.append(params)
        if self.pending and len(self.polls) >= self.delay_polls:
            records, self.pending = self.pending, []
            self.function.run("crypto_data_consumer", {"Records": records})


@pytest.fixture
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(canary, "POLL_SECONDS", 0.05)


def test_check_polls_until_the_item_appears_then_deletes_it(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch, fast_polls: None
) -> None:
    mapping = SimulatedMapping(delay_polls=3)
    session = mapping.session()
    monkeypatch.setattr(ops_cmds, "_clients", lambda target: Clients(target, session=session))

    result = cli("check", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["ok"] is True
    assert document["latency_ms"] >= 0
    assert len(mapping.polls) == 3
    reads = [poll["RequestItems"][deployed.table_name] for poll in mapping.polls]
    assert all(read["ConsistentRead"] is True for read in reads)
    assert reads[0]["Keys"] == [
        {"ticker": {"S": "CANARYTEST"}, "last_refreshed": {"S": document["last_refreshed"]}}
    ]
    assert document["canaries_put"] == 1 and document["canaries_deleted"] == 1
    (summary,) = [json.loads(line) for line in mapping.function.printed]
    assert summary["written"] == 1
    assert canary_items(deployed.clients, deployed.table_name) == []


def test_a_canary_put_before_the_first_poll_is_followed_by_a_fresh_one(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch, fast_polls: None
) -> None:
    """A LATEST mapping misses the first canary; the next one, put later, is read."""
    mapping = SimulatedMapping(delay_polls=1, first_poll=2)
    session = mapping.session()
    monkeypatch.setattr(ops_cmds, "_clients", lambda target: Clients(target, session=session))

    result = cli("check", "--timeout", "20", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["ok"] is True and document["arrived"] is True
    assert document["canaries_put"] >= 2
    assert document["canaries_deleted"] == 1
    keys = [
        k["last_refreshed"]["S"]
        for k in mapping.polls[-1]["RequestItems"][deployed.table_name]["Keys"]
    ]
    assert len(set(keys)) == len(keys) == document["canaries_put"]  # one key each
    assert document["last_refreshed"] == keys[-1]  # the last one put is the one that arrived
    assert canary_items(deployed.clients, deployed.table_name) == []


def test_canaries_get_distinct_later_keys() -> None:
    first = canary.new_tick()
    second = canary.new_tick(after=first)
    third = canary.new_tick(after=second)

    assert first.last_refreshed < second.last_refreshed < third.last_refreshed


def test_the_canary_is_the_reserved_ticker_with_a_unique_marker() -> None:
    first, second = canary.new_tick(), canary.new_tick()
    payload = json.loads(first.payload)

    assert (payload["from_currency_code"], payload["to_currency_code"]) == ("CANARY", "TEST")
    assert payload["from_currency_name"] == first.marker != second.marker
    assert len(payload["last_refreshed"]) == len("2026-11-24 14:05:01")


def test_text_output_gives_the_latency(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch, fast_polls: None
) -> None:
    session = SimulatedMapping(delay_polls=1).session()
    monkeypatch.setattr(ops_cmds, "_clients", lambda target: Clients(target, session=session))

    result = cli("check")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("canary arrived in ")
    assert "; deleted" in result.stdout


def test_a_canary_that_never_arrives_exits_3_with_the_reasons(
    deployed: Deployed, cli: Any, fast_polls: None
) -> None:
    uuid = deployed.outputs["mapping_uuid"]
    deployed.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=False)

    result = cli("check", "--timeout", "1", "--output", "json")

    assert result.exit_code == 3
    document = json_of(result)
    assert document["ok"] is False and document["arrived"] is False
    assert document["latency_ms"] is None and document["deleted"] is False
    assert document["canaries_put"] >= 1 and document["canaries_deleted"] == 0
    assert any(
        reason.startswith(f"mapping {uuid}: state Disabled") for reason in document["reasons"]
    )


def test_text_output_for_a_missing_canary(deployed: Deployed, cli: Any, fast_polls: None) -> None:
    result = cli("check", "--timeout", "1")

    assert result.exit_code == 3
    assert "canary did NOT arrive within 1 s" in result.stdout
    assert "status sees no problem" in result.stdout


def test_check_without_a_deployed_mapping_is_an_error(
    clients: Clients, cli: Any, fast_polls: None
) -> None:
    result = cli("check", "--timeout", "1")

    assert result.exit_code == 1
    assert "has no Kinesis event source mapping" in result.stderr


def test_a_bad_timeout_exits_2(aws_env: None, cli: Any) -> None:
    result = cli("check", "--timeout", "soon")

    assert result.exit_code == 2
