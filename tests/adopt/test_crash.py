"""`adopt` killed right after its N-th mutating call: the moto server processes the call, then
SIGKILLs the client before it sees the answer (tests/test_crash.py's harness). For every N:

- at that moment a mapping on the stream is Enabled (the old one, ours, or both) and the table
  is there with its items;
- `adopt` again converges: the CloudFormation stack is gone, the table is this stack's with its
  items, one Enabled mapping (ours), `status` exit 0;
- killed after DeleteStack, `up` with no options converges as well.
"""

from __future__ import annotations

import pytest

from tests.adopt import seed
from tests.aws_state import inventory
from tests.test_crash import _killed_after, _run

# CreateQueue, PutParameter, CreateLogGroup, PutRetentionPolicy, CreateRole, PutRolePolicy,
# CreateFunction, TagResource, UpdateTable, UpdateContinuousBackups, CreateEventSourceMapping,
# DeleteStack.
ADOPT_CRASH_POINTS = 18  # 12, PutDashboard, and the alarms: CreateTopic and four PutMetricAlarm
OLD_KEY = {"ticker": {"S": "ETHUSD"}, "last_refreshed": {"S": "2026-03-01 00:00:00"}}
OLD_RATE = "2081.0000000000000000000000000000000001"
ARGS = ("adopt", "--cloudformation-stack", seed.STACK_NAME, "--yes")


def deploy(aws) -> seed.Seed:
    deployed = seed.deploy(aws)
    aws("dynamodb").put_item(
        TableName=seed.TABLE, Item={**OLD_KEY, "exchange_rate": {"N": OLD_RATE}}
    )
    return deployed


def assert_consuming_and_kept(aws, where: str) -> None:
    assert seed.enabled_mappings(aws), f"{where}: no enabled mapping on the stream"
    item = aws("dynamodb").get_item(TableName=seed.TABLE, Key=OLD_KEY)["Item"]
    assert item["exchange_rate"]["N"] == OLD_RATE, where


def assert_converged(run, aws, deployed: seed.Seed, where: str) -> None:
    assert seed.stack_status(aws, deployed.stack_id) == "DELETE_COMPLETE", where
    found = inventory(aws)
    assert found.tables == (seed.TABLE,), f"{where}: {found}"
    assert found.functions == (seed.NEW_FUNCTION,), f"{where}: {found}"
    assert found.roles == ("crypto_data_consumer-role",), f"{where}: {found}"
    assert found.queues == ("crypto_data_consumer-dlq",), f"{where}: {found}"
    (mapping,) = seed.enabled_mappings(aws)
    assert mapping["FunctionArn"].endswith(":" + seed.NEW_FUNCTION), where
    assert len(found.mappings) == 1, where
    assert_consuming_and_kept(aws, where)
    healthy = run("status")
    assert healthy.exit_code == 0, f"{where}\n{healthy}"


def test_every_crash_point_is_covered(run, moto, aws):
    deployed = deploy(aws)
    moto.clear_log()

    done = _run(*ARGS, url=moto.url)

    assert done.returncode == 0, done.stderr
    calls = moto.mutating()
    assert len(calls) == ADOPT_CRASH_POINTS, calls
    assert calls[-1] == "cloudformation:DeleteStack"
    assert_converged(run, aws, deployed, "uninterrupted")


@pytest.mark.parametrize("n", range(1, ADOPT_CRASH_POINTS + 1))
def test_adopt_killed_after_its_nth_change_converges_on_the_next_adopt(run, moto, aws, n):
    deployed = deploy(aws)
    where, _ = _killed_after(moto, n, *ARGS)
    assert_consuming_and_kept(aws, where)

    again = _run(*ARGS, url=moto.url)

    assert again.returncode == 0, f"{where}\n{again.stderr}"
    assert_converged(run, aws, deployed, where)


def test_up_converges_once_the_cloudformation_stack_is_gone(run, moto, aws):
    deployed = deploy(aws)
    where, _ = _killed_after(moto, ADOPT_CRASH_POINTS, *ARGS)
    assert "DeleteStack" in where

    again = _run("up", url=moto.url)

    assert again.returncode == 0, f"{where}\n{again.stderr}"
    assert_converged(run, aws, deployed, where)
