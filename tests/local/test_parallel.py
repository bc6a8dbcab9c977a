"""ParallelizationFactor 2-10 on the poller: concurrent batches per shard, order per key kept.

The handler notes, per invocation, when it started and ended and which records it got; a
record whose data is "fail" raises until a flag file exists. From that log the tests check
what Lambda promises: each partition key's records arrive in sequence order, a key is never in
two batches in flight at once, batches really do overlap, and a failing batch holds the
checkpoint back while other keys move on.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from cryptoconsumer.local.consumer import lane_of
from cryptoconsumer.local.progress import ShardProgress
from tests.local.conftest import FunctionUnderTest, Harness, handler_zip, wait_for

RECORDING_HANDLER = """
import base64, json, os, time

def handler(event, context):
    started = time.time()
    records = [
        (r["kinesis"]["sequenceNumber"], r["kinesis"]["partitionKey"],
         base64.b64decode(r["kinesis"]["data"]).decode())
        for r in event["Records"]
    ]
    time.sleep(float(os.environ.get("PAUSE", "0.05")))
    failing = any(data == "fail" for _, _, data in records)
    fail = failing and not os.path.exists(os.environ["FIXED_FLAG"])
    with open(os.environ["INVOCATION_LOG"], "a") as log:
        log.write(json.dumps({"started": started, "ended": time.time(), "records": records,
                              "failed": fail}) + "\\n")
    if fail:
        raise RuntimeError("poison")
    return {"batchItemFailures": []}
