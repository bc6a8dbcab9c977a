"""`status` health: states, one GetMetricData call, the dead-letter queue, --watch."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.cli import live, stack_cmds
from cryptoconsumer.ops import health

from .conftest import REGION, Deployed, json_of, session_with_hooks


def put_metric(deployed: Deployed, name: str, value: float, minutes_ago: float = 1) -> None:
    deployed.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "FunctionName", "Value": deployed.function_name}],
                "Value": value,
                "Timestamp": datetime.now(timezone.utc) - timedelta(minutes=minutes_ago),
            }
        ],
    )


def test_a_fresh_stack_is_healthy_with_zero_metrics(deployed: Deployed, cli: Any) -> None:
    result = cli("status", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["healthy"] is True
    assert document["problems"] == [] and document["reasons"] == []
    metrics = document["metrics"]
    assert {key: metrics[key] for key in ("invocations", "errors", "throttles")} == {
        "invocations": 0,
        "errors": 0,
        "throttles": 0,
    }
    assert (metrics["window_seconds"], metrics["period_seconds"]) == (900, 60)
    assert metrics["max_iterator_age_ms"] is None
    # One value a minute: counts without a datapoint are 0, gauges without one None.
    assert metrics["series"]["invocations"]["values"] == [0.0] * 15
    assert metrics["series"]["iterator_age"]["values"] == [None] * 15
    assert metrics["series"]["dead_letters"]["values"] == [None] * 15
    (events,) = metrics["mappings"]
    assert events["uuid"] == deployed.outputs["mapping_uuid"]
    assert set(events["events"].values()) == {None}  # MetricsConfig off: nothing published
    # `up` made the four alarms; none is in ALARM.
    assert [a["kind"] for a in document["alarms"]] == [
        "iterator-age",
        "errors",
        "dead-letters",
        "throttles",
    ]
    assert all(a["state"] != "ALARM" for a in document["alarms"])
    assert document["max_iterator_age_seconds"] == 60
    mapping = document["health"]["mapping"]
    assert mapping["state"] == "Enabled"
    assert mapping["source_arn"] == deployed.stream_arn
    assert mapping["uuid"] == deployed.outputs["mapping_uuid"]
    assert document["health"]["function"] == {
        "name": deployed.function_name,
        "state": "Active",
        "state_reason": None,
        "state_reason_code": None,
        "last_update_status": "Successful",
        "last_update_status_reason": None,
        "last_update_status_reason_code": None,
    }
    assert document["health"]["dead_letter_queue"] == {
        "name": deployed.config.queue.name,
        "approximate_messages": 0,
    }


def test_errors_iterator_age_and_dead_letters_each_give_a_reason(
    deployed: Deployed, cli: Any
) -> None:
    put_metric(deployed, "Invocations", 10)
    put_metric(deployed, "Errors", 3)
    put_metric(deployed, "Throttles", 1)
    put_metric(deployed, "IteratorAge", 120_000)
    deployed.client("sqs").send_message(QueueUrl=deployed.queue_url, MessageBody="{}")

    result = cli("status", "--output", "json")

    assert result.exit_code == 3
    document = json_of(result)
    assert document["healthy"] is False
    assert document["metrics"]["invocations"] == 10
    assert document["metrics"]["errors"] == 3
    assert document["metrics"]["throttles"] == 1
    assert document["metrics"]["max_iterator_age_ms"] == 120_000
    assert document["health"]["dead_letter_queue"]["approximate_messages"] == 1
    reasons = document["problems"]
    assert reasons == document["reasons"]
    assert f"function {deployed.function_name}: 3 error(s) in the last 15m" in reasons
    assert any("iterator age 120.0 s exceeds 60 s" in reason for reason in reasons)
    assert any(
        reason.startswith(f"queue {deployed.config.queue.name}: 1 message(s) waiting")
        for reason in reasons
    )
    assert len(reasons) == 3  # throttles are reported, not a reason


def test_max_iterator_age_and_window_change_the_verdict(deployed: Deployed, cli: Any) -> None:
    put_metric(deployed, "IteratorAge", 120_000)
    put_metric(deployed, "Errors", 2, minutes_ago=30)

    relaxed = cli("status", "--output", "json", "--max-iterator-age", "5m")
    wider = cli("status", "--output", "json", "--window", "1h", "--max-iterator-age", "3m")

    assert relaxed.exit_code == 0, json_of(relaxed)["problems"]
    assert json_of(relaxed)["metrics"]["errors"] == 0  # 30 minutes ago is outside 15m
    assert wider.exit_code == 3
    assert json_of(wider)["metrics"]["window_seconds"] == 3600
    assert json_of(wider)["problems"] == [
        f"function {deployed.function_name}: 2 error(s) in the last 1h"
    ]


def test_one_get_metric_data_call_with_one_minute_periods(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    session = session_with_hooks(**{"provide-client-params.cloudwatch.GetMetricData": record})
    monkeypatch.setattr(stack_cmds, "_clients", lambda target: Clients(target, session=session))

    result = cli("status", "--output", "json", "--window", "30m")

    assert result.exit_code == 0, result.stderr
    assert len(calls) == 1
    queries = calls[0]["MetricDataQueries"]
    shown = [
        (
            q["MetricStat"]["Metric"]["Namespace"],
            q["MetricStat"]["Metric"]["MetricName"],
            q["MetricStat"]["Stat"],
            q["MetricStat"]["Metric"]["Dimensions"],
        )
        for q in queries
    ]
    function = [{"Name": "FunctionName", "Value": deployed.function_name}]
    mapping = [{"Name": "EventSourceMappingUUID", "Value": deployed.outputs["mapping_uuid"]}]
    queue = [{"Name": "QueueName", "Value": deployed.config.queue.name}]
    assert shown == [
        ("AWS/Lambda", "Invocations", "Sum", function),
        ("AWS/Lambda", "Errors", "Sum", function),
        ("AWS/Lambda", "Throttles", "Sum", function),
        ("AWS/Lambda", "IteratorAge", "Maximum", function),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", queue),
        ("AWS/Lambda", "PolledEventCount", "Sum", mapping),
        ("AWS/Lambda", "FilteredOutEventCount", "Sum", mapping),
        ("AWS/Lambda", "InvokedEventCount", "Sum", mapping),
        ("AWS/Lambda", "FailedInvokeEventCount", "Sum", mapping),
        ("AWS/Lambda", "DroppedEventCount", "Sum", mapping),
        ("AWS/Lambda", "OnFailureDestinationDeliveredEventCount", "Sum", mapping),
    ]
    assert {q["MetricStat"]["Period"] for q in queries} == {60}
    assert calls[0]["EndTime"] - calls[0]["StartTime"] == timedelta(minutes=30)
    assert calls[0]["EndTime"].timestamp() % 60 == 0  # on CloudWatch's minute boundaries


def test_a_disabled_mapping_and_a_failed_processing_result_are_reasons(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed.client("lambda").update_event_source_mapping(
        UUID=deployed.outputs["mapping_uuid"], Enabled=False
    )

    def failing(parsed: dict[str, Any], **_: Any) -> None:
        for found in parsed.get("EventSourceMappings", []):
            found["LastProcessingResult"] = "PROBLEM: Function call failed"

    session = session_with_hooks(**{"after-call.lambda.ListEventSourceMappings": failing})
    monkeypatch.setattr(stack_cmds, "_clients", lambda target: Clients(target, session=session))

    result = cli("status", "--output", "json")

    assert result.exit_code == 3
    document = json_of(result)
    assert document["health"]["mapping"]["state"] == "Disabled"
    assert document["health"]["mapping"]["last_processing_result"] == (
        "PROBLEM: Function call failed"
    )
    uuid = deployed.outputs["mapping_uuid"]
    assert any(r.startswith(f"mapping {uuid}: state Disabled") for r in document["problems"])
    assert (
        f"mapping {uuid}: last processing result: PROBLEM: Function call failed"
        in document["problems"]
    )


def test_text_output_shows_metrics_and_reasons(deployed: Deployed, cli: Any) -> None:
    put_metric(deployed, "Errors", 1)

    result = cli("status")

    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    (errors,) = [line for line in lines if line.startswith("  errors ")]
    assert errors.endswith("total 1, min 0, max 1, last 0")
    function_row = next(i for i, line in enumerate(lines) if " function " in line)
    assert lines[function_row].split()[:3] == ["problem", "function", deployed.function_name]
    assert lines[function_row + 1].strip() == "problem: 1 error(s) in the last 15m"
    assert "NOT healthy" in result.stdout


@pytest.mark.parametrize(
    ("option", "value"),
    [("--window", "90s"), ("--window", "soon"), ("--window", "30d"), ("--max-iterator-age", "0")],
)
def test_bad_durations_exit_2_before_any_call(
    aws_env: None, cli: Any, option: str, value: str
) -> None:
    result = cli("status", option, value)

    assert result.exit_code == 2
    assert option in result.stderr


def test_watch_prints_one_json_line_per_round_until_ctrl_c(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rounds: list[float] = []

    def tick(seconds: float) -> None:
        rounds.append(seconds)
        if len(rounds) == 1:
            deployed.client("sqs").send_message(QueueUrl=deployed.queue_url, MessageBody="{}")
        if len(rounds) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(live, "sleep", tick)

    result = cli("status", "--watch", "--interval", "7", "--output", "json")

    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert rounds == [7, 7]
    assert [line["healthy"] for line in lines] == [True, False]
    assert result.exit_code == 3  # the last reading decides


def test_watch_redraws_text_until_ctrl_c(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(live, "sleep", stop)

    result = cli("status", "--watch")

    assert result.exit_code == 0
    assert "healthy, no drift" in result.stdout
    assert "stopped watching" in result.stderr


def test_datapoints_land_on_their_minutes_and_the_totals_add_up(aws_env: None) -> None:
    clients = Clients(AwsTarget(region=REGION))
    now = datetime(2026, 12, 2, 10, 4, 30, tzinfo=timezone.utc)
    minute = [datetime(2026, 12, 2, 10, m, tzinfo=timezone.utc) for m in range(5)]
    answer = {
        "MetricDataResults": [
            {"Id": "invocations", "Timestamps": [minute[1], minute[3]], "Values": [4.0, 6.0]},
            {"Id": "errors", "Timestamps": [minute[3]], "Values": [1.0]},
            {"Id": "throttles", "Timestamps": [], "Values": []},
            {"Id": "iterator_age", "Timestamps": [minute[2], minute[4]], "Values": [500.0, 2500.0]},
        ]
    }
    with Stubber(clients.cloudwatch) as stub:
        stub.add_response(
            "get_metric_data",
            answer,
            {
                "MetricDataQueries": ANY,
                "StartTime": datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc),
                "EndTime": datetime(2026, 12, 2, 10, 5, tzinfo=timezone.utc),
                "ScanBy": "TimestampAscending",
            },
        )
        metrics = health.read_metrics(clients, "f", 300, now)

    assert (metrics.invocations, metrics.errors, metrics.throttles) == (10, 1, 0)
    assert metrics.max_iterator_age_ms == 2500.0
    assert metrics.series["invocations"].values == (0.0, 4.0, 0.0, 6.0, 0.0)
    assert metrics.series["iterator_age"].values == (None, None, 500.0, None, 2500.0)
    assert metrics.series["invocations"].timestamps == tuple(minute)
    assert health.metric_reasons(metrics, health.Thresholds(max_iterator_age_seconds=2)) == {
        "function": ["1 error(s) in the last 5m"],
        "mapping": ["iterator age 2.5 s exceeds 2 s: the function is falling behind the stream"],
    }
