"""The dashboard STACK-consumer: made by `up`, recognised by its marker, drift restored, removed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cryptoconsumer import stack
from cryptoconsumer.config import ALARM_KINDS
from cryptoconsumer.errors import OwnershipError
from cryptoconsumer.resources import dashboard
from cryptoconsumer.status import read_status

from .conftest import REGION, World

NAME = "crypto-consumer"


def body_of(world: World, name: str = NAME) -> dict[str, Any]:
    return json.loads(world.plain("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])


def metrics_of(body: dict[str, Any]) -> dict[str, list[list[Any]]]:
    return {
        w["properties"]["title"]: w["properties"]["metrics"]
        for w in body["widgets"]
        if w["type"] == "metric"
    }


def dashboard_row(world: World, **options: Any) -> Any:
    config = world.config(**options)
    found = read_status(config, world.clients, world.context(config))
    return next(row for row in found.resources if row.resource == "dashboard")


def test_up_makes_the_graphs_an_on_call_person_opens_first(world: World) -> None:
    outputs = world.up()

    body = body_of(world)
    graphs = metrics_of(body)
    assert list(graphs) == [
        "Records into the stream",
        "Iterator age (ms)",
        "Invocations and errors",
        "Duration (ms) against the timeout",
        "Concurrency and throttles",
        "Dead letters waiting",
        "DynamoDB writes",
    ]
    named = {tuple(m[:2]) for lines in graphs.values() for m in lines}
    assert named == {
        ("AWS/Kinesis", "IncomingRecords"),
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/Lambda", "Invocations"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "ConcurrentExecutions"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/DynamoDB", "ConsumedWriteCapacityUnits"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
    }
    duration = next(
        w for w in body["widgets"] if w["properties"].get("title", "").startswith("Duration")
    )
    assert [m[-1]["stat"] for m in duration["properties"]["metrics"]] == ["p50", "p99"]
    assert duration["properties"]["annotations"]["horizontal"] == [
        {"label": "timeout 20 s", "value": 20_000}
    ]
    (alarms,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert alarms["properties"]["alarms"] == [
        f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:crypto-{kind}" for kind in ALARM_KINDS
    ]
    assert all(w["x"] + w["width"] <= 24 for w in body["widgets"])  # CloudWatch's grid
    assert outputs["dashboard_url"] == (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home"
        f"?region={REGION}#dashboards:name={NAME}"
    )
    assert dashboard_row(world).drift == ()


def test_no_alarms_means_no_alarm_widget(world: World) -> None:
    config = world.config()
    ctx = world.context(config)
    ctx.account, ctx.partition = "123456789012", "aws"
    spec = config.dashboard
    assert spec is not None
    without = dashboard.body(ctx, type(spec)(**{**spec.__dict__, "alarms": ()}), "ticks")

    assert [w["type"] for w in without["widgets"]].count("alarm") == 0
    assert without["widgets"][0]["width"] == 24  # the marker takes the whole first row


def test_a_console_edit_is_drift_and_up_puts_the_body_back(world: World) -> None:
    world.up()
    edited = body_of(world)
    edited["widgets"] = [w for w in edited["widgets"] if w["type"] != "alarm"]
    next(w for w in edited["widgets"] if w["type"] == "metric")["properties"]["period"] = 300
    world.plain("cloudwatch").put_dashboard(DashboardName=NAME, DashboardBody=json.dumps(edited))

    assert dashboard_row(world).drift == (
        "widget 'Alarms': removed -> restored",
        "widget 'Records into the stream': edited -> restored",
    )
    config = world.config()
    planned = stack.plan_up(config, world.clients, ctx=world.context(config)).plan
    (change,) = planned.for_resource("dashboard")
    assert change.action == "update"

    world.up()

    assert dashboard_row(world).drift == ()
    assert len([w for w in body_of(world)["widgets"] if w["type"] == "alarm"]) == 1


def test_whitespace_and_key_order_are_not_drift(world: World) -> None:
    world.up()
    body = body_of(world)
    reordered = json.dumps(body, indent=4)
    world.plain("cloudwatch").put_dashboard(DashboardName=NAME, DashboardBody=reordered)

    assert dashboard_row(world).drift == ()


def test_someone_elses_dashboard_of_our_name_is_never_overwritten(world: World) -> None:
    theirs = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2,
                           "properties": {"markdown": "ops team"}}]}  # fmt: skip
    world.plain("cloudwatch").put_dashboard(DashboardName=NAME, DashboardBody=json.dumps(theirs))

    with pytest.raises(OwnershipError, match="dashboard crypto-consumer exists but"):
        world.up()
    world.destroy()

    assert body_of(world) == theirs  # destroy left it alone too
    row = dashboard_row(world)
    assert row.owned is False and "not tagged for this stack" in row.problems


def test_another_stacks_marker_is_not_ours(world: World) -> None:
    world.up(stack="crypto-prod")
    marker = body_of(world, "crypto-prod-consumer")
    world.plain("cloudwatch").put_dashboard(DashboardName=NAME, DashboardBody=json.dumps(marker))

    with pytest.raises(OwnershipError):
        world.up()


def test_destroy_removes_it_and_no_dashboard_removes_ours_on_the_next_up(world: World) -> None:
    world.up()
    outputs = world.up(dashboard=False)

    assert outputs["dashboard_url"] is None
    listed = world.plain("cloudwatch").list_dashboards()["DashboardEntries"]
    assert [d["DashboardName"] for d in listed] == []

    world.up()
    world.destroy()
    assert world.plain("cloudwatch").list_dashboards()["DashboardEntries"] == []


def test_a_fresh_up_plans_it_and_a_second_plans_nothing(world: World) -> None:
    config = world.config()
    first = stack.plan_up(config, world.clients, ctx=world.context(config)).plan
    (change,) = first.for_resource("dashboard")
    assert (change.action, change.details) == ("create", ("7 graphs, the states of 4 alarm(s)",))
    world.up()

    second = stack.plan_up(config, world.clients, ctx=world.context(config)).plan
    assert [c.action for c in second.for_resource("dashboard")] == ["none"]


@pytest.mark.parametrize(
    ("partition", "region", "url"),
    [
        ("aws", "eu-west-1", "https://eu-west-1.console.aws.amazon.com/cloudwatch/home"),
        ("aws-cn", "cn-north-1", "https://cn-north-1.console.amazonaws.cn/cloudwatch/home"),
        (
            "aws-us-gov",
            "us-gov-west-1",
            "https://us-gov-west-1.console.amazonaws-us-gov.com/cloudwatch/home",
        ),
    ],
)
def test_the_console_url_is_the_partitions(partition: str, region: str, url: str) -> None:
    assert dashboard.console_url(partition, region, "s-consumer") == (
        f"{url}?region={region}#dashboards:name=s-consumer"
    )


def test_no_public_console_no_url() -> None:
    assert dashboard.console_url("aws-iso", "us-iso-east-1", "s-consumer") is None
