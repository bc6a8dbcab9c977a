"""The replacement mapping's start: far enough back to cover the old mapping's lag."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
from moto import mock_aws

from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.resources.lookback import MARGIN_SECONDS, WINDOW_SECONDS, look_back


def _publish(clients: Clients, function: str, *ages_ms: float, at: datetime) -> None:
    clients.cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "IteratorAge",
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Value": age,
                "Unit": "Milliseconds",
                "Timestamp": at,
            }
            for age in ages_ms
        ],
    )


def test_the_largest_iterator_age_plus_the_margin_is_read_again():
    with mock_aws():
        clients = Clients(AwsTarget(region="us-east-1"), session=boto3.Session())
        now = datetime.now(timezone.utc)
        _publish(clients, "f", 1500.0, 42_000.0, 800.0, at=now - timedelta(minutes=3))
        _publish(clients, "other", 900_000.0, at=now - timedelta(minutes=3))

        found = look_back(clients, "f", now=now)

        assert found.max_iterator_age_ms == 42_000.0
        expected = (now - timedelta(seconds=42 + MARGIN_SECONDS)).replace(microsecond=0)
        assert found.timestamp == expected
        assert "42.0 s behind" in found.reason()


def test_without_a_datapoint_the_whole_window_is_read_again_never_now():
    with mock_aws():
        clients = Clients(AwsTarget(region="us-east-1"), session=boto3.Session())
        now = datetime.now(timezone.utc)
        old = now - timedelta(seconds=WINDOW_SECONDS + 120)  # outside the window
        _publish(clients, "f", 5_000.0, at=old)

        found = look_back(clients, "f", now=now)

        assert found.max_iterator_age_ms is None
        assert found.seconds_back == WINDOW_SECONDS + MARGIN_SECONDS
        assert found.timestamp <= now - timedelta(seconds=WINDOW_SECONDS)
        assert "no IteratorAge datapoint" in found.reason()
