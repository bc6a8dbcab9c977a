"""`destroy` of an enhanced fan-out stack when the consumer cannot be deregistered: the rest
is deleted, the function is kept as the record of the consumer (consumers take no tags, and the
mapping that pointed at it is gone), and a second destroy deregisters it and deletes the
function."""

from __future__ import annotations

from typing import Any

import pytest

from cryptoconsumer import stack
from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.config import StackOptions, build_config
from cryptoconsumer.plan import PartialFailure
from cryptoconsumer.resources import consumer as stream_consumer
from cryptoconsumer.resources.base import Context
from tests.faults import Timings, aws_like

from .conftest import REGION, create_stream
from .consumer_sources import ConsumerSources

CONSUMER = "crypto_data_consumer-efo"
FUNCTION = "crypto_data_consumer"


@pytest.fixture
def efo(mocked: None) -> Any:
    hooks = ConsumerSources()
    session = hooks.session()
    faults = aws_like(session, timings=Timings(iam_propagation=0))
    clients = Clients(AwsTarget(region=REGION), session=session)
    return faults, clients, create_stream(clients)


def run(clients: Clients, prepare: Any, **options: Any) -> stack.Prepared:
    config = build_config(StackOptions(region=REGION, **options))
    ctx = Context(clients, config, poll_delay=0.01, settle_seconds=5, propagation_seconds=5)
    prepared = prepare(config, clients, ctx=ctx)
    stack.execute(prepared)
    return prepared


def consumer_of(clients: Clients, stream_arn: str) -> dict[str, Any] | None:
    try:
        return clients.kinesis.describe_stream_consumer(
            StreamARN=stream_arn, ConsumerName=CONSUMER
        )["ConsumerDescription"]
    except clients.kinesis.exceptions.ResourceNotFoundException:
        return None


def function_tags(clients: Clients) -> dict[str, str] | None:
    try:
        return clients.lambda_.get_function(FunctionName=FUNCTION).get("Tags", {})
    except clients.lambda_.exceptions.ResourceNotFoundException:
        return None


def test_a_consumer_that_cannot_be_deregistered_is_found_again_by_the_next_destroy(
    efo: Any,
) -> None:
    faults, clients, stream_arn = efo
    run(clients, stack.plan_up, stream_arn=stream_arn, enhanced_fan_out=True)
    faults.failing["kinesis.DeregisterStreamConsumer"] = 10_000

    with pytest.raises(PartialFailure) as incomplete:
        run(clients, stack.plan_destroy)

    assert [(f.resource, f.outcome) for f in incomplete.value.failures] == [
        ("consumer", "failed"),
        ("function", "held back"),
        ("settings", "held back"),  # the record stays for the re-run
    ]
    assert "could not be deregistered" in incomplete.value.failures[1].error
    assert (
        clients.lambda_.list_event_source_mappings(FunctionName=FUNCTION)["EventSourceMappings"]
        == []
    )
    assert clients.iam.list_roles()["Roles"] == []
    assert clients.sqs.list_queues().get("QueueUrls", []) == []
    assert consumer_of(clients, stream_arn) is not None
    assert function_tags(clients) == {
        "cryptoconsumer:stack": "crypto",
        "managed-by": "cryptoconsumer",
        stream_consumer.STREAM_TAG: stream_arn,
        stream_consumer.NAME_TAG: CONSUMER,
    }

    faults.failing.clear()
    again = run(clients, stack.plan_destroy)

    deletes = [(c.resource, c.details) for c in again.plan.changes if c.action == "delete"]
    assert deletes == [
        ("consumer", ("left by an earlier destroy (recorded on the function)",)),
        ("function", ()),
        ("settings", ("after everything else is gone",)),
    ]
    assert consumer_of(clients, stream_arn) is None
    assert function_tags(clients) is None


def test_status_and_up_see_the_recorded_consumer_as_ours(efo: Any) -> None:
    faults, clients, stream_arn = efo
    run(clients, stack.plan_up, stream_arn=stream_arn, enhanced_fan_out=True)
    faults.failing["kinesis.DeregisterStreamConsumer"] = 10_000
    with pytest.raises(PartialFailure):
        run(clients, stack.plan_destroy)
    faults.failing.clear()

    # `up` without enhanced fan-out: the consumer left behind is ours, so it is deregistered.
    config = build_config(StackOptions(region=REGION, stream_arn=stream_arn))
    ctx = Context(clients, config, poll_delay=0.01, settle_seconds=5, propagation_seconds=5)
    prepared = stack.plan_up(config, clients, ctx=ctx)

    (change,) = prepared.plan.for_resource("consumer")
    assert change.action == "delete"
    stack.execute(prepared)
    assert consumer_of(clients, stream_arn) is None
