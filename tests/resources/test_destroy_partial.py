"""`destroy` with one delete failing (an HTTP 500 after botocore's retries, as LocalStack
answered DeleteFunction): everything that does not need it is still deleted, each failure is
named, and a second destroy finishes the job.

Only a mapping that cannot be deleted holds the rest back: it may still invoke the function,
which must keep its role, table, queue and log group while it is fed.
"""

from __future__ import annotations

import pytest

from cryptoconsumer import stack
from cryptoconsumer.plan import PartialFailure, StepFailure
from tests.resources.conftest import World

FUNCTION = "crypto_data_consumer"
STACK_RESOURCES = {
    "mapping": "lambda.DeleteEventSourceMapping",
    "function": "lambda.DeleteFunction",
    "log_group": "logs.DeleteLogGroup",
    "role": "iam.DeleteRole",
    "queue": "sqs.DeleteQueue",
    "table": "dynamodb.DeleteTable",
}
ALWAYS = 10_000


def destroy(world: World) -> stack.Prepared:
    config = world.config()
    prepared = stack.plan_destroy(
        config, world.clients, delete_table=True, ctx=world.context(config)
    )
    stack.execute(prepared)
    return prepared


def left(world: World) -> set[str]:
    """Which of the stack's resources still exist, read without the fault hooks."""
    found = set()
    lambda_ = world.plain("lambda")
    if lambda_.list_event_source_mappings(FunctionName=FUNCTION)["EventSourceMappings"]:
        found.add("mapping")
    if any(f["FunctionName"] == FUNCTION for f in lambda_.list_functions()["Functions"]):
        found.add("function")
    if world.plain("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{FUNCTION}")[
        "logGroups"
    ]:
        found.add("log_group")
    if world.plain("iam").list_roles()["Roles"]:
        found.add("role")
    if world.plain("sqs").list_queues().get("QueueUrls"):
        found.add("queue")
    if world.plain("dynamodb").list_tables()["TableNames"]:
        found.add("table")
    if world.plain("ssm").describe_parameters()["Parameters"]:
        found.add("settings")
    return found


# While anything is left, the stack's recorded settings stay: a re-run finds the rest by them.
KEPT_RECORD = ("settings", "held back")


def failures_of(world: World) -> list[StepFailure]:
    with pytest.raises(PartialFailure) as incomplete:
        destroy(world)
    return list(incomplete.value.failures)


@pytest.mark.parametrize("resource", [r for r in STACK_RESOURCES if r != "mapping"])
def test_one_failed_delete_stops_no_other_and_a_rerun_finishes(world: World, resource: str) -> None:
    world.up()
    world.faults.failing[STACK_RESOURCES[resource]] = ALWAYS

    failures = failures_of(world)

    failure, kept = failures
    assert (failure.resource, failure.outcome) == (resource, "failed")
    assert failure.error.startswith("deleting ") and "internal error" in failure.error
    assert (kept.resource, kept.outcome) == KEPT_RECORD
    assert left(world) == {resource, "settings"}
    if resource == "table":
        # The delete failed after protection was turned off: it is on again.
        table = world.plain("dynamodb").describe_table(TableName="crypto_intraday")["Table"]
        assert table["DeletionProtectionEnabled"] is True

    world.faults.failing.clear()
    again = destroy(world)

    assert left(world) == set()
    assert [c.resource for c in again.plan.changes if c.action == "delete"] == [
        resource,
        "settings",
    ]


def test_a_mapping_that_cannot_be_deleted_holds_back_everything_it_feeds(world: World) -> None:
    world.up()
    world.faults.failing["lambda.DeleteEventSourceMapping"] = ALWAYS

    failures = failures_of(world)

    # The alarms and their topic stay too, watching the function that still runs.
    assert [(f.resource, f.outcome) for f in failures] == [
        ("mapping", "failed"),
        *[("alarm", "held back")] * 4,
        ("function", "held back"),
        ("log_group", "held back"),
        ("queue", "held back"),
        ("role", "held back"),
        ("table", "held back"),
        ("topic", "held back"),
        KEPT_RECORD,
    ]
    assert "could not be deleted and may still feed the function" in failures[5].error
    assert failures[5].line.startswith(f"function {FUNCTION}: not deleted: mapping ")
    assert left(world) == {*STACK_RESOURCES, "settings"}
    assert world.faults.calls["lambda.DeleteFunction"] == 0
    assert world.faults.calls["iam.DeleteRole"] == 0

    world.faults.failing.clear()
    destroy(world)

    assert left(world) == set()


def test_two_failures_are_both_reported(world: World) -> None:
    world.up()
    world.faults.failing.update({"lambda.DeleteFunction": ALWAYS, "sqs.DeleteQueue": ALWAYS})

    failures = failures_of(world)

    assert sorted(f.resource for f in failures) == ["function", "queue", "settings"]
    assert left(world) == {"function", "queue", "settings"}
    world.faults.failing.clear()
    destroy(world)
    assert left(world) == set()


def test_a_transient_500_is_no_failure(world: World) -> None:
    """botocore's standard retries absorb a 500 that goes away (injected at the HTTP layer)."""
    world.up()
    world.faults.server_errors["lambda.DeleteFunction"] = 2

    destroy(world)

    assert world.faults.refusals["lambda.DeleteFunction:HTTP500"] == 2
    assert left(world) == set()


def foreign_mapping(world: World, tags: dict[str, str]) -> str:
    lambda_ = world.plain("lambda")
    kinesis = world.plain("kinesis")
    kinesis.create_stream(StreamName="other", ShardCount=1)
    other = kinesis.describe_stream_summary(StreamName="other")["StreamDescriptionSummary"]
    return lambda_.create_event_source_mapping(
        FunctionName=FUNCTION,
        EventSourceArn=other["StreamARN"],
        StartingPosition="LATEST",
        Tags=tags,
    )["UUID"]


@pytest.mark.parametrize(
    ("tags", "whose"),
    [
        (
            {"cryptoconsumer:stack": "other", "managed-by": "cryptoconsumer"},
            "belongs to stack other",
        ),
        ({}, "not tagged for any stack"),
    ],
)
def test_a_mapping_of_someone_else_is_left_pointing_at_the_deleted_function(
    world: World, tags: dict[str, str], whose: str
) -> None:
    world.up()
    uuid = foreign_mapping(world, tags)
    config = world.config()

    prepared = stack.plan_destroy(
        config, world.clients, delete_table=True, ctx=world.context(config)
    )

    (change,) = [c for c in prepared.plan.changes if c.name == uuid]
    assert change.action == "none"
    assert change.details == (
        f"{whose}; left alone, and left pointing at function {FUNCTION}, which this destroy "
        "deletes: its records will fail until its owner deletes the mapping",
    )
    stack.execute(prepared)
    (still,) = world.plain("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert still["UUID"] == uuid


def test_a_function_still_fed_by_someone_else_keeps_what_it_uses(world: World) -> None:
    world.up()
    foreign_mapping(world, {})
    world.faults.failing["lambda.DeleteFunction"] = ALWAYS

    failures = failures_of(world)

    assert [(f.resource, f.outcome) for f in failures] == [
        ("function", "failed"),
        ("log_group", "held back"),
        ("queue", "held back"),
        ("role", "held back"),
        ("table", "held back"),
        KEPT_RECORD,
    ]
    assert "a mapping this stack does not own still feeds it" in failures[1].error
    assert left(world) == {*STACK_RESOURCES, "settings"}  # ours is gone; the foreign one stays
