"""On-failure destinations on the emulator: an S3 bucket gets the records themselves."""

from __future__ import annotations

import base64
import json
import re

from cryptoconsumer.local.destinations import failure_object_key
from tests.local.conftest import Harness, wait_for

KEY = re.compile(
    r"^aws/lambda/(?P<uuid>[0-9a-f-]{36})/(?P<shard>shardId-\d{12})/"
    r"(?P<day>\d{4}/\d\d/\d\d)/(?P<stamp>\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d)-[0-9a-f-]{36}$"
)


def test_the_object_key_follows_awss_layout() -> None:
    key = failure_object_key("a1b2c3d4-5678-90ab-cdef-111111111111", "shardId-000000000001", 0.0)

    match = KEY.match(key)
    assert match, key
    assert match["day"] == "1970/01/01"
    assert match["stamp"] == "1970-01-01T00.00.00"


def test_a_discarded_batch_is_written_to_the_s3_bucket_with_its_records(
    harness: Harness,
) -> None:
    s3 = harness.clients.client("s3")
    bucket = harness.name("failed-batches")
    s3.create_bucket(Bucket=bucket)
    stream = harness.stream()
    function = harness.function()
    sequences = harness.put(stream, "ok-before", "raise", "after")

    uuid = harness.mapping(
        function,
        stream,
        BatchSize=10,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}},
    )

    objects = wait_for(
        "the failure object", lambda: s3.list_objects_v2(Bucket=bucket).get("Contents")
    )
    [found] = objects
    match = KEY.match(found["Key"])
    assert match, found["Key"]
    assert (match["uuid"], match["shard"]) == (uuid, "shardId-000000000000")
    body = json.loads(s3.get_object(Bucket=bucket, Key=found["Key"])["Body"].read())
    # The same record as the SQS message...
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 2
    assert body["responseContext"]["functionError"] == "Unhandled"
    info = body["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (
        sequences[0],
        sequences[-1],
    )
    assert info["batchSize"] == 3 and info["streamArn"] == stream
    # ...plus the whole event, so the records survive the stream's retention.
    event = json.loads(body["payload"])
    records = event["Records"]
    assert [r["kinesis"]["sequenceNumber"] for r in records] == sequences
    assert [base64.b64decode(r["kinesis"]["data"]) for r in records] == [
        b"ok-before",
        b"raise",
        b"after",
    ]
    assert records[0]["eventSourceARN"] == stream
    assert records[0]["eventID"] == f"shardId-000000000000:{sequences[0]}"
    # The shard moves on past the discarded batch.
    more = harness.put(stream, "later")
    wait_for("the next record", lambda: more[0] in [s for b in function.batches() for s in b])


def test_a_missing_bucket_loses_only_the_pointer_and_says_so(harness: Harness) -> None:
    stream = harness.stream()
    function = harness.function()
    harness.put(stream, "raise")

    harness.mapping(
        function,
        stream,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::no-such-bucket"}},
        MetricsConfig={"Metrics": ["EventCount"]},
    )

    wait_for(
        "the delivery failure in the poller's log",
        lambda: any("cannot send to on-failure destination" in x for x in harness.poller_log),
    )
    wait_for(
        "DestinationDeliveryFailures",
        lambda: harness.clients.cloudwatch.list_metrics(
            Namespace="AWS/Lambda", MetricName="DestinationDeliveryFailures"
        )["Metrics"],
    )
