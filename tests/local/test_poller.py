"""The poller against the embedded emulator with scripted handlers: Lambda's stream rules."""

from __future__ import annotations

import base64
import math
import re
import time
import uuid
from datetime import datetime, timezone

from tests.local.conftest import FunctionUnderTest, Harness, wait_for

ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_records_reach_the_function_as_a_lambda_kinesis_event(harness: Harness) -> None:
    stream = harness.stream()
    function = harness.function(environment={"KEEP_EVENT": "1"})
    sequences = harness.put(stream, *(f"tick-{i}" for i in range(25)))

    harness.mapping(function, stream, BatchSize=10)

    wait_for("all 25 records", lambda: sum(map(len, function.batches())) == 25)
    assert function.batches() == [sequences[:10], sequences[10:20], sequences[20:]]
    call = function.invocations()[0]
    record = call["event"]["Records"][0]
    assert base64.b64decode(record["kinesis"]["data"]) == b"tick-0"
    assert record["kinesis"]["sequenceNumber"] == sequences[0]
    assert record["kinesis"]["partitionKey"] == "k"
    assert record["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    assert record["eventID"] == f"shardId-000000000000:{sequences[0]}"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventVersion"] == "1.0"
    assert record["eventSourceARN"] == stream
    assert record["awsRegion"] == "us-east-1"
    assert record["invokeIdentityArn"].startswith("arn:aws:iam::")
    assert call["function_name"] == function.name
    assert call["arn"] == function.arn
    assert 0 < call["remaining_ms"] <= 5000
    uuid.UUID(call["request_id"])


def test_a_reported_failure_resumes_at_that_sequence_number(harness: Harness) -> None:
    stream = harness.stream()
    function = harness.function()
    sequences = harness.put(stream, "a", "b", "c", "report-once", "e", "f")

    harness.mapping(
        function, stream, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )

    wait_for("the retry after the reported failure", lambda: len(function.batches()) == 2)
    first, retry = function.batches()
    assert first == sequences
    assert retry == sequences[3:]


def test_without_report_batch_item_failures_a_failure_answer_is_success(
    harness: Harness,
) -> None:
    stream = harness.stream()
    function = harness.function()
    sequences = harness.put(stream, "a", "report-once", "c")

    harness.mapping(function, stream, BatchSize=10)
    more = harness.put(stream, "d")

    wait_for("every record", lambda: sum(map(len, function.batches())) == 4)
    assert [seq for batch in function.batches() for seq in batch] == sequences + more


