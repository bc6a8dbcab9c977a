"""Event source mapping metrics on the emulator: what AWS publishes with MetricsConfig EventCount.

Namespace AWS/Lambda, dimension EventSourceMappingUUID, read back from the emulator's
CloudWatch the way `status` reads them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from tests.local.conftest import Harness, wait_for

EVENT_COUNT = {"Metrics": ["EventCount"]}


def mapping_sums(harness: Harness, uuid: str) -> dict[str, float]:
    cloudwatch = harness.clients.cloudwatch
    now = datetime.now(timezone.utc)
    sums = {}
    for metric in cloudwatch.list_metrics(
        Namespace="AWS/Lambda", Dimensions=[{"Name": "EventSourceMappingUUID", "Value": uuid}]
    )["Metrics"]:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        sums[metric["MetricName"]] = sum(point["Sum"] for point in points)
    return sums


def test_event_counts_are_published_for_a_mapping_that_asks(harness: Harness) -> None:
    stream = harness.stream()
    queue_url, queue_arn = harness.queue()
    function = harness.function()
    harness.put(stream, "a", "b")
    harness.put(stream, "filtered", key="skip")
    harness.put(stream, "raise", "c")
    only_k = {"partitionKey": [{"anything-but": "skip"}]}

    uuid = harness.mapping(
        function,
        stream,
        BatchSize=10,
        MaximumRetryAttempts=0,
        BisectBatchOnFunctionError=True,
        MetricsConfig=EVENT_COUNT,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(only_k)}]},
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    assert harness.clients.lambda_.get_event_source_mapping(UUID=uuid)["MetricsConfig"] == (
        EVENT_COUNT
    )
    wait_for("the poison record at the destination", lambda: harness.messages(queue_url))
    # 4 records invoked together, then bisected: [a, b] [raise, c], then [raise] [c].
    expected = {
        "PolledEventCount": 5,
        "FilteredOutEventCount": 1,
        "InvokedEventCount": 4 + 2 + 2 + 1 + 1,
        "FailedInvokeEventCount": 4 + 2 + 1,
        "OnFailureDestinationDeliveredEventCount": 1,
    }
    wait_for(
        "the event counts",
        lambda: all(mapping_sums(harness, uuid).get(k) == v for k, v in expected.items()),
    )
    assert mapping_sums(harness, uuid).get("DroppedEventCount", 0) == 0


def test_a_discarded_record_without_a_destination_is_dropped(harness: Harness) -> None:
    stream = harness.stream()
    function = harness.function()
    harness.put(stream, "raise")

    uuid = harness.mapping(function, stream, MaximumRetryAttempts=0, MetricsConfig=EVENT_COUNT)

    wait_for("DroppedEventCount", lambda: mapping_sums(harness, uuid).get("DroppedEventCount"))
    sums = mapping_sums(harness, uuid)
    assert sums["DroppedEventCount"] == 1
    assert sums["FailedInvokeEventCount"] == 1
    assert sums.get("OnFailureDestinationDeliveredEventCount", 0) == 0


def test_no_event_counts_without_metrics_config(harness: Harness) -> None:
    stream = harness.stream()
    function = harness.function()
    uuid = harness.mapping(function, stream)
    harness.put(stream, "a")
    wait_for("the record", lambda: function.batches())

    # Function metrics still arrive (status judges health from them)...
    wait_for(
        "the function's Invocations",
        lambda: harness.clients.cloudwatch.list_metrics(
            Namespace="AWS/Lambda",
            MetricName="Invocations",
            Dimensions=[{"Name": "FunctionName", "Value": function.name}],
        )["Metrics"],
    )
    # ...but no mapping metrics, as on AWS.
    assert mapping_sums(harness, uuid) == {}
