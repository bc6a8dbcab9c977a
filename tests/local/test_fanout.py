"""Enhanced fan-out on the emulator: a registered consumer's ARN as a mapping source.

AWS accepts two mappings of one function from different sources (a stream and its consumer)
and serves both; it refuses the same source twice. A mapping starts where its own
StartingPosition says, whatever other mappings of the stream have read, and a deleted
mapping's readers stop.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from tests.local.conftest import Harness, wait_for

CONSUMER_ARN = re.compile(r"^arn:aws:kinesis:us-east-1:\d{12}:stream/[^/]+/consumer/efo:\d{10}$")


def register_consumer(harness: Harness, stream: str, name: str = "efo") -> str:
    consumer = harness.clients.kinesis.register_stream_consumer(
        StreamARN=stream, ConsumerName=name
    )["Consumer"]
    return str(consumer["ConsumerARN"])


def delivered(function: object) -> list[str]:
    return sorted(seq for batch in function.batches() for seq in batch)  # type: ignore[attr-defined]


def test_a_consumer_arn_carries_its_registration_time_as_on_aws(harness: Harness) -> None:
    stream = harness.stream()

    arn = register_consumer(harness, stream)

    assert CONSUMER_ARN.match(arn), arn
    described = harness.clients.kinesis.describe_stream_consumer(ConsumerARN=arn)
    assert described["ConsumerDescription"]["ConsumerName"] == "efo"
    with pytest.raises(ClientError) as refused:
        register_consumer(harness, stream)
    assert refused.value.response["Error"]["Code"] == "ResourceInUseException"
    harness.clients.kinesis.deregister_stream_consumer(StreamARN=stream, ConsumerName="efo")
    assert harness.clients.kinesis.list_stream_consumers(StreamARN=stream)["Consumers"] == []


def test_a_mapping_on_a_consumer_reads_the_consumers_stream(harness: Harness) -> None:
    stream = harness.stream(shards=2)
    consumer = register_consumer(harness, stream)
    function = harness.function()
    sequences = [harness.put(stream, f"tick-{i}", key=f"key-{i}")[0] for i in range(20)]

    uuid = harness.mapping(function, consumer, BatchSize=5)

    answer = harness.clients.lambda_.get_event_source_mapping(UUID=uuid)
    assert answer["EventSourceArn"] == consumer
    wait_for("all 20 records", lambda: len(delivered(function)) == 20)
    assert delivered(function) == sorted(sequences)


def test_a_stream_and_its_consumer_can_both_feed_one_function(harness: Harness) -> None:
    stream = harness.stream()
    consumer = register_consumer(harness, stream)
    function = harness.function()
    first = harness.mapping(function, stream)
    second = harness.mapping(function, consumer)
    assert first != second
    sequences = harness.put(stream, *(f"tick-{i}" for i in range(10)))

    # Both mappings deliver every record: the function sees each one twice.
    wait_for("every record twice", lambda: len(delivered(function)) == 20)
    assert delivered(function) == sorted(sequences * 2)

    for source in (stream, consumer):
        with pytest.raises(ClientError) as refused:
            harness.clients.lambda_.create_event_source_mapping(
                FunctionName=function.name, EventSourceArn=source, StartingPosition="LATEST"
            )
        assert refused.value.response["Error"]["Code"] == "ResourceConflictException"


@pytest.mark.parametrize("on_consumer", [False, True], ids=["stream", "consumer"])
def test_a_new_mapping_starts_at_its_own_timestamp_while_another_reads(
    harness: Harness, on_consumer: bool
) -> None:
    stream = harness.stream()
    reader = harness.function()
    harness.mapping(reader, stream)
    before = harness.put(stream, "old-1", "old-2", "old-3")
    wait_for("the first mapping to read the old records", lambda: len(delivered(reader)) == 3)
    # Kinesis's arrival times have millisecond precision; keep clear of the boundary.
    time.sleep(0.05)
    at = datetime.now(timezone.utc)
    time.sleep(0.05)
    after = harness.put(stream, "new-1", "new-2")
    source = register_consumer(harness, stream) if on_consumer else stream
    late = harness.function()

    uuid = harness.mapping(
        late, source, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=at
    )

    answer = harness.clients.lambda_.get_event_source_mapping(UUID=uuid)
    assert answer["StartingPosition"] == "AT_TIMESTAMP"
    assert abs(answer["StartingPositionTimestamp"].timestamp() - at.timestamp()) < 0.01
    wait_for("the records put after the timestamp", lambda: len(delivered(late)) == 2)
    assert delivered(late) == sorted(after)
    assert not set(before) & set(delivered(late))


@pytest.mark.parametrize("position", ["LATEST", "TRIM_HORIZON"])
def test_a_new_mapping_starts_at_its_own_position_while_another_reads(
    harness: Harness, position: str
) -> None:
    stream = harness.stream()
    reader = harness.function()
    harness.mapping(reader, stream)
    before = harness.put(stream, "old-1", "old-2")
    wait_for("the first mapping to read", lambda: len(delivered(reader)) == 2)
    consumer = register_consumer(harness, stream)
    late = harness.function()

    harness.mapping(late, consumer, StartingPosition=position)
    after = harness.put(stream, "new-1")

    expected = sorted(after) if position == "LATEST" else sorted(before + after)
    wait_for("the new mapping's records", lambda: len(delivered(late)) == len(expected))
    assert delivered(late) == expected


def test_deleting_a_mapping_stops_its_readers(harness: Harness) -> None:
    stream = harness.stream(shards=2)
    consumer = register_consumer(harness, stream)
    stays, goes = harness.function(), harness.function()
    harness.mapping(stays, stream)
    uuid = harness.mapping(goes, consumer)
    harness.put(stream, "before")
    wait_for("both functions to get the first record", lambda: delivered(stays) and delivered(goes))

    harness.clients.lambda_.delete_event_source_mapping(UUID=uuid)

    wait_for("the deleted mapping's readers to stop", lambda: not harness.poller.readers(uuid))
    after = harness.put(stream, "after")
    wait_for("the other mapping to get the next record", lambda: len(delivered(stays)) == 2)
    assert after[0] in delivered(stays)
    assert len(delivered(goes)) == 1