def test_a_malformed_answer_fails_the_whole_batch(harness: Harness) -> None:
    stream = harness.stream()
    queue_url, queue_arn = harness.queue()
    function = harness.function()
    sequences = harness.put(stream, "a", "bogus-report")

    harness.mapping(
        function,
        stream,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    messages = wait_for("the on-failure message", lambda: harness.messages(queue_url))
    assert function.batches() == [sequences, sequences]
    info = messages[0]["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == tuple(sequences)
    assert "functionError" not in messages[0]["responseContext"]


def test_bisect_isolates_the_bad_record(harness: Harness) -> None:
    stream = harness.stream()
    queue_url, queue_arn = harness.queue()
    function = harness.function()
    datas = ["ok"] * 10
    datas[6] = "raise"
    sequences = harness.put(stream, *datas)

    harness.mapping(
        function,
        stream,
        BatchSize=10,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    messages = wait_for("the bad record's on-failure message", lambda: harness.messages(queue_url))
    wait_for("the records after it", lambda: sequences[-1] in function.batches()[-1])
    assert (
        function.batches()
        == [
            sequences,  # fails: split 5 + 5
            sequences[:5],
            sequences[5:],  # fails: split 3 + 2
            sequences[5:8],  # fails: split 2 + 1
            sequences[5:7],  # fails: split 1 + 1
            sequences[5:6],
            sequences[6:7],  # fails alone, no retries left: discarded
            sequences[7:8],
            sequences[8:],
        ]
    )
    assert len(messages) == 1
    info = messages[0]["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (
        sequences[6],
        sequences[6],
    )
    assert info["batchSize"] == 1


def test_exhausted_retries_send_the_batch_to_the_on_failure_destination(
    harness: Harness,
) -> None:
    stream = harness.stream()
    queue_url, queue_arn = harness.queue()
    function = harness.function()
    *sequences, after = harness.put(stream, "ok", "raise", "ok", "after")

    harness.mapping(
        function,
        stream,
        BatchSize=3,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    messages = wait_for("the on-failure message", lambda: harness.messages(queue_url))
    wait_for("the record after the discarded batch", lambda: function.batches()[-1] == [after])
    assert function.batches() == [sequences, sequences, sequences, [after]]
    [message] = messages
    last_request = function.invocations()[2]["request_id"]
    assert message["requestContext"] == {
        "requestId": last_request,
        "functionArn": function.arn,
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 3,
    }
    assert message["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert message["version"] == "1.0"
    assert ISO_MILLIS.match(message["timestamp"])
    info = message["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000"
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (
        sequences[0],
        sequences[-1],
    )
    assert info["batchSize"] == 3
    assert info["streamArn"] == stream
    assert ISO_MILLIS.match(info["approximateArrivalOfFirstRecord"])
    assert ISO_MILLIS.match(info["approximateArrivalOfLastRecord"])


def test_latest_skips_older_records_and_trim_horizon_does_not(harness: Harness) -> None:
    stream = harness.stream()
    older = harness.put(stream, "old-1", "old-2")
    from_latest = harness.function()
    from_start = harness.function()
    harness.mapping(from_latest, stream, StartingPosition="LATEST")
    harness.mapping(from_start, stream, StartingPosition="TRIM_HORIZON")

    newer = harness.put(stream, "new-1", "new-2")

    wait_for("LATEST's records", lambda: sum(map(len, from_latest.batches())) == 2)
    wait_for("TRIM_HORIZON's records", lambda: sum(map(len, from_start.batches())) == 4)
    assert [seq for batch in from_latest.batches() for seq in batch] == newer
    assert [seq for batch in from_start.batches() for seq in batch] == older + newer


def test_at_timestamp_starts_at_that_time(harness: Harness) -> None:
    stream = harness.stream()
    harness.put(stream, "before")
    # The API carries the timestamp in whole seconds: start at the next one.
    threshold = datetime.fromtimestamp(math.floor(time.time()) + 1, tz=timezone.utc)
    wait_for("the next whole second", lambda: time.time() > threshold.timestamp())
    after = harness.put(stream, "after-1", "after-2")
    function = harness.function()

    harness.mapping(
        function, stream, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=threshold
    )

    wait_for("the records after the timestamp", lambda: function.batches())
    assert [seq for batch in function.batches() for seq in batch] == after


def test_a_timeout_is_a_function_error_and_the_worker_is_replaced(harness: Harness) -> None:
    stream = harness.stream()
    queue_url, queue_arn = harness.queue()
    function = harness.function(timeout=1)
    harness.mapping(
        function,
        stream,
        BatchSize=1,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    slow, fine = harness.put(stream, "sleep", "fine")

    [message] = wait_for("the timed-out record's message", lambda: harness.messages(queue_url))
    wait_for("the next record", lambda: function.batches()[-1] == [fine])
    assert message["responseContext"]["functionError"] == "Unhandled"
    assert message["KinesisBatchInfo"]["startSequenceNumber"] == slow
    slow_call, fine_call = function.invocations()
    assert slow_call["pid"] != fine_call["pid"]
    assert harness.poller.stats.failed_invocations == 1


def test_records_older_than_the_maximum_age_are_skipped(harness: Harness) -> None:
    stream = harness.stream()
    queue_url, queue_arn = harness.queue()
    function = harness.function()
    stale = harness.put(stream, "stale-1", "stale-2")
    # The poller's clock runs two minutes ahead: the records are 120 s old to it.
    harness.clock_offset[0] = 120.0

    harness.mapping(
        function,
        stream,
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    [message] = wait_for("the expired records' message", lambda: harness.messages(queue_url))
    assert function.batches() == []
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    assert message["requestContext"]["approximateInvokeCount"] == 0
    info = message["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == tuple(stale)
    harness.clock_offset[0] = 0.0
    fresh = harness.put(stream, "fresh")
    wait_for("the fresh record", lambda: function.batches() == [fresh])


def test_the_batching_window_gathers_records_into_one_invocation(harness: Harness) -> None:
    stream = harness.stream()
    function = harness.function()
    harness.mapping(function, stream, BatchSize=100, MaximumBatchingWindowInSeconds=1)

    first = harness.put(stream, "a", "b")
    wait_for("a moment inside the window", lambda: True)
    second = harness.put(stream, "c")

    wait_for("the batch", lambda: function.batches())
    assert function.batches() == [first + second]


def test_a_disabled_mapping_stops_and_resumes_from_its_checkpoint(harness: Harness) -> None:
    stream = harness.stream()
    function = harness.function()
    uuid_ = harness.mapping(function, stream)
    first = harness.put(stream, "one")
    wait_for("the first record", lambda: function.batches() == [first])

    harness.clients.lambda_.update_event_source_mapping(UUID=uuid_, Enabled=False)
    wait_for("the poller to stop reading", lambda: not harness.poller.polling(uuid_))
    while_disabled = harness.put(stream, "two")
    harness.clients.lambda_.update_event_source_mapping(UUID=uuid_, Enabled=True)

    wait_for("the record put while disabled", lambda: len(function.batches()) == 2)
    assert function.batches() == [first, while_disabled]


def _delivered_shards(function: FunctionUnderTest) -> list[tuple[str, str]]:
    """(shard, data) of every record the function was given, in the order it was given them."""
    return [
        (record["eventID"].split(":")[0], base64.b64decode(record["kinesis"]["data"]).decode())
        for call in function.invocations()
        for record in call["event"]["Records"]
    ]


def test_new_shards_from_resharding_are_read(harness: Harness) -> None:
    stream = harness.stream(shards=1)
    function = harness.function(environment={"KEEP_EVENT": "1"})
    harness.mapping(function, stream)
    before = harness.put(stream, "before")
    wait_for("the record before resharding", lambda: function.batches() == [before])

    harness.clients.kinesis.update_shard_count(
        StreamARN=stream, TargetShardCount=2, ScalingType="UNIFORM_SCALING"
    )
    after = [harness.put(stream, f"after-{i}", key=f"key-{i}")[0] for i in range(6)]

    wait_for("the records on the new shards", lambda: sum(map(len, function.batches())) == 7)
    delivered = [seq for batch in function.batches()[1:] for seq in batch]
    assert sorted(delivered) == sorted(after)
    children = {shard for shard, _ in _delivered_shards(function)[1:]}
    assert children == {"shardId-000000000001", "shardId-000000000002"}


def test_child_shards_are_read_only_after_their_parent_is_processed(harness: Harness) -> None:
    stream = harness.stream(shards=1)
    function = harness.function(environment={"KEEP_EVENT": "1"})
    harness.mapping(function, stream, BatchSize=1)
    parent_datas = [f"parent-{i}" for i in range(8)]
    harness.put(stream, *parent_datas)

    harness.clients.kinesis.update_shard_count(
        StreamARN=stream, TargetShardCount=2, ScalingType="UNIFORM_SCALING"
    )
    harness.put(stream, *(f"child-{i}" for i in range(4)), key="a")  # hashes to the lower half
    harness.put(stream, *(f"child-{i}" for i in range(4, 8)), key="b")  # and to the upper half

    wait_for("every record", lambda: len(_delivered_shards(function)) == 16)
    delivered = _delivered_shards(function)
    assert delivered[:8] == [("shardId-000000000000", data) for data in parent_datas]
    assert {shard for shard, _ in delivered[8:]} == {"shardId-000000000001", "shardId-000000000002"}
    assert sorted(data for _, data in delivered[8:]) == [f"child-{i}" for i in range(8)]


def test_an_sns_topic_can_be_the_on_failure_destination(harness: Harness) -> None:
    sns = harness.clients.client("sns")
    topic = sns.create_topic(Name=harness.name("topic"))["TopicArn"]
    queue_url, queue_arn = harness.queue()
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    stream = harness.stream()
    function = harness.function()
    [bad] = harness.put(stream, "raise")

    harness.mapping(
        function,
        stream,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": topic}},
    )

    [message] = wait_for("the message through the topic", lambda: harness.messages(queue_url))
    assert message["KinesisBatchInfo"]["startSequenceNumber"] == bad
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
