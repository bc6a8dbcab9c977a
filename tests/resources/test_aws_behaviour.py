"""Each real-AWS behaviour of shared/AWS-BEHAVIOUR.md, reproduced by tests/faults.py, survived.

The stack is driven through `stack.plan_up` / `stack.execute` exactly as the CLI does, on
clients built from a session whose hooks make moto eventually consistent.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from cryptoconsumer import package, stack
from cryptoconsumer.aws import AwsTarget, Clients
from tests.resources.conftest import REGION, World


def mappings(world: World) -> list[dict[str, Any]]:
    return world.plain("lambda").list_event_source_mappings(FunctionName="crypto_data_consumer")[
        "EventSourceMappings"
    ]


def test_create_function_retries_until_iam_lets_lambda_assume_the_role(world: World) -> None:
    outputs = world.up()

    assert world.faults.refusals["lambda.CreateFunction:InvalidParameterValueException"] >= 1
    assert any("IAM to let Lambda assume role" in m for m in world.reporter.messages)
    config = world.plain("lambda").get_function(FunctionName="crypto_data_consumer")
    assert config["Configuration"]["FunctionArn"] == outputs["function_arn"]


def test_create_mapping_retries_while_the_role_cannot_read_the_stream(world: World) -> None:
    world.up()
    world.plain("lambda").delete_event_source_mapping(UUID=mappings(world)[0]["UUID"])
    world.faults._role_changed_at = time.monotonic()  # the policy just changed

    outputs = world.up()

    refused = "lambda.CreateEventSourceMapping:InvalidParameterValueException"
    assert world.faults.refusals[refused] >= 1
    assert [m["UUID"] for m in mappings(world)] == [outputs["mapping_uuid"]]


def test_function_updates_wait_for_pending_and_in_progress(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.up()
    world.faults.refusals.clear()
    changed = tmp_path / "handler"
    shutil.copytree(package.handler_dir(), changed)
    with (changed / "data_consumer_lambda.py").open("a") as source:
        source.write("\n# a new release\n")
    original_build = package.build
    monkeypatch.setattr(package, "build", lambda: original_build(changed))

    world.up(memory=512, timeout=30)

    # Code then configuration: the second waits for the first (function_updated_v2), so
    # Lambda never has to refuse it.
    assert world.faults.calls["lambda.UpdateFunctionCode"] == 1
    assert world.faults.calls["lambda.UpdateFunctionConfiguration"] == 1
    assert (
        world.faults.refusals["lambda.UpdateFunctionConfiguration:ResourceConflictException"] == 0
    )
    config = world.plain("lambda").get_function_configuration(FunctionName="crypto_data_consumer")
    assert (config["MemorySize"], config["Timeout"]) == (512, 30)
    assert config["CodeSha256"] == original_build(changed).code_sha256


def test_update_retries_when_another_update_is_in_progress(world: World) -> None:
    world.up()
    config = world.config(memory=1024)
    prepared = stack.plan_up(config, world.clients, ctx=world.context(config))
    # Someone else's update starts after the plan read the function, before ours arrives.
    world.faults._function_updating_until["crypto_data_consumer"] = time.monotonic() + 0.3

    stack.execute(prepared)

    assert (
        world.faults.refusals["lambda.UpdateFunctionConfiguration:ResourceConflictException"] >= 1
    )
    config = world.plain("lambda").get_function_configuration(FunctionName="crypto_data_consumer")
    assert config["MemorySize"] == 1024


def test_an_update_seen_in_progress_is_waited_for_not_collided_with(world: World) -> None:
    world.up()
    world.faults._function_updating_until["crypto_data_consumer"] = time.monotonic() + 0.3

    world.up(memory=1024)

    assert world.faults.calls["lambda.UpdateFunctionConfiguration"] == 1
    assert (
        world.faults.refusals["lambda.UpdateFunctionConfiguration:ResourceConflictException"] == 0
    )
    config = world.plain("lambda").get_function_configuration(FunctionName="crypto_data_consumer")
    assert config["MemorySize"] == 1024


def test_table_is_configured_only_once_active(world: World) -> None:
    world.up()

    assert world.faults.calls["dynamodb.UpdateContinuousBackups"] == 1
    assert (
        world.faults.refusals[
            "dynamodb.UpdateContinuousBackups:ContinuousBackupsUnavailableException"
        ]
        == 0
    )
    backups = world.plain("dynamodb").describe_continuous_backups(TableName="crypto_intraday")
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_up_right_after_destroy_waits_for_the_table_and_the_queue_name(world: World) -> None:
    world.up()
    # Windows long enough that a loaded machine still meets them after the destroy.
    world.faults.timings.queue_name_reuse = 3.0
    world.faults.timings.table_deleting = 1.0
    world.destroy()
    # Deleted by hand, without waiting: the table is still DELETING when `up` reads it.
    dynamodb = world.clients.dynamodb
    dynamodb.update_table(TableName="crypto_intraday", DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName="crypto_intraday")
    world.reporter.messages.clear()

    world.up()  # table still DELETING, queue name not yet reusable

    assert world.faults.refusals["sqs.CreateQueue:AWS.SimpleQueueService.QueueDeletedRecently"] >= 1
    assert any("60 s after a delete" in m for m in world.reporter.messages)
    assert "waiting for table crypto_intraday to finish deleting" in world.reporter.messages
    assert (
        world.plain("dynamodb").describe_table(TableName="crypto_intraday")["Table"]["TableStatus"]
        == "ACTIVE"
    )
    assert world.plain("sqs").get_queue_url(QueueName="crypto_data_consumer-dlq")["QueueUrl"]


def test_a_fresh_up_says_only_what_it_really_waits_for(world: World) -> None:
    world.up()

    waits = [m for m in world.reporter.messages if m.startswith("waiting for")]
    assert not any("finish deleting" in m or "deregistering" in m for m in waits), waits
    assert "waiting for table crypto_intraday to become ACTIVE" in waits  # it was CREATING

    world.reporter.messages.clear()
    world.up(memory=512)  # an update of an ACTIVE table's neighbour: no table wait at all
    assert not any("table" in m for m in world.reporter.messages), world.reporter.messages


def test_mapping_update_retries_while_it_is_in_use(world: World) -> None:
    outputs = world.up()
    uuid = outputs["mapping_uuid"]
    state = world.faults._mapping_state[uuid]
    world.faults._mapping_state[uuid] = ("Updating", time.monotonic() + 2.0, state[2])

    world.up(batch_size=250)

    assert world.faults.refusals["lambda.UpdateEventSourceMapping:ResourceInUseException"] >= 1, (
        "\n".join(world.reporter.messages)
    )
    assert world.plain("lambda").get_event_source_mapping(UUID=uuid)["BatchSize"] == 250


def test_up_waits_until_a_new_mapping_is_enabled(world: World) -> None:
    world.up()

    waits = [m for m in world.reporter.messages if "to become Enabled" in m]
    assert waits, world.reporter.messages
    assert world.faults.calls["lambda.GetEventSourceMapping"] >= 2


def test_a_mapping_missed_by_the_listing_is_adopted_not_duplicated(world: World) -> None:
    first = world.up()
    hidden = {"count": 0}

    def hide_listing(parsed: dict[str, Any], **_: Any) -> None:
        if hidden["count"] == 0:  # eventual consistency: the first listing misses it
            parsed["EventSourceMappings"] = []
        hidden["count"] += 1

    world.session.events.register("after-call.lambda.ListEventSourceMappings", hide_listing)
    world.clients = Clients(AwsTarget(region=REGION), session=world.session)

    outputs = world.up()

    assert world.faults.refusals["lambda.CreateEventSourceMapping:ResourceConflictException"] == 1
    assert outputs["mapping_uuid"] == first["mapping_uuid"]
    assert len(mappings(world)) == 1


def test_throttling_is_absorbed_by_botocore_standard_retries(world: World) -> None:
    world.faults.throttle = {"dynamodb.DescribeTable": 3, "kinesis.DescribeStreamSummary": 3}

    world.up()

    assert world.faults.refusals["dynamodb.DescribeTable:ThrottlingException"] == 3
    assert world.faults.refusals["kinesis.DescribeStreamSummary:ThrottlingException"] == 3
    assert world.faults.sends["kinesis.DescribeStreamSummary"] == 4  # the 4th got through
    assert world.plain("dynamodb").describe_table(TableName="crypto_intraday")["Table"]


def test_destroy_waits_for_the_mapping_to_be_gone(world: World) -> None:
    world.up()

    world.destroy()

    assert any("to be deleted" in m for m in world.reporter.messages)
    assert mappings(world) == []
    with pytest.raises(world.plain("lambda").exceptions.ResourceNotFoundException):
        world.plain("lambda").get_function(FunctionName="crypto_data_consumer")


def test_no_dlq_keeps_an_earlier_queue_and_destroy_still_removes_it(world: World) -> None:
    world.up()

    outputs = world.up(dlq=False)

    function = world.plain("lambda").get_function_configuration(FunctionName="crypto_data_consumer")
    assert "DEAD_LETTER_QUEUE_URL" not in function["Environment"]["Variables"]
    assert outputs["queue_url"] is None
    assert "DestinationConfig" not in mappings(world)[0] or not mappings(world)[0][
        "DestinationConfig"
    ].get("OnFailure", {}).get("Destination")
    sqs = world.plain("sqs")
    assert sqs.get_queue_url(QueueName="crypto_data_consumer-dlq")["QueueUrl"]

    config = world.config(dlq=False)
    prepared = stack.plan_destroy(config, world.clients, ctx=world.context(config))
    assert [c.action for c in prepared.plan.for_resource("queue")] == ["delete"]
    stack.execute(prepared)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="crypto_data_consumer-dlq")
