"""Adoption against moto made to behave like real AWS (tests/faults.py): DeleteStack
asynchronous, DELETE_FAILED with a reason, Lambda and DynamoDB state machines, IAM propagation."""

from __future__ import annotations

import pytest

from cryptoconsumer import adopt
from cryptoconsumer.errors import AwsError
from tests.adopt import seed
from tests.adopt.conftest import AdoptWorld


def put_old_item(world: AdoptWorld) -> None:
    world.plain("dynamodb").put_item(
        TableName=seed.TABLE,
        Item={
            "ticker": {"S": "BTCUSD"},
            "last_refreshed": {"S": "2026-03-01 00:00:00"},
            "exchange_rate": {"N": "37021.123456789012345678901234567890"},
        },
    )


def mapping_states(world: AdoptWorld) -> dict[str, str]:
    found = world.plain("lambda").list_event_source_mappings(EventSourceArn=seed.STREAM_ARN)
    return {m["FunctionArn"].rsplit(":", 1)[-1]: m["State"] for m in found["EventSourceMappings"]}


def test_delete_stack_is_waited_for_until_delete_complete(world: AdoptWorld) -> None:
    put_old_item(world)
    world.faults.timings.stack_deleting = 0.5

    adopted = world.adopt()

    assert adopted.cloudformation == "deleted"
    status = world.plain("cloudformation").describe_stacks(StackName=world.seed.stack_id)
    assert status["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert world.faults.calls["cloudformation.DeleteStack"] == 1
    # The waiter polled through DELETE_IN_PROGRESS: more than the one read after the delete.
    assert world.faults.calls["cloudformation.DescribeStacks"] >= 4
    assert any("to be deleted" in m for m in world.reporter.messages)
    assert mapping_states(world) == {seed.NEW_FUNCTION: "Enabled"}
    item = world.plain("dynamodb").get_item(
        TableName=seed.TABLE,
        Key={"ticker": {"S": "BTCUSD"}, "last_refreshed": {"S": "2026-03-01 00:00:00"}},
    )["Item"]
    assert item["exchange_rate"]["N"] == "37021.123456789012345678901234567890"
    assert adopted.table.sample_found


def test_iam_propagation_and_pending_states_are_waited_out(world: AdoptWorld) -> None:
    world.adopt()

    refusals = world.faults.refusals
    assert refusals["lambda.CreateFunction:InvalidParameterValueException"] >= 1
    assert mapping_states(world) == {seed.NEW_FUNCTION: "Enabled"}


def test_delete_failed_reports_the_reason_and_keeps_both_mappings_enabled(
    world: AdoptWorld,
) -> None:
    put_old_item(world)
    world.faults.stack_delete_failures = 1

    with pytest.raises(AwsError) as failed:
        world.adopt()

    message = str(failed.value)
    assert "DELETE_FAILED" in message
    assert "must detach all policies first" in message
    assert "run adopt again" in message
    # Nothing stopped consuming: ours and the old one are both Enabled, the table is there.
    assert mapping_states(world) == {
        seed.OLD_FUNCTION: "Enabled",
        seed.NEW_FUNCTION: "Enabled",
    }
    assert seed.TABLE in world.plain("dynamodb").list_tables()["TableNames"]

    # The cause fixed, adopt again retries DeleteStack and finishes.
    again = world.prepare()
    assert again.phase == "finish"
    assert not again.prepared.plan.mutating
    adopted = world.adopt()

    assert adopted.cloudformation == "deleted"
    assert world.faults.calls["cloudformation.DeleteStack"] == 2
    assert mapping_states(world) == {seed.NEW_FUNCTION: "Enabled"}


def test_a_rerun_while_delete_is_in_progress_waits_without_deleting_again(
    world: AdoptWorld,
) -> None:
    # Long enough that the re-run's reads all fall inside DELETE_IN_PROGRESS.
    world.faults.timings.stack_deleting = 2.0
    first = world.prepare()
    # The first run's up and DeleteStack, as if killed right after DeleteStack answered.
    from cryptoconsumer import stack

    stack.execute(first.prepared)
    world.clients.cloudformation.delete_stack(StackName=world.seed.stack_id)

    again = world.prepare()

    assert again.phase == "finish"
    assert again.cfn is not None and again.cfn.status == "DELETE_IN_PROGRESS"
    assert [d.action for d in again.deletions if d.kind == "table"] == ["retain"]
    adopted = adopt.execute(again)
    assert adopted.cloudformation == "deleted"
    assert world.faults.calls["cloudformation.DeleteStack"] == 1
    assert mapping_states(world) == {seed.NEW_FUNCTION: "Enabled"}