"""


def recording_function(harness: Harness, pause: float = 0.05) -> tuple[FunctionUnderTest, Path]:
    flag = harness.tmp_path / f"fixed-{harness.name('flag')}"
    function = harness.function(
        zip_bytes=handler_zip(RECORDING_HANDLER),
        environment={"PAUSE": str(pause), "FIXED_FLAG": str(flag)},
        timeout=10,
    )
    return function, flag


def calls(function: FunctionUnderTest) -> list[dict[str, Any]]:
    if not function.log.exists():
        return []
    return [json.loads(line) for line in function.log.read_text().splitlines()]


def delivered(function: FunctionUnderTest) -> list[str]:
    return [seq for call in calls(function) if not call["failed"] for seq, _, _ in call["records"]]


def ordering_violations(function: FunctionUnderTest, put_order: dict[str, list[str]]) -> int:
    """Per key: records seen out of sequence order, counting successful invocations."""
    seen: dict[str, list[str]] = {}
    for call in sorted(calls(function), key=lambda c: c["started"]):
        if call["failed"]:
            continue
        for seq, key, _ in call["records"]:
            seen.setdefault(key, []).append(seq)
    violations = 0
    for key, sequences in seen.items():
        violations += sum(1 for a, b in itertools.pairwise(sequences) if int(a) >= int(b))
        assert sorted(sequences, key=int) == put_order[key], key
    return violations


def keys_in_two_batches_at_once(function: FunctionUnderTest) -> int:
    found = 0
    invocations = calls(function)
    for index, one in enumerate(invocations):
        for other in invocations[index + 1 :]:
            overlap = one["started"] < other["ended"] and other["started"] < one["ended"]
            if overlap and {k for _, k, _ in one["records"]} & {k for _, k, _ in other["records"]}:
                found += 1
    return found


def put_keys(harness: Harness, stream: str, keys: int, per_key: int) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    records = [
        {"Data": f"tick-{round_}".encode(), "PartitionKey": f"key-{key}"}
        for round_ in range(per_key)
        for key in range(keys)
    ]
    for start in range(0, len(records), 500):
        answer = harness.clients.kinesis.put_records(
            StreamARN=stream, Records=records[start : start + 500]
        )
        for record, result in zip(records[start : start + 500], answer["Records"], strict=True):
            order.setdefault(record["PartitionKey"], []).append(result["SequenceNumber"])
    return order


@pytest.mark.parametrize("factor", [2, 10])
def test_batches_run_concurrently_and_each_key_stays_in_order(
    harness: Harness, factor: int
) -> None:
    stream = harness.stream()
    function, _ = recording_function(harness)
    order = put_keys(harness, stream, keys=30, per_key=12)

    harness.mapping(function, stream, BatchSize=10, ParallelizationFactor=factor)

    wait_for("all 360 records", lambda: len(delivered(function)) == 360, 60)
    assert sorted(delivered(function), key=int) == sorted(
        (s for seqs in order.values() for s in seqs), key=int
    )
    assert ordering_violations(function, order) == 0
    assert keys_in_two_batches_at_once(function) == 0
    invocations = calls(function)
    overlapping = sum(
        1
        for i, a in enumerate(invocations)
        for b in invocations[i + 1 :]
        if a["started"] < b["ended"] and b["started"] < a["ended"]
    )
    assert overlapping > 0, "no two batches of the shard ever ran at once"


def test_a_failing_batch_holds_the_checkpoint_while_other_keys_move_on(harness: Harness) -> None:
    stream = harness.stream()
    function, fixed = recording_function(harness, pause=0.01)
    [poison] = harness.put(stream, "fail", key="stuck")
    others = put_keys(harness, stream, keys=12, per_key=3)
    uuid = harness.mapping(function, stream, BatchSize=5, ParallelizationFactor=4)
    shard = "shardId-000000000000"
    # Keys in the poison record's lane wait behind it, as on Lambda; the others must not.
    stuck_lane = lane_of("stuck", 4)
    others_delivered = {
        s for key, seqs in others.items() if lane_of(key, 4) != stuck_lane for s in seqs
    }
    assert others_delivered

    # Other lanes deliver their keys while the poison record's batch is retried...
    wait_for(
        "the keys in other lanes",
        lambda: others_delivered <= set(delivered(function)),
        30,
    )
    wait_for("a retry of the poison batch", lambda: sum(c["failed"] for c in calls(function)) >= 2)
    # ...but the checkpoint stays before the poison record: nothing behind it is skipped.
    checkpoint = harness.poller.checkpoint(uuid, shard)
    assert checkpoint is None or int(checkpoint) < int(poison)

    fixed.touch()

    wait_for("the poison record once it succeeds", lambda: poison in delivered(function), 30)
    everything = [poison, *(s for seqs in others.values() for s in seqs)]
    wait_for(
        "the checkpoint past every record",
        lambda: harness.poller.checkpoint(uuid, shard) == max(everything, key=int),
        30,
    )


def test_progress_moves_only_past_a_settled_prefix() -> None:
    progress = ShardProgress()
    progress.read(["1", "2", "3", "4", "5"])

    assert progress.settle(["2", "3"]) is None
    assert progress.settle(["5"]) is None
    assert progress.settle(["1"]) == "3"
    assert progress.outstanding == 2
    assert progress.settle(["4"]) == "5"
    assert progress.outstanding == 0


def test_a_key_always_goes_to_the_same_lane() -> None:
    lanes = {lane_of(f"key-{i}", 10) for i in range(100)}
    assert lanes == set(range(10))
    assert all(lane_of("BTCUSD", 7) == lane_of("BTCUSD", 7) for _ in range(3))
    assert lane_of("anything", 1) == 0


def test_bisect_and_the_on_failure_destination_work_per_batch_under_concurrency(
    harness: Harness,
) -> None:
    stream = harness.stream()
    queue_url, queue_arn = harness.queue()
    function, _ = recording_function(harness, pause=0.01)
    order = put_keys(harness, stream, keys=9, per_key=4)
    [poison] = harness.put(stream, "fail", key="key-3")
    tail = put_keys(harness, stream, keys=9, per_key=1)

    uuid = harness.mapping(
        function,
        stream,
        BatchSize=8,
        ParallelizationFactor=3,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    [message] = wait_for(
        "the poison record at the destination", lambda: harness.messages(queue_url)
    )
    info = message["KinesisBatchInfo"]
    # Bisection narrowed the failure down to the poison record alone.
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        poison,
        poison,
        1,
    )
    everything = [s for part in (order, tail) for seqs in part.values() for s in seqs]
    wait_for("every other record", lambda: set(everything) <= set(delivered(function)))
    assert poison not in delivered(function)
    wait_for(
        "the checkpoint past every record",
        lambda: (
            harness.poller.checkpoint(uuid, "shardId-000000000000")
            == max([*everything, poison], key=int)
        ),
    )
    merged = {key: order[key] + tail[key] for key in order}
    assert ordering_violations(function, merged) == 0
