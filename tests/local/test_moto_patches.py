"""The emulator's Kinesis against AWS's resharding rules (moto differs; see local/moto_patches)."""

from __future__ import annotations

from typing import Any

from tests.local.conftest import Harness

PARENT = "shardId-000000000000"


def _shards(harness: Harness, stream: str) -> dict[str, dict[str, Any]]:
    answer = harness.clients.kinesis.list_shards(StreamARN=stream)
    return {shard["ShardId"]: shard for shard in answer["Shards"]}


def _read_to_end(harness: Harness, stream: str, shard_id: str) -> tuple[list[str], bool]:
    """The shard's data from its start, and whether its iterators ended (a closed shard's do)."""
    kinesis = harness.clients.kinesis
    iterator = kinesis.get_shard_iterator(
        StreamARN=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    datas: list[str] = []
    for _ in range(10):
        answer = kinesis.get_records(StreamARN=stream, ShardIterator=iterator)
        datas += [record["Data"].decode() for record in answer["Records"]]
        iterator = answer.get("NextShardIterator")
        if iterator is None:
            return datas, True
        if not answer["Records"]:
            return datas, False
    raise AssertionError(f"{shard_id} never read dry")


def test_after_a_split_records_go_to_the_children_and_the_parent_keeps_its_own(
    harness: Harness,
) -> None:
    stream = harness.stream(shards=1)
    harness.put(stream, "before-1", "before-2")

    harness.clients.kinesis.update_shard_count(
        StreamARN=stream, TargetShardCount=2, ScalingType="UNIFORM_SCALING"
    )
    answer = harness.clients.kinesis.put_records(
        StreamARN=stream,
        Records=[{"Data": f"after-{i}".encode(), "PartitionKey": f"key-{i}"} for i in range(8)],
    )

    shards = _shards(harness, stream)
    children = {s for s, shard in shards.items() if shard.get("ParentShardId") == PARENT}
    assert len(children) == 2
    assert "EndingSequenceNumber" in shards[PARENT]["SequenceNumberRange"]
    landed = {record["ShardId"] for record in answer["Records"]}
    assert landed == children
    assert _read_to_end(harness, stream, PARENT) == (["before-1", "before-2"], True)
    read_from_children = []
    for child in children:
        datas, ended = _read_to_end(harness, stream, child)
        assert not ended  # an open shard's iterators go on
        read_from_children += datas
    assert sorted(read_from_children) == [f"after-{i}" for i in range(8)]


def test_a_merge_moves_no_record_and_ends_both_parents(harness: Harness) -> None:
    stream = harness.stream(shards=2)
    kinesis = harness.clients.kinesis
    for i in range(6):
        kinesis.put_record(StreamARN=stream, Data=f"before-{i}".encode(), PartitionKey=f"k{i}")
    [first, second] = sorted(_shards(harness, stream))

    kinesis.merge_shards(StreamARN=stream, ShardToMerge=first, AdjacentShardToMerge=second)
    kinesis.put_record(StreamARN=stream, Data=b"after", PartitionKey="k")

    [child] = set(_shards(harness, stream)) - {first, second}
    parents_hold = []
    for parent in (first, second):
        datas, ended = _read_to_end(harness, stream, parent)
        assert ended
        parents_hold += datas
    assert sorted(parents_hold) == [f"before-{i}" for i in range(6)]
    assert _read_to_end(harness, stream, child) == (["after"], False)


def test_a_closed_shard_read_from_latest_ends_at_once(harness: Harness) -> None:
    stream = harness.stream(shards=1)
    harness.put(stream, "a")
    harness.clients.kinesis.update_shard_count(
        StreamARN=stream, TargetShardCount=2, ScalingType="UNIFORM_SCALING"
    )
    kinesis = harness.clients.kinesis
    iterator = kinesis.get_shard_iterator(
        StreamARN=stream, ShardId=PARENT, ShardIteratorType="LATEST"
    )["ShardIterator"]

    answer = kinesis.get_records(StreamARN=stream, ShardIterator=iterator)

    assert answer["Records"] == []
    assert answer.get("NextShardIterator") is None
