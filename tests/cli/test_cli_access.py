"""Least privilege and ownership tags, read back from IAM, Lambda and friends after `up`."""

from __future__ import annotations

import json

from tests.aws_state import all_tags, attached_policies, inline_policies, the_mapping

ACCOUNT = "123456789012"
ROLE = "crypto_data_consumer-role"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/crypto_intraday"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:crypto_data_consumer-dlq"
LOG_GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/crypto_data_consumer"


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _grants(policy) -> dict[str, set[str]]:
    """resource -> the actions allowed on it."""
    grants: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for resource in _as_list(statement["Resource"]):
            grants.setdefault(resource, set()).update(_as_list(statement["Action"]))
    return grants


def test_the_role_has_one_least_privilege_policy_and_nothing_else(run, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn).exit_code == 0

    policies = inline_policies(aws, ROLE)
    assert list(policies) == ["cryptoconsumer-least-privilege"]
    assert attached_policies(aws, ROLE) == []
    assert _grants(policies["cryptoconsumer-least-privilege"]) == {
        stream_arn: {
            "kinesis:DescribeStream",
            "kinesis:DescribeStreamSummary",
            "kinesis:GetRecords",
            "kinesis:GetShardIterator",
            "kinesis:ListShards",
        },
        "*": {"kinesis:ListStreams"},
        TABLE_ARN: {"dynamodb:BatchWriteItem"},
        f"{LOG_GROUP_ARN}:*": {"logs:CreateLogStream", "logs:PutLogEvents"},
        QUEUE_ARN: {"sqs:SendMessage"},
    }
    assert not any(
        "*" in action
        for actions in _grants(policies["cryptoconsumer-least-privilege"]).values()
        for action in actions
    )


def test_the_role_trusts_lambda_in_this_account_only(run, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn).exit_code == 0

    trust = aws("iam").get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    (statement,) = trust["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_managed_policy_is_attached_and_detached_on_request(run, aws, stream_arn):
    policy = aws("iam").create_policy(
        PolicyName="read-config",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]

    result = run("up", "--stream-arn", stream_arn, "--managed-policy", policy)

    assert result.exit_code == 0, str(result)
    assert attached_policies(aws, ROLE) == [policy]
    assert list(inline_policies(aws, ROLE)) == ["cryptoconsumer-least-privilege"]
    status = run("status", "--stream-arn", stream_arn, "--managed-policy", policy)
    assert status.exit_code == 0, str(status)

    # Recorded: a later plain `up` keeps it; `--reset managed-policy` goes back to none.
    assert run("up", "--stream-arn", stream_arn).exit_code == 0
    assert attached_policies(aws, ROLE) == [policy]
    assert run("up", "--reset", "managed-policy").exit_code == 0
    assert attached_policies(aws, ROLE) == []


def test_full_access_policies_are_refused(run, moto, stream_arn):
    for policy in (
        "arn:aws:iam::aws:policy/AdministratorAccess-FullAccess",
        "arn:aws:iam::aws:policy/AmazonKinesisFullAccess",
        f"arn:aws:iam::{ACCOUNT}:policy/team/MyFullAccess",
    ):
        result = run("up", "--stream-arn", stream_arn, "--managed-policy", policy)
        assert result.exit_code == 2, str(result)
        assert "*FullAccess policies defeat least privilege" in result.stderr
    assert moto.requests == []


def test_every_resource_carries_the_stack_tags(run, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn).exit_code == 0

    tags = all_tags(aws)

    assert set(tags) == {"table", "queue", "log_group", "role", "function", "mapping"}
    for resource, found in tags.items():
        assert found.get("cryptoconsumer:stack") == "crypto", (resource, found)
        assert found.get("managed-by") == "cryptoconsumer", (resource, found)


def test_another_stack_tags_with_its_own_name(run, aws, stream_arn):
    assert run("up", "--stack", "blue", "--stream-arn", stream_arn).exit_code == 0

    for resource, found in all_tags(aws, "blue").items():
        assert found.get("cryptoconsumer:stack") == "blue", (resource, found)
    mapping = the_mapping(aws, "blue_data_consumer")
    assert mapping["EventSourceArn"] == stream_arn
