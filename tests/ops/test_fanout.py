"""Enhanced fan-out: `up --enhanced-fan-out` registers a consumer and maps the function to it;
switching it on or off is a planned mapping replacement; `status` shows it; `destroy`
deregisters it after the mapping is gone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from cryptoconsumer import stack
from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.cli import stack_cmds
from cryptoconsumer.config import StackOptions, build_config
from cryptoconsumer.errors import PlanBlockedError
from cryptoconsumer.resources import consumer as stream_consumer
from cryptoconsumer.resources.base import Context
from cryptoconsumer.resources.role import POLICY_NAME

from .conftest import REGION, create_stream, json_of
from .consumer_sources import ConsumerSources

CONSUMER = "crypto_data_consumer-efo"


@dataclass
class World:
    hooks: ConsumerSources
    clients: Clients
    stream_arn: str

    def config(self, **options: Any) -> Any:
        return build_config(StackOptions(stream_arn=self.stream_arn, region=REGION, **options))

    def context(self, config: Any) -> Context:
        return Context(self.clients, config, poll_delay=0.01, settle_seconds=5)

    def plan(self, replace_mapping: bool = False, **options: Any) -> stack.Prepared:
        config = self.config(**options)
        return stack.plan_up(
            config, self.clients, replace_mapping=replace_mapping, ctx=self.context(config)
        )

    def up(self, replace_mapping: bool = False, **options: Any) -> dict[str, Any]:
        return stack.execute(self.plan(replace_mapping, **options))

    def destroy(self) -> stack.Prepared:
        config = build_config(StackOptions(region=REGION))  # no stream, as `destroy` has none
        prepared = stack.plan_destroy(config, self.clients, ctx=self.context(config))
        stack.execute(prepared)
        return prepared

    def consumer(self) -> dict[str, Any] | None:
        kinesis = self.clients.kinesis
        try:
            return kinesis.describe_stream_consumer(
                StreamARN=self.stream_arn, ConsumerName=CONSUMER
            )["ConsumerDescription"]
        except kinesis.exceptions.ResourceNotFoundException:
            return None

    def mapping_sources(self) -> list[str]:
        found = self.clients.lambda_.list_event_source_mappings(FunctionName="crypto_data_consumer")
        return [m["EventSourceArn"] for m in found["EventSourceMappings"]]

    def policy(self) -> dict[str, Any]:
        document = self.clients.iam.get_role_policy(
            RoleName="crypto_data_consumer-role", PolicyName=POLICY_NAME
        )["PolicyDocument"]
        return document if isinstance(document, dict) else json.loads(document)


@pytest.fixture
def world(mocked: None) -> World:
    hooks = ConsumerSources()
    clients = Clients(AwsTarget(region=REGION), session=hooks.session())
    return World(hooks, clients, create_stream(clients))


def actions(prepared: stack.Prepared) -> list[tuple[str, str]]:
    return [(c.resource, c.action) for c in prepared.plan.changes if c.action != "none"]


def consumer_statement(policy: dict[str, Any]) -> dict[str, Any] | None:
    return next((s for s in policy["Statement"] if "kinesis:SubscribeToShard" in s["Action"]), None)


def test_up_registers_a_consumer_and_maps_the_function_to_it(world: World) -> None:
    prepared = world.plan(enhanced_fan_out=True)
    changes = [(c.resource, c.name, c.action) for c in prepared.plan.changes]
    assert ("consumer", CONSUMER, "create") in changes
    assert changes.index(("consumer", CONSUMER, "create")) < [c[0] for c in changes].index(
        "mapping"
    )

    stack.execute(prepared)

    consumer = world.consumer()
    assert consumer is not None and consumer["ConsumerStatus"] == "ACTIVE"
    assert world.mapping_sources() == [consumer["ConsumerARN"]]
    assert world.hooks.calls.index("kinesis.RegisterStreamConsumer") < world.hooks.calls.index(
        "lambda.CreateEventSourceMapping"
    )
    statement = consumer_statement(world.policy())
    assert statement is not None
    assert sorted(statement["Action"]) == [
        "kinesis:DescribeStreamConsumer",
        "kinesis:SubscribeToShard",
    ]
    assert statement["Resource"] == f"{world.stream_arn}/consumer/{CONSUMER}:*"


def test_a_second_up_changes_nothing(world: World) -> None:
    world.up(enhanced_fan_out=True)

    again = world.plan(enhanced_fan_out=True)

    assert actions(again) == []
    assert not again.plan.mutating


def test_status_shows_the_consumer(world: World, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    world.up(enhanced_fan_out=True)
    monkeypatch.setattr(stack_cmds, "_clients", lambda target: world.clients)

    with_flag = cli("status", "--enhanced-fan-out", "--output", "json")
    bare = cli("status", "--output", "json")  # what `up` recorded
    without = cli(
        "status", "--stream-arn", world.stream_arn, "--no-enhanced-fan-out", "--output", "json"
    )

    assert with_flag.exit_code == 0, json_of(with_flag)["problems"]
    assert bare.exit_code == 0, json_of(bare)["problems"]
    rows = {row["resource"]: row for row in json_of(with_flag)["resources"]}
    assert rows["consumer"] == {
        "resource": "consumer",
        "name": CONSUMER,
        "exists": True,
        "owned": True,
        "state": "ACTIVE",
        "drift": [],
    }
    assert rows["mapping"]["drift"] == []
    assert json_of(with_flag)["health"]["mapping"]["source_arn"] == world.consumer()["ConsumerARN"]
    assert without.exit_code == 3
    drifted = {row["resource"]: row["drift"] for row in json_of(without)["resources"]}
    assert drifted["consumer"] == ["enhanced fan-out is off: `up` would deregister it"]
    assert any(d.startswith("source: ") for d in drifted["mapping"])


def test_switching_on_is_a_planned_mapping_replacement(world: World) -> None:
    world.up()

    with pytest.raises(PlanBlockedError, match="--replace-mapping"):
        world.plan(enhanced_fan_out=True)
    prepared = world.plan(replace_mapping=True, enhanced_fan_out=True)

    assert actions(prepared) == [
        ("role", "update"),
        ("consumer", "create"),
        ("mapping", "replace"),
        ("settings", "update"),
    ]
    stack.execute(prepared)
    assert world.mapping_sources() == [world.consumer()["ConsumerARN"]]


def test_switching_off_replaces_the_mapping_then_deregisters_the_consumer(world: World) -> None:
    world.up(enhanced_fan_out=True)
    world.hooks.calls.clear()

    with pytest.raises(PlanBlockedError, match="--replace-mapping"):
        world.plan()
    prepared = world.plan(replace_mapping=True)

    assert actions(prepared) == [
        ("role", "update"),
        ("consumer", "delete"),
        ("mapping", "replace"),
        ("settings", "update"),
    ]
    stack.execute(prepared)
    assert world.consumer() is None
    assert world.mapping_sources() == [world.stream_arn]
    assert consumer_statement(world.policy()) is None
    calls = world.hooks.calls
    assert calls.index("lambda.CreateEventSourceMapping") < calls.index(
        "kinesis.DeregisterStreamConsumer"
    )


def test_destroy_deregisters_the_consumer_after_the_mapping(world: World) -> None:
    world.up(enhanced_fan_out=True)
    world.hooks.calls.clear()

    prepared = world.destroy()

    assert ("consumer", "delete") in actions(prepared)
    assert world.consumer() is None
    calls = world.hooks.calls
    assert calls.index("lambda.DeleteEventSourceMapping") < calls.index(
        "kinesis.DeregisterStreamConsumer"
    )


def test_an_interrupted_up_adopts_the_registered_consumer(world: World) -> None:
    world.up()
    world.clients.kinesis.register_stream_consumer(
        StreamARN=world.stream_arn, ConsumerName=CONSUMER
    )

    prepared = world.plan(replace_mapping=True, enhanced_fan_out=True)

    assert ("consumer", "create") not in actions(prepared)
    stack.execute(prepared)
    assert world.mapping_sources() == [world.consumer()["ConsumerARN"]]


def test_up_with_the_cli_flag(world: World, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack_cmds, "_clients", lambda target: world.clients)

    result = cli("up", "--stream-arn", world.stream_arn, "--enhanced-fan-out", "--output", "json")

    assert result.exit_code == 0, result.stderr
    changes = {c["resource"]: c for c in json_of(result)["changes"]}
    assert changes["consumer"]["name"] == CONSUMER and changes["consumer"]["action"] == "create"
    assert world.mapping_sources() == [world.consumer()["ConsumerARN"]]


@dataclass
class FakeMapping:
    source_arn: str
    tags: dict[str, str]


def test_a_consumer_not_feeding_our_own_mapping_is_left_alone() -> None:
    consumer = stream_consumer.ObservedConsumer(CONSUMER, "arn:c", "ACTIVE", "arn:s")
    ours = {"cryptoconsumer:stack": "crypto", "managed-by": "cryptoconsumer"}

    foreign = stream_consumer.plan_delete(consumer, [FakeMapping("arn:c", {})], "crypto")
    owned = stream_consumer.plan_delete(consumer, [FakeMapping("arn:c", ours)], "crypto")
    elsewhere = stream_consumer.plan_delete(consumer, [FakeMapping("arn:s", ours)], "crypto")

    assert (foreign.action, elsewhere.action, owned.action) == ("none", "none", "delete")
    assert "left alone" in foreign.details[0]


def test_a_consumer_left_alone_is_not_touched_by_up(mocked: None) -> None:
    consumer = stream_consumer.ObservedConsumer(CONSUMER, "arn:c", "ACTIVE", "arn:s")
    change = stream_consumer.plan_delete(consumer, [FakeMapping("arn:c", {})], "crypto")
    ctx = Context(Clients(AwsTarget(region=REGION)), build_config(StackOptions(region=REGION)))

    assert stream_consumer.apply(ctx, None, "arn:s", change) == {}


def test_grant_and_stream_of_consumer_arns() -> None:
    stream = "arn:aws:kinesis:us-east-1:123456789012:stream/ticks"
    real = f"{stream}/consumer/{CONSUMER}:1700000000"

    assert stream_consumer.stream_of(real) == stream == stream_consumer.stream_of(stream)
    assert stream_consumer.grant_resource(stream, CONSUMER) == f"{stream}/consumer/{CONSUMER}:*"
