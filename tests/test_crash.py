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
# The alarms add CreateTopic and four PutMetricAlarm to `up`, four DeleteAlarms and
# DeleteTopic to `destroy`.
UP_CRASH_POINTS = 15
DESTROY_CRASH_POINTS = 14
STACK = {
    "tables": ("crypto_intraday",),
    "queues": ("crypto_data_consumer-dlq",),
    "roles": ("crypto_data_consumer-role",),
    "functions": ("crypto_data_consumer",),
    "log_groups": ("/aws/lambda/crypto_data_consumer",),
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


def _killed_after(moto, n: int, *args: str) -> tuple[str, str]:
    """Run the command, SIGKILLed once the n-th mutating call has been processed."""
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


def _assert_converged(run, aws, stream_arn, where: str) -> None:
    found = inventory(aws)
    for kind, names in STACK.items():
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
