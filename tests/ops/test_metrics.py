"""What `status` reads besides resources: per-minute series, the mapping's event counts, alarms."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from cryptoconsumer.aws import Clients
from cryptoconsumer.ops import metrics
from cryptoconsumer.ops.alarm_states import alarm_states
from cryptoconsumer.ops.sparkline import BLOCKS, bars
from cryptoconsumer.resources.alarms import read_all
from cryptoconsumer.resources.base import Context

from .conftest import Deployed, create_stream, deploy, json_of


def put_alarm(deployed: Deployed, name: str) -> None:
    """An alarm of that name, unless `up` made it (overwriting ours would be drift)."""
    cloudwatch = deployed.client("cloudwatch")
    if cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
        return
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": deployed.function_name}],
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )


def set_state(deployed: Deployed, name: str, state: str, reason: str) -> None:
    # moto stores alarms but never evaluates them: the tests set the state as AWS would.
    deployed.client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue=state, StateReason=reason
    )


def put_mapping_count(deployed: Deployed, name: str, value: float) -> None:
    deployed.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [
                    {"Name": "EventSourceMappingUUID", "Value": deployed.outputs["mapping_uuid"]}
                ],
                "Value": value,
                "Unit": "Count",
                "Timestamp": datetime.now(timezone.utc) - timedelta(minutes=1),
            }
        ],
    )


# -- the sparkline ---------------------------------------------------------------------------


def test_bars_scale_from_zero_and_show_any_value_above_it() -> None:
    assert bars([0, 0, 0]) == BLOCKS[0] * 3
    assert bars([0, 1, 100]) == BLOCKS[0] + BLOCKS[1] + BLOCKS[-1]
    assert bars([5, 5]) == BLOCKS[-1] * 2  # steady traffic is full, not "middle"
    assert bars([None, 2, None, 4]) == " " + BLOCKS[4] + " " + BLOCKS[-1]
    assert bars([]) == ""


def test_bars_round_to_the_nearest_level() -> None:
    top = len(BLOCKS) - 1
    drawn = bars([float(v) for v in range(top + 1)])
    assert drawn == BLOCKS


# -- one call, whatever the window -----------------------------------------------------------


def test_periods_stay_one_minute_until_the_window_would_not_fit_one_answer() -> None:
    assert metrics.period_for(15 * 60, 11) == 60
    assert metrics.period_for(86400, 11) == 60  # 1,440 minutes x 11 = 15,840 points
    long = metrics.period_for(15 * 86400, 17)
    assert long % 60 == 0 and 15 * 86400 / long * 17 <= metrics.MAX_DATAPOINTS


def test_deleted_event_count_is_not_asked_for_a_kinesis_mapping() -> None:
    # AWS publishes DeletedEventCount for SQS mappings only.
    names = [q.metric for q in metrics.queries("f", None, ("u",))]
    assert "DeletedEventCount" not in names
    assert names[-6:] == [metric for _, metric in metrics.MAPPING_METRICS]


def test_mapping_event_counts_come_with_the_other_metrics(deployed: Deployed, cli: Any) -> None:
    put_mapping_count(deployed, "PolledEventCount", 12)
    put_mapping_count(deployed, "FilteredOutEventCount", 2)
    put_mapping_count(deployed, "InvokedEventCount", 10)
    put_mapping_count(deployed, "DroppedEventCount", 3)

    result = cli("status", "--output", "json")

    assert result.exit_code == 3  # dropped records are lost records
    (events,) = json_of(result)["metrics"]["mappings"]
    assert events["events"] == {
        "polled": 12,
        "filtered_out": 2,
        "invoked": 10,
        "failed_invoke": None,
        "dropped": 3,
        "on_failure_delivered": None,
    }
    assert sum(events["series"]["polled"]["values"]) == 12
    assert any("3 record(s) dropped" in reason for reason in json_of(result)["reasons"])

    text = cli("status").stdout
    assert "12 polled, 10 invoked, 2 filtered out, 3 dropped" in " ".join(text.split())
    assert "2 record(s) matched no filter: never reached the function" in text


# -- alarms ----------------------------------------------------------------------------------


def test_only_this_stacks_exact_alarm_names_are_read(clients: Clients) -> None:
    deployed = deploy(create_stream(clients), clients, alarms=False)
    stack = deployed.config.stack
    for name in (f"{stack}-errors", f"{stack}-throttles", f"{stack}-prod-errors", "other"):
        put_alarm(deployed, name)

    ctx = Context(clients=clients, config=deployed.config)
    found = alarm_states(read_all(ctx, stack), stack)

    assert [(a.kind, a.name) for a in found] == [
        ("errors", f"{stack}-errors"),
        ("throttles", f"{stack}-throttles"),
    ]


def test_an_alarm_in_alarm_makes_the_stack_unhealthy_and_says_which(
    deployed: Deployed, cli: Any
) -> None:
    stack = deployed.config.stack
    put_alarm(deployed, f"{stack}-errors")
    put_alarm(deployed, f"{stack}-iterator-age")
    put_alarm(deployed, f"{stack}-prod-errors")
    set_state(deployed, f"{stack}-errors", "ALARM", "Threshold Crossed: 1 datapoint [2.0]")
    set_state(deployed, f"{stack}-iterator-age", "OK", "Threshold not crossed")
    set_state(deployed, f"{stack}-prod-errors", "ALARM", "another stack's")

    result = cli("status", "--output", "json")

    assert result.exit_code == 3
    document = json_of(result)
    assert document["healthy"] is False
    # The stack's own four alarms (moto starts them OK), never another stack's.
    assert [(a["name"], a["state"]) for a in document["alarms"]] == [
        (f"{stack}-iterator-age", "OK"),
        (f"{stack}-errors", "ALARM"),
        (f"{stack}-dead-letters", "OK"),
        (f"{stack}-throttles", "OK"),
    ]
    assert document["problems"] == [
        f"alarm {stack}-errors is in ALARM: Threshold Crossed: 1 datapoint [2.0]"
    ]

    text = cli("status").stdout.splitlines()
    at = text.index("alarms:")
    assert text[at + 1].split() == ["OK", f"{stack}-iterator-age"]
    assert text[at + 3].split() == ["ALARM", f"{stack}-errors"]
    assert text[at + 4].strip() == "Threshold Crossed: 1 datapoint [2.0]"


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_other_states_are_shown_but_healthy(deployed: Deployed, cli: Any, state: str) -> None:
    name = f"{deployed.config.stack}-throttles"
    put_alarm(deployed, name)
    set_state(deployed, name, state, "quiet")

    result = cli("status", "--output", "json")

    assert result.exit_code == 0
    states = {a["name"]: a["state"] for a in json_of(result)["alarms"]}
    assert states[name] == state
