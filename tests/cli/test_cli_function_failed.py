"""A Lambda function AWS reports Failed, through the CLI: `up` exits 1 with AWS's reason and
maps nothing onto it, `plan` and `status` say Failed with the reason, and the `up` after the
cause is fixed repairs it (exit 0)."""

from __future__ import annotations

import boto3
import pytest

from cryptoconsumer.aws import Clients
from cryptoconsumer.cli import stack_cmds
from tests.aws_state import inventory
from tests.faults import Timings, aws_like

FUNCTION = "crypto_data_consumer"
CODE, REASON = "InvalidRuntime", "The runtime parameter of python3.12 is not supported here."


@pytest.fixture
def faults(moto, monkeypatch):
    session = boto3.Session(region_name="us-east-1")
    quick = Timings(**{name: 0.0 for name in Timings.__dataclass_fields__})
    hooks = aws_like(session, timings=quick, endpoint_url=moto.url)
    monkeypatch.setattr(stack_cmds, "_clients", lambda target: Clients(target, session=session))
    return hooks


def test_a_failed_function_through_up_plan_status_and_repair(run, aws, stream_arn, faults):
    faults.broken_functions[FUNCTION] = (CODE, REASON)

    created = run("up", "--stream-arn", stream_arn)

    assert created.exit_code == 1, str(created)
    assert created.error_lines[-1] == (
        f"error: function {FUNCTION} is Failed after it was created: "
        f"State Failed ({CODE}): {REASON}"
    )
    assert inventory(aws).mappings == ()

    planned = run("plan", "--stream-arn", stream_arn, "--output", "json")
    assert planned.exit_code == 0, str(planned)
    (function,) = [c for c in planned.json()["changes"] if c["resource"] == "function"]
    assert function["action"] == "update"
    assert function["details"][0].startswith(f"State Failed ({CODE}): {REASON}")

    status = run("status", "--stream-arn", stream_arn, "--output", "json")
    assert status.exit_code == 3, str(status)
    document = status.json()
    assert document["health"]["function"]["state"] == "Failed"
    assert document["health"]["function"]["state_reason"] == REASON
    assert document["health"]["function"]["state_reason_code"] == CODE
    assert any(f"State Failed ({CODE}): {REASON}" in p for p in document["problems"])
    text = run("status", "--stream-arn", stream_arn)
    lines = text.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if line.split()[1:3] == ["function", FUNCTION])
    assert lines[row].split()[0] == "problem"
    assert lines[row + 1].strip().startswith(f"problem: State Failed ({CODE}): {REASON}")

    still = run("up", "--stream-arn", stream_arn)
    assert still.exit_code == 1, str(still)
    assert f"State Failed ({CODE}): {REASON}" in still.error_lines[-1]
    assert inventory(aws).mappings == ()

    del faults.broken_functions[FUNCTION]
    repaired = run("up", "--stream-arn", stream_arn)

    assert repaired.exit_code == 0, str(repaired)
    assert f"repaired function {FUNCTION}: Active" in repaired.stderr
    assert len(inventory(aws).mappings) == 1
    assert run("status", "--stream-arn", stream_arn).exit_code == 0
