"""Alarms through the CLI: the plan's text, drift in `status` (exit 3) that `up` restores,
--no-alarms, --alarm-email (pending in status), and --alarm-topic-arn's refusals."""

from __future__ import annotations

import boto3
import pytest

from cryptoconsumer.aws import Clients
from cryptoconsumer.cli import stack_cmds
from tests.faults import Timings, aws_like

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:crypto-alarms"


@pytest.fixture
def faults(moto, monkeypatch):
    session = boto3.Session(region_name="us-east-1")
    quick = Timings(**{name: 0.0 for name in Timings.__dataclass_fields__})
    hooks = aws_like(session, timings=quick, endpoint_url=moto.url)
    monkeypatch.setattr(stack_cmds, "_clients", lambda target: Clients(target, session=session))
    return hooks


def test_the_plan_names_the_topic_each_alarm_and_the_mail_to_confirm(run, stream_arn):
    planned = run("plan", "--stream-arn", stream_arn, "--alarm-email", "ops@example.com")

    assert planned.exit_code == 0, str(planned)
    lines = [line.split() for line in planned.stdout.splitlines()]
    assert ["+", "topic", "crypto-alarms"] in lines
    for kind in ("iterator-age", "errors", "dead-letters", "throttles"):
        assert ["+", "alarm", f"crypto-{kind}"] in lines
    assert "subscribe ops@example.com by e-mail: it must confirm from the mail AWS sends" in (
        " ".join(planned.stdout.split())
    )


def test_a_threshold_changed_outside_up_is_drift_in_status_and_up_restores_it(run, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn).exit_code == 0
    cloudwatch = aws("cloudwatch")
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["crypto-throttles"])["MetricAlarms"]
    cloudwatch.put_metric_alarm(
        AlarmName=alarm["AlarmName"],
        AlarmDescription=alarm["AlarmDescription"],
        Namespace=alarm["Namespace"],
        MetricName=alarm["MetricName"],
        Dimensions=alarm["Dimensions"],
        Statistic=alarm["Statistic"],
        Period=alarm["Period"],
        EvaluationPeriods=alarm["EvaluationPeriods"],
        DatapointsToAlarm=1,
        Threshold=50.0,
        ComparisonOperator=alarm["ComparisonOperator"],
        TreatMissingData=alarm["TreatMissingData"],
        AlarmActions=alarm["AlarmActions"],
        OKActions=alarm["OKActions"],
    )

    drifted = run("status", "--stream-arn", stream_arn, "--output", "json")
    restored = run("up", "--stream-arn", stream_arn)
    healthy = run("status", "--stream-arn", stream_arn, "--output", "json")

    assert drifted.exit_code == 3, str(drifted)
    (row,) = [r for r in drifted.json()["resources"] if r["name"] == "crypto-throttles"]
    assert row["drift"] == ["threshold: 50 -> 0"] and row["owned"] is True
    assert restored.exit_code == 0, str(restored)
    assert healthy.exit_code == 0, str(healthy)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["crypto-throttles"])["MetricAlarms"]
    assert alarm["Threshold"] == 0


def test_no_alarms_removes_ours_on_the_next_up(run, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn).exit_code == 0

    planned = run("plan", "--no-alarms")
    removed = run("up", "--no-alarms")
    found = run("status", "--output", "json")

    assert planned.exit_code == 0, str(planned)
    lines = [line.split() for line in planned.stdout.splitlines()]
    assert ["-", "topic", "crypto-alarms"] in lines and ["-", "alarm", "crypto-errors"] in lines
    assert removed.exit_code == 0, str(removed)
    assert aws("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert aws("sns").list_topics()["Topics"] == []
    assert found.exit_code == 0, str(found)  # recorded: alarms off is what is wanted
    assert {r["resource"] for r in found.json()["resources"]}.isdisjoint({"alarm", "topic"})


def test_status_shows_subscriptions_still_pending(run, stream_arn, faults):
    assert run("up", "--stream-arn", stream_arn, "--alarm-email", "ops@example.com").exit_code == 0

    pending = run("status")
    as_json = run("status", "--output", "json")
    faults.confirm_email("ops@example.com")
    confirmed = run("status", "--output", "json")

    assert pending.exit_code == 0, str(pending)
    assert (
        "pending: ops@example.com has not confirmed its alarm subscription (see its mail)"
        in pending.stdout
    )
    assert as_json.json()["pending_subscriptions"] == ["ops@example.com"]
    assert confirmed.json()["pending_subscriptions"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alarm-email", "not an address"], "is not one e-mail address"),
        (["--alarm-topic-arn", "arn:aws:sqs:us-east-1:123456789012:q"], "not an SNS topic ARN"),
        (
            ["--alarm-topic-arn", "arn:aws:sns:eu-west-1:123456789012:pager"],
            "CloudWatch notifies topics of its own region only",
        ),
        (
            [
                "--alarm-topic-arn",
                "arn:aws:sns:us-east-1:123456789012:pager",
                "--alarm-email",
                "a@example.com",
            ],
            "subscribe the addresses to that topic yourself",
        ),
        (["--no-alarms", "--alarm-email", "a@example.com"], "need alarms"),
        (["--alarm-iterator-age", "10s"], "--alarm-iterator-age"),
    ],
)
def test_bad_alarm_options_are_refused_before_any_call(run, moto, stream_arn, args, message):
    moto.clear_log()

    refused = run("up", "--stream-arn", stream_arn, *args)

    assert refused.exit_code == 2, str(refused)
    assert len(refused.error_lines) == 1 and message in refused.stderr, str(refused)
    assert [str(r) for r in moto.requests] in ([], ["ssm:GetParameter"])


def test_a_missing_alarm_topic_is_refused_and_nothing_is_made(run, aws, moto, stream_arn):
    refused = run(
        "up",
        "--stream-arn",
        stream_arn,
        "--alarm-topic-arn",
        TOPIC_ARN.replace("crypto-alarms", "x"),
    )

    assert refused.exit_code == 1, str(refused)
    assert "does not exist" in refused.stderr
    assert moto.mutating() == []
