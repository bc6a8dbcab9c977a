"""`up && check` never flakes: right after `up` makes a LATEST mapping, `check` passes.

On the local emulator (the real poller, the real handler in a worker process), as `local
start` runs it: the poller notices a new mapping at its next scan (every second) and only then
takes a LATEST iterator, exactly as Lambda's poller reads nothing put before its first poll.
A single canary put in that gap is never read; `check` keeps putting fresh ones until one
arrives.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import REGION, create_stream, json_of

ITERATIONS = 10


def test_up_then_check_passes_every_time_on_a_latest_mapping(aws_env: None, cli: Any) -> None:
    pipeline = pytest.importorskip("cryptoconsumer.local.pipeline")
    log: list[str] = []
    with pipeline.running(log=log.append) as local:
        stream_arn = create_stream(local.clients(REGION))
        endpoint = ("--endpoint-url", local.endpoint_url)
        for iteration in range(ITERATIONS):
            stack = ("--stack", f"loop{iteration}")
            up = cli("up", *stack, "--stream-arn", stream_arn, *endpoint)
            assert up.exit_code == 0, (iteration, up.stdout, up.stderr)

            check = cli("check", *stack, *endpoint, "--timeout", "30", "--output", "json")

            assert check.exit_code == 0, (iteration, check.stdout, check.stderr, log)
            document = json_of(check)
            assert document["ok"] is True and document["deleted"] is True
            assert document["canaries_deleted"] >= 1
            # How many canaries it took (1, or 2 when the first came before the first poll).
            print(f"iteration {iteration}: {document['canaries_put']} canaries put")
            gone = cli("destroy", *stack, *endpoint, "--yes", "--delete-table")
            assert gone.exit_code == 0, (iteration, gone.stderr)
