"""`up`/`plan --managed-policy`: AWS's broad policies, by any name, are refused with exit 2, one
line naming the statement, and no mutating call (the policy is read, nothing is changed)."""

from __future__ import annotations

import json

import pytest

from tests.aws_state import inventory

AWS_POLICY = "arn:aws:iam::aws:policy/"


@pytest.fixture
def managed_policies(moto, monkeypatch):
    """moto loads AWS's managed policies (real documents) into a backend made after this."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    moto.reset()
    return moto


@pytest.mark.parametrize("command", ["up", "plan"])
@pytest.mark.parametrize(
    ("policy", "statement"),
    [
        ("AdministratorAccess", "Statement[0] allows every action ('*') on every resource"),
        ("PowerUserAccess", "Statement[0] allows every action but iam:*, organizations:*"),
    ],
)
def test_broad_aws_policies_are_refused_before_any_change(
    run, managed_policies, aws, stream_arn, api_calls, command, policy, statement
):
    managed_policies.clear_log()
    api_calls.clear()

    result = run(command, "--stream-arn", stream_arn, "--managed-policy", AWS_POLICY + policy)

    assert result.exit_code == 2, str(result)
    (line,) = result.error_lines
    assert line.startswith(f"error: --managed-policy {AWS_POLICY}{policy}: its default version v")
    assert statement in line
    assert "least privilege" in line
    assert managed_policies.mutating() == [] and api_calls.mutating() == []
    assert inventory(aws).empty


def test_iam_full_access_is_refused_with_no_call_at_all(
    run, managed_policies, stream_arn, api_calls
):
    api_calls.clear()

    result = run("up", "--stream-arn", stream_arn, "--managed-policy", AWS_POLICY + "IAMFullAccess")

    assert result.exit_code == 2, str(result)
    assert len(result.error_lines) == 1
    assert api_calls.calls == []  # refused by its name before any AWS call


def test_a_policy_that_does_not_exist_exits_2(run, moto, stream_arn, api_calls):
    arn = "arn:aws:iam::123456789012:policy/nothing-here"
    api_calls.clear()

    result = run("up", "--stream-arn", stream_arn, "--managed-policy", arn)

    assert result.exit_code == 2, str(result)
    assert result.error_lines == [f"error: --managed-policy {arn} does not exist"]
    assert api_calls.mutating() == []


def test_a_customer_policy_granting_a_whole_service_is_refused(run, moto, aws, stream_arn):
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Traces",
                "Effect": "Allow",
                "Action": "xray:PutTraceSegments",
                "Resource": "*",
            },
            {"Sid": "Buckets", "Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]},
        ],
    }
    arn = aws("iam").create_policy(PolicyName="wide", PolicyDocument=json.dumps(document))[
        "Policy"
    ]["Arn"]
    moto.clear_log()

    result = run("up", "--stream-arn", stream_arn, "--managed-policy", arn)

    assert result.exit_code == 2, str(result)
    assert "statement 'Buckets' (Statement[1]) allows every s3 action ('s3:*')" in result.stderr
    assert moto.mutating() == []


def test_a_narrow_aws_policy_is_attached(run, managed_policies, aws, stream_arn):
    arn = AWS_POLICY + "AWSXRayDaemonWriteAccess"

    result = run("up", "--stream-arn", stream_arn, "--managed-policy", arn)

    assert result.exit_code == 0, str(result)
    attached = aws("iam").list_attached_role_policies(RoleName="crypto_data_consumer-role")
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [arn]
