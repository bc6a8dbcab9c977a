"""Replacing the mapping under real AWS's behaviour (tests/faults.py): a new source is made
before the old one is broken, a failure at any point leaves the old mapping or the new one
(never neither), a re-run finishes the switch and `destroy` removes both; where the new one
starts, and that the next plan leaves it alone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from cryptoconsumer import stack
from cryptoconsumer.errors import CryptoConsumerError
from cryptoconsumer.resources import mapping
from cryptoconsumer.resources.lookback import MARGIN_SECONDS, WINDOW_SECONDS
from tests.resources.conftest import REGION, World

FUNCTION = "crypto_data_consumer"


def mappings(world: World) -> list[dict[str, Any]]:
    found = world.plain("lambda").list_event_source_mappings(FunctionName=FUNCTION)
    return sorted(found["EventSourceMappings"], key=lambda m: m["EventSourceArn"])


def second_stream() -> str:
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="ticks-2", ShardCount=1)
    return str(
        kinesis.describe_stream_summary(StreamName="ticks-2")["StreamDescriptionSummary"][
            "StreamARN"
        ]
    )


def plan(world: World, replace_mapping: bool = True, **options: Any) -> stack.Prepared:
    config = world.config(**options)
    return stack.plan_up(
        config, world.clients, replace_mapping=replace_mapping, ctx=world.context(config)
    )


def mapping_changes(prepared: stack.Prepared) -> list[Any]:
    return prepared.plan.for_resource("mapping")


def test_a_move_creates_the_new_mapping_before_deleting_the_old(world: World) -> None:
    world.up()
    (old,) = mappings(world)
    first = world.stream_arn
    world.stream_arn = second_stream()
    before = datetime.now(timezone.utc).replace(microsecond=0)

    (change,) = mapping_changes(plan(world))

    assert change.action == "replace"
    how = change.how
    assert how.order == "create_then_delete"
    # Another stream: from the moment before the create, not the first poll (LATEST).
    assert how.starting_position == "AT_TIMESTAMP"
    assert before <= how.starting_timestamp <= datetime.now(timezone.utc)
    assert f"source: {first} -> {world.stream_arn}" in change.details
    assert any(d.startswith("create the new mapping first") for d in change.details)
    world.faults.calls.clear()

    world.up(replace_mapping=True)

    (new,) = mappings(world)
    assert new["EventSourceArn"] == world.stream_arn and new["UUID"] != old["UUID"]
    assert new["StartingPosition"] == "AT_TIMESTAMP"
    order = [k for k in world.faults.calls if k.endswith("EventSourceMapping")]
    assert order.index("lambda.CreateEventSourceMapping") < order.index(
        "lambda.DeleteEventSourceMapping"
    )
    # Recorded as LATEST, as asked: the next plan has nothing to replace.
    tags = world.plain("lambda").list_tags(Resource=new["EventSourceMappingArn"])["Tags"]
    assert tags[mapping.START_TAG] == "LATEST"
    assert [c.action for c in mapping_changes(plan(world, replace_mapping=False))] == ["none"]


def test_a_failed_create_leaves_the_old_mapping_enabled_and_a_rerun_finishes(
    world: World,
) -> None:
    world.up()
    (old,) = mappings(world)
    world.stream_arn = second_stream()
    world.faults.calls.clear()
    world.faults.failing["lambda.CreateEventSourceMapping"] = 1

    with pytest.raises(CryptoConsumerError):
        world.up(replace_mapping=True)

    assert world.faults.calls["lambda.CreateEventSourceMapping"] == 1
    assert world.faults.calls["lambda.DeleteEventSourceMapping"] == 0
    (still,) = mappings(world)
    assert still["UUID"] == old["UUID"] and still["State"] == "Enabled"

    world.up(replace_mapping=True)

    (new,) = mappings(world)
    assert new["EventSourceArn"] == world.stream_arn and new["State"] == "Enabled"


@pytest.mark.parametrize("then", ["up again", "destroy"])
def test_a_failed_delete_leaves_both_then_up_deletes_the_old_or_destroy_both(
    world: World, then: str
) -> None:
    world.up()
    (old,) = mappings(world)
    first = world.stream_arn
    world.stream_arn = second_stream()
    world.faults.failing["lambda.DeleteEventSourceMapping"] = 1

    with pytest.raises(CryptoConsumerError):
        world.up(replace_mapping=True)

    both = mappings(world)
    assert [m["EventSourceArn"] for m in both] == sorted([first, world.stream_arn])
    assert {m["State"] for m in both} == {"Enabled"}
    if then == "destroy":
        world.destroy(delete_table=True)
        assert mappings(world) == []
        return
    # No --replace-mapping: the mapping of the desired source exists, so the other one only
    # finishes an interrupted switch.
    changes = mapping_changes(plan(world, replace_mapping=False))
    assert [(c.action, c.name) for c in changes] == [
        ("none", next(m["UUID"] for m in both if m["UUID"] != old["UUID"])),
        ("delete", old["UUID"]),
    ]
    assert "superseded by mapping" in changes[1].details[0]

    world.up()

    (kept,) = mappings(world)
    assert kept["EventSourceArn"] == world.stream_arn


def test_a_new_position_on_the_same_stream_deletes_first_and_looks_back(world: World) -> None:
    world.up(starting_position="TRIM_HORIZON")
    (old,) = mappings(world)
    world.faults.calls.clear()

    (change,) = mapping_changes(plan(world, starting_position="LATEST"))

    how = change.how
    assert how.order == "delete_then_create"
    # No IteratorAge datapoint here: the whole window and the margin are read again.
    assert how.starting_position == "AT_TIMESTAMP"
    assert how.starting_timestamp <= datetime.now(timezone.utc) - timedelta(
        seconds=WINDOW_SECONDS + MARGIN_SECONDS - 5
    )
    assert "no IteratorAge datapoint" in how.reason
    assert world.faults.calls["cloudwatch.GetMetricData"] == 1

    world.up(replace_mapping=True, starting_position="LATEST")

    (new,) = mappings(world)
    assert new["UUID"] != old["UUID"] and new["StartingPosition"] == "AT_TIMESTAMP"
    order = [k for k in world.faults.calls if k.endswith("EventSourceMapping")]
    assert order.index("lambda.DeleteEventSourceMapping") < order.index(
        "lambda.CreateEventSourceMapping"
    )
    again = mapping_changes(plan(world, replace_mapping=False, starting_position="LATEST"))
    assert [c.action for c in again] == ["none"]


def test_an_explicit_trim_horizon_is_a_deliberate_reset(world: World) -> None:
    world.up()

    (change,) = mapping_changes(plan(world, starting_position="TRIM_HORIZON"))

    assert change.how.order == "delete_then_create"
    assert change.how.starting_position == "TRIM_HORIZON"
    assert change.how.starting_timestamp is None
    assert "deliberate reset" in change.how.reason
    assert change.how.as_json() == {
        "order": "delete_then_create",
        "starting_position": "TRIM_HORIZON",
        "starting_timestamp": None,
        "reason": change.how.reason,
    }
    world.up(replace_mapping=True, starting_position="TRIM_HORIZON")
    (new,) = mappings(world)
    assert new["StartingPosition"] == "TRIM_HORIZON"


def test_the_look_back_covers_the_old_mappings_largest_iterator_age(world: World) -> None:
    world.up(starting_position="TRIM_HORIZON")
    now = datetime.now(timezone.utc)
    world.plain("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "IteratorAge",
                "Dimensions": [{"Name": "FunctionName", "Value": FUNCTION}],
                "Value": age,
                "Unit": "Milliseconds",
                "Timestamp": now - timedelta(minutes=2),
            }
            for age in (800.0, 30_000.0)
        ],
    )

    (change,) = mapping_changes(plan(world, starting_position="LATEST"))

    back = (now - change.how.starting_timestamp).total_seconds()
    assert 30 + MARGIN_SECONDS - 5 <= back <= 30 + MARGIN_SECONDS + 1
    assert "at most 30.0 s behind" in change.how.reason
    assert change.how.reason in change.details
