"""The stack's CloudWatch alarms: made, compared, restored, retired and removed by `up` and
`destroy`, on moto made to behave like AWS (PutMetricAlarm ignores Tags on an existing alarm)."""

from __future__ import annotations

from typing import Any

import pytest

from cryptoconsumer import stack
from cryptoconsumer.errors import OwnershipError
from tests.resources.conftest import World

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:crypto-alarms"
NAMES = ["crypto-dead-letters", "crypto-errors", "crypto-iterator-age", "crypto-throttles"]
OURS = {"cryptoconsumer:stack": "crypto", "managed-by": "cryptoconsumer"}


def alarms(world: World, prefix: str = "crypto-") -> dict[str, dict[str, Any]]:
    found = world.plain("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    return {alarm["AlarmName"]: alarm for alarm in found}


def tags(world: World, name: str) -> dict[str, str]:
    arn = alarms(world)[name]["AlarmArn"]
    found = world.plain("cloudwatch").list_tags_for_resource(ResourceARN=arn)["Tags"]
    return {tag["Key"]: tag["Value"] for tag in found}


def planned(world: World, **options: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    config = world.config(**options)
    changes = stack.plan_up(config, world.clients, ctx=world.context(config)).plan.changes
    return {c.name: (c.action, c.details) for c in changes if c.resource == "alarm"}


def test_up_makes_four_tagged_alarms_that_notify_the_stacks_topic(world: World) -> None:
    world.up()

    found = alarms(world)
    assert sorted(found) == NAMES
    age = found["crypto-iterator-age"]
    assert (age["Namespace"], age["MetricName"], age["Statistic"]) == (
        "AWS/Lambda",
        "IteratorAge",
        "Maximum",
    )
    assert age["Dimensions"] == [{"Name": "FunctionName", "Value": "crypto_data_consumer"}]
    assert (age["Period"], age["EvaluationPeriods"], age["DatapointsToAlarm"]) == (60, 3, 3)
    assert age["Threshold"] == 300_000  # 5 minutes, in milliseconds
    assert age["ComparisonOperator"] == "GreaterThanThreshold"
    errors = found["crypto-errors"]
    assert (errors["MetricName"], errors["Statistic"], errors["Period"]) == ("Errors", "Sum", 300)
    assert errors["Threshold"] == 0
    dead = found["crypto-dead-letters"]
    assert (dead["Namespace"], dead["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert dead["Dimensions"] == [{"Name": "QueueName", "Value": "crypto_data_consumer-dlq"}]
    assert found["crypto-throttles"]["MetricName"] == "Throttles"
    for name, alarm in found.items():
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert alarm["AlarmActions"] == [TOPIC_ARN] and alarm["OKActions"] == [TOPIC_ARN]
        assert tags(world, name) == OURS


def test_alarm_iterator_age_sets_the_threshold(world: World) -> None:
    world.up(alarm_iterator_age=900)

    assert alarms(world)["crypto-iterator-age"]["Threshold"] == 900_000


def test_a_no_op_up_reads_every_alarm_in_one_call_and_no_tags(world: World) -> None:
    world.up()
    world.faults.calls.clear()

    assert set(a for a, _ in planned(world).values()) == {"none"}
    assert world.faults.calls["cloudwatch.DescribeAlarms"] == 1
    assert world.faults.calls["cloudwatch.ListTagsForResource"] == 0
    assert world.faults.calls["sts.GetCallerIdentity"] == 0  # the alarms name the topic


def test_a_threshold_changed_outside_up_is_drift_and_up_restores_it(world: World) -> None:
    world.up()
    changed = dict(alarms(world)["crypto-errors"])
    world.plain("cloudwatch").put_metric_alarm(
        **{
            key: changed[key]
            for key in (
                "AlarmName",
                "AlarmDescription",
                "Namespace",
                "MetricName",
                "Dimensions",
                "Statistic",
                "Period",
                "EvaluationPeriods",
                "ComparisonOperator",
                "TreatMissingData",
                "AlarmActions",
                "OKActions",
            )
        },
        DatapointsToAlarm=1,
        Threshold=5.0,
    )

    assert planned(world)["crypto-errors"] == ("update", ("threshold: 5 -> 0",))
    world.up()

    assert alarms(world)["crypto-errors"]["Threshold"] == 0
    assert tags(world, "crypto-errors") == OURS  # still the tags of its creation
    assert planned(world)["crypto-errors"][0] == "none"


def test_put_metric_alarm_ignores_tags_on_an_existing_alarm_as_aws_does(world: World) -> None:
    world.up()
    alarm = alarms(world)["crypto-errors"]
    world.clients.cloudwatch.put_metric_alarm(
        AlarmName="crypto-errors",
        Namespace=alarm["Namespace"],
        MetricName=alarm["MetricName"],
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=0.0,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[{"Key": "extra", "Value": "1"}],
    )

    assert "extra" not in tags(world, "crypto-errors")


def test_someone_elses_alarm_of_our_name_is_never_changed(world: World) -> None:
    world.plain("cloudwatch").put_metric_alarm(
        AlarmName="crypto-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="GreaterThanThreshold",
    )

    with pytest.raises(OwnershipError, match="alarm crypto-errors exists but is not tagged"):
        world.up()

    assert alarms(world)["crypto-errors"]["Threshold"] == 10
    assert "crypto-iterator-age" not in alarms(world)  # refused before any change


def test_another_stacks_alarms_sharing_the_prefix_are_not_ours(world: World) -> None:
    world.up(stack="crypto-prod")
    world.faults.calls.clear()

    world.up()
    world.destroy()

    assert sorted(alarms(world, "crypto-prod-")) == [
        n.replace("crypto", "crypto-prod") for n in NAMES
    ]
    assert sorted(alarms(world)) == [n.replace("crypto", "crypto-prod") for n in NAMES]


def test_no_dlq_has_no_dead_letter_alarm_and_removes_ours(world: World) -> None:
    world.up()

    assert planned(world, dlq=False)["crypto-dead-letters"] == ("delete", ("no dead-letter queue",))
    world.up(dlq=False)

    assert sorted(alarms(world)) == [n for n in NAMES if n != "crypto-dead-letters"]


def test_no_alarms_removes_ours_and_their_topic_on_the_next_up(world: World) -> None:
    world.up()

    world.up(alarms=False)

    assert alarms(world) == {}
    assert world.plain("sns").list_topics()["Topics"] == []


def test_no_alarms_leaves_an_unmarked_alarm_of_our_name_alone(world: World) -> None:
    world.plain("cloudwatch").put_metric_alarm(
        AlarmName="crypto-errors",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10.0,
        ComparisonOperator="GreaterThanThreshold",
    )

    world.up(alarms=False)
    world.destroy()

    assert sorted(alarms(world)) == ["crypto-errors"]


def test_destroy_removes_the_alarms_and_the_topic(world: World) -> None:
    world.up(alarm_email=("ops@example.com",))

    world.destroy()

    assert alarms(world) == {}
    assert world.plain("sns").list_topics()["Topics"] == []
    assert world.plain("sns").list_subscriptions()["Subscriptions"] == []
