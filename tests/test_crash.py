"""An `up` killed right after its N-th mutating call: the next `up` converges, `destroy` cleans up.

For every N from 1 to the number of mutating calls a fresh `up` makes, the moto server
processes the N-th mutating request and then SIGKILLs the client before it sees the answer:
the change happened, the tool never learnt of it (shared/AWS-BEHAVIOUR.md, "an interrupted
run"). A normal `up` must then leave exactly one of each resource and one mapping, `status`
must exit 0, and `destroy --yes --delete-table` must leave nothing of ours behind.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.aws_state import inventory, mappings_of
from tests.e2e.conftest import executable

# How many mutating calls a fresh `up` and a full `destroy` make; the coverage tests fail,
# listing the calls, when that changes, so that every crash point stays tested.
# PutDashboard, and the alarms: CreateTopic and four PutMetricAlarm in `up`; DeleteDashboards,
# four DeleteAlarms and DeleteTopic in `destroy`.
UP_CRASH_POINTS = 16
DESTROY_CRASH_POINTS = 15
# With --failure-destination s3: CreateBucket and its four settings more in `up`; emptying
# (DeleteObjects, of the one object the tests put there) and DeleteBucket more in `destroy`.
S3 = ("--failure-destination", "s3")
S3_DELETE = ("--delete-failed-batches",)
UP_CRASH_POINTS_S3 = UP_CRASH_POINTS + 4
DESTROY_CRASH_POINTS_S3 = DESTROY_CRASH_POINTS + 2
# The S3 calls are killed after; every other crash point of these runs is the plain run's,
# already killed after above (the mapping's destination is only a parameter of the same call).
S3_UP_CALLS = (
    "s3:CreateBucket",
    "s3:PutPublicAccessBlock",
    "s3:PutBucketEncryption",
    "s3:PutBucketLifecycleConfiguration",
)
S3_DESTROY_CALLS = ("s3:DeleteObjects", "s3:DeleteBucket")
BUCKETS = ("crypto-failed-batches-123456789012-us-east-1",)
STACK = {
    "tables": ("crypto_intraday",),
    "queues": ("crypto_data_consumer-dlq",),
    "roles": ("crypto_data_consumer-role",),
    "functions": ("crypto_data_consumer",),
    "log_groups": ("/aws/lambda/crypto_data_consumer",),
    "dashboards": ("crypto-consumer",),
    "alarms": ("crypto-dead-letters", "crypto-errors", "crypto-iterator-age", "crypto-throttles"),
    "topics": ("crypto-alarms",),
}


def _command(*args: str, url: str) -> list[str]:
    return [*executable(), *args, "--endpoint-url", url]


def _run(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(*args, url=url),
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def _killed_after(moto, n: int | str, *args: str) -> tuple[str, str]:
    """Run the command, SIGKILLed once the n-th mutating call (or the first call of operation
    `n`) has been processed."""
    moto.clear_log()
    client = subprocess.Popen(
        _command(*args, url=moto.url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    moto.kill_client_after(n, client.pid)
    _, stderr = client.communicate(timeout=120)
    moto.wait_idle()
    killed_after = moto.killed_after
    moto.disarm()
    assert killed_after is not None, f"{args[0]} made fewer than {n} mutating calls: {stderr}"
    assert client.returncode == -signal.SIGKILL, stderr
    return f"{args[0]} killed after mutating call {n} ({killed_after})", stderr


def _assert_converged(run, aws, stream_arn, where: str, *, s3: bool = False) -> None:
    found = inventory(aws)
    for kind, names in {**STACK, "buckets": BUCKETS if s3 else ()}.items():
        assert getattr(found, kind) == names, f"{where}: {found}"
    (mapping,) = mappings_of(aws, "crypto_data_consumer")
    assert mapping["EventSourceArn"] == stream_arn, where
    assert len(found.mappings) == 1, where
    # Checks and clean-up run in-process (CliRunner): only the crash needs its own process.
    healthy = run("status", "--stream-arn", stream_arn)
    assert healthy.exit_code == 0, f"{where}\n{healthy}"


def test_every_crash_point_is_covered(moto, aws, stream_arn):
    moto.clear_log()
    assert _run("up", "--stream-arn", stream_arn, url=moto.url).returncode == 0
    up_calls = moto.mutating()
    moto.clear_log()
    assert _run("destroy", "--yes", "--delete-table", url=moto.url).returncode == 0
    destroy_calls = moto.mutating()

    assert len(up_calls) == UP_CRASH_POINTS, sorted(up_calls)
    assert len(destroy_calls) == DESTROY_CRASH_POINTS, sorted(destroy_calls)
    assert inventory(aws).empty


@pytest.mark.parametrize("n", range(1, UP_CRASH_POINTS + 1))
def test_up_killed_after_its_nth_change_converges_on_the_next_up(run, moto, aws, stream_arn, n):
    where, _ = _killed_after(moto, n, "up", "--stream-arn", stream_arn)

    again = _run("up", "--stream-arn", stream_arn, "--output", "json", url=moto.url)

    assert again.returncode == 0, f"{where}\n{again.stderr}"
    _assert_converged(run, aws, stream_arn, where)
    gone = run("destroy", "--yes", "--delete-table")
    assert gone.exit_code == 0, f"{where}\n{gone}"
    assert inventory(aws).empty, f"{where}: {inventory(aws)}"


@pytest.mark.parametrize("n", range(1, DESTROY_CRASH_POINTS + 1))
def test_destroy_killed_after_its_nth_change_finishes_on_the_next_destroy(
    run, moto, aws, stream_arn, n
):
    assert run("up", "--stream-arn", stream_arn).exit_code == 0
    where, _ = _killed_after(moto, n, "destroy", "--yes", "--delete-table")

    again = _run("destroy", "--yes", "--delete-table", url=moto.url)

    assert again.returncode == 0, f"{where}\n{again.stderr}"
    assert inventory(aws).empty, f"{where}: {inventory(aws)}"
    # And the stack can be stood up again from whatever the crash left.
    assert run("up", "--stream-arn", stream_arn).exit_code == 0, where
    _assert_converged(run, aws, stream_arn, where)


# Moving the mapping to another stream: the role's grant, the record, the new mapping, the
# old mapping's delete.
SWITCH_CRASH_POINTS = 5  # and PutDashboard: it graphs the stream by name


def test_every_switch_crash_point_is_covered(run, moto, aws, stream_arn, make_stream):
    assert run("up", "--stream-arn", stream_arn).exit_code == 0
    other = make_stream()
    moto.clear_log()

    switched = _run("up", "--stream-arn", other, "--replace-mapping", url=moto.url)

    assert switched.returncode == 0, switched.stderr
    calls = moto.mutating()
    assert len(calls) == SWITCH_CRASH_POINTS, sorted(calls)
    assert calls.index("lambda:CreateEventSourceMapping") < calls.index(
        "lambda:DeleteEventSourceMapping"
    )


@pytest.mark.parametrize("n", range(1, SWITCH_CRASH_POINTS + 1))
def test_a_switch_killed_after_its_nth_change_always_leaves_a_mapping_and_finishes(
    run, moto, aws, stream_arn, make_stream, n
):
    assert run("up", "--stream-arn", stream_arn).exit_code == 0
    other = make_stream()
    where, _ = _killed_after(moto, n, "up", "--stream-arn", other, "--replace-mapping")

    left = mappings_of(aws, "crypto_data_consumer")
    assert {m["State"] for m in left} == {"Enabled"}, f"{where}: {left}"
    assert len(left) in (1, 2), where
    again = _run("up", "--stream-arn", other, "--replace-mapping", "--output", "json", url=moto.url)

    assert again.returncode == 0, f"{where}\n{again.stderr}"
    _assert_converged(run, aws, other, where)
    gone = run("destroy", "--yes", "--delete-table")
    assert gone.exit_code == 0, f"{where}\n{gone}"
    assert inventory(aws).empty, f"{where}: {inventory(aws)}"


def test_every_crash_point_of_an_s3_destination_is_covered(moto, aws, stream_arn):
    moto.clear_log()
    assert _run("up", "--stream-arn", stream_arn, *S3, url=moto.url).returncode == 0
    up_calls = moto.mutating()
    aws("s3").put_object(Bucket=BUCKETS[0], Key="aws/lambda/x/shardId-1/obj", Body=b"{}")
    moto.clear_log()
    gone = _run("destroy", "--yes", "--delete-table", *S3_DELETE, url=moto.url)
    assert gone.returncode == 0, gone.stderr
    destroy_calls = moto.mutating()

    assert len(up_calls) == UP_CRASH_POINTS_S3, sorted(up_calls)
    assert len(destroy_calls) == DESTROY_CRASH_POINTS_S3, sorted(destroy_calls)
    assert sorted(c for c in up_calls if c.startswith("s3:")) == sorted(S3_UP_CALLS)
    assert sorted(c for c in destroy_calls if c.startswith("s3:")) == sorted(S3_DESTROY_CALLS)
    assert inventory(aws).empty


@pytest.mark.parametrize("n", S3_UP_CALLS)
def test_up_with_an_s3_destination_killed_after_its_nth_change_converges(
    run, moto, aws, stream_arn, n
):
    where, _ = _killed_after(moto, n, "up", "--stream-arn", stream_arn, *S3)

    again = _run("up", "--stream-arn", stream_arn, *S3, "--output", "json", url=moto.url)

    assert again.returncode == 0, f"{where}\n{again.stderr}"
    _assert_converged(run, aws, stream_arn, where, s3=True)
    bucket = aws("s3").get_bucket_lifecycle_configuration(Bucket=BUCKETS[0])
    assert bucket["Rules"][0]["Expiration"] == {"Days": 14}, where
    assert aws("s3").get_public_access_block(Bucket=BUCKETS[0]), where
    (mapping,) = mappings_of(aws, "crypto_data_consumer")
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == f"arn:aws:s3:::{BUCKETS[0]}", where
    gone = run("destroy", "--yes", "--delete-table", *S3_DELETE)
    assert gone.exit_code == 0, f"{where}\n{gone}"
    assert inventory(aws).empty, f"{where}: {inventory(aws)}"


# A new position on the same stream (LATEST after TRIM_HORIZON: a look-back, not a reset): the
# record, the function's note of where the new mapping starts, the delete, the create, the
# note's removal.
RESTART_CRASH_POINTS = 5


@pytest.mark.parametrize("n", range(1, RESTART_CRASH_POINTS + 1))
def test_a_restart_killed_after_its_nth_change_resumes_where_it_was_to_start(
    run, moto, aws, stream_arn, n
):
    assert (
        run("up", "--stream-arn", stream_arn, "--starting-position", "TRIM_HORIZON").exit_code == 0
    )
    args = ("up", "--stream-arn", stream_arn, "--starting-position", "LATEST", "--replace-mapping")
    where, _ = _killed_after(moto, n, *args)

    again = _run(*args, url=moto.url)

    assert again.returncode == 0, f"{where}\n{again.stderr}"
    _assert_converged(run, aws, stream_arn, where)
    (mapping,) = mappings_of(aws, "crypto_data_consumer")
    # Never LATEST: that would skip what arrived between the delete and the create.
    assert mapping["StartingPosition"] == "AT_TIMESTAMP", where
    function = aws("lambda").get_function(FunctionName="crypto_data_consumer")
    assert "cryptoconsumer:mapping-resume-at" not in function.get("Tags", {}) or n == 4, where


@pytest.mark.parametrize("n", S3_DESTROY_CALLS)
def test_destroy_of_an_s3_destination_killed_after_its_nth_change_finishes(
    run, moto, aws, stream_arn, n
):
    assert run("up", "--stream-arn", stream_arn, *S3).exit_code == 0
    aws("s3").put_object(Bucket=BUCKETS[0], Key="aws/lambda/x/shardId-1/obj", Body=b"{}")
    where, _ = _killed_after(moto, n, "destroy", "--yes", "--delete-table", *S3_DELETE)

    again = _run("destroy", "--yes", "--delete-table", *S3_DELETE, url=moto.url)

    assert again.returncode == 0, f"{where}\n{again.stderr}"
    assert inventory(aws).empty, f"{where}: {inventory(aws)}"
