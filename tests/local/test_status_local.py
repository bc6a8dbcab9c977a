"""`status` against `local start`: the poller's metrics fill the sparklines and the mapping's
event counts, the dashboard is made and removed, and an alarm set to ALARM is reported.

The emulator's moto stores alarms and dashboards but never evaluates an alarm: the test sets
the state with SetAlarmState, as the README says to.
"""

from __future__ import annotations

import json
import signal
from typing import Any

from tests.local.conftest import wait_for
from tests.local.test_cli_local import LocalStart, invoke, local_start  # noqa: F401 - fixture

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/ticks"


def test_status_shows_the_last_minutes_on_the_emulator(local_start: LocalStart) -> None:  # noqa: F811
    import boto3

    endpoint = local_start.endpoint
    common = ["--stack", "loc", "--endpoint-url", endpoint]
    desired = ["--stream-arn", STREAM, "--starting-position", "TRIM_HORIZON", *common]
    up = invoke("up", *desired, "--output", "json")
    assert up.exit_code == 0, up.output
    uuid = json.loads(up.stdout)["outputs"]["mapping_uuid"]

    def aws(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")

    assert aws("cloudwatch").get_dashboard(DashboardName="loc-consumer")["DashboardBody"]
    # The mapping's event counts are published with MetricsConfig EventCount, as on AWS.
    aws("lambda").update_event_source_mapping(UUID=uuid, MetricsConfig={"Metrics": ["EventCount"]})
    produced = invoke(
        "produce", "--stream-arn", STREAM, "--count", "20", "--endpoint-url", endpoint
    )
    assert produced.exit_code == 0, produced.output

    def status(*extra: str, expect: int = 0) -> dict[str, Any]:
        result = invoke("status", *desired, "--output", "json", *extra)
        assert result.exit_code == expect, result.output
        return dict(json.loads(result.stdout))

    def counted() -> bool:
        # The poller publishes the mapping's counts and the function's metrics one after the
        # other (CloudWatch, too, shows each when it has it): wait for both.
        metrics = status()["metrics"]
        return (
            bool(metrics["mappings"])
            and metrics["mappings"][0]["events"]["invoked"] == 20
            and metrics["invocations"] > 0
        )

    wait_for("the poller's event counts", counted)
    metrics = status()["metrics"]
    assert sum(metrics["series"]["invocations"]["values"]) == metrics["invocations"] > 0
    assert len(metrics["series"]["invocations"]["values"]) == 15
    assert metrics["mappings"][0]["events"]["polled"] == 20

    text = invoke("status", *desired)
    assert text.exit_code == 0, text.output
    (line,) = [x for x in text.stdout.splitlines() if x.startswith("  invocations")]
    assert f"total {metrics['invocations']}," in line
    assert "20 polled, 20 invoked" in text.stdout

    # The stack's own alarm (moto stores alarms but never evaluates them).
    cloudwatch = aws("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName="loc-errors", StateValue="ALARM", StateReason="test")
    assert status(expect=3)["problems"] == ["alarm loc-errors is in ALARM: test"]

    destroyed = invoke("destroy", "--delete-table", "--yes", *common, "--region", "us-east-1")
    assert destroyed.exit_code == 0, destroyed.output
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []

    local_start.process.send_signal(signal.SIGTERM)
    assert local_start.process.wait(timeout=60) == 0
