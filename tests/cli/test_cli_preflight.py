"""Refusals after reading but before the first change: exit 1, and nothing created or deleted."""

from __future__ import annotations

import json

import pytest
from moto.kinesis.models import kinesis_backends

from tests.aws_state import TICKS_TABLE
from tests.conftest import ACCOUNT, REGION

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _foreign_table(aws, tags=()):
    aws("dynamodb").create_table(
        TableName="crypto_intraday",
        **TICKS_TABLE,
        **({"Tags": list(tags)} if tags else {}),
    )


def _foreign_queue(aws):
    aws("sqs").create_queue(QueueName="crypto_data_consumer-dlq")


def _foreign_log_group(aws):
    aws("logs").create_log_group(logGroupName="/aws/lambda/crypto_data_consumer")


def _foreign_role(aws):
    aws("iam").create_role(RoleName="crypto_data_consumer-role", AssumeRolePolicyDocument=TRUST)


def _foreign_function(aws):
    from cryptoconsumer.package import build

    role = aws("iam").create_role(RoleName="someone-elses-role", AssumeRolePolicyDocument=TRUST)
    aws("lambda").create_function(
        FunctionName="crypto_data_consumer",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="data_consumer_lambda.handler",
        Code={"ZipFile": build().zip_bytes},
    )


def _other_stacks_table(aws):
    _foreign_table(
        aws,
        tags=[
            {"Key": "cryptoconsumer:stack", "Value": "other"},
            {"Key": "managed-by", "Value": "cryptoconsumer"},
        ],
    )


def _exists(aws, kind: str) -> bool:
    if kind == "table":
        return "crypto_intraday" in aws("dynamodb").list_tables()["TableNames"]
    if kind == "queue":
        return any(
            url.endswith("/crypto_data_consumer-dlq")
            for url in aws("sqs").list_queues().get("QueueUrls", [])
        )
    if kind == "log group":
        groups = aws("logs").describe_log_groups()["logGroups"]
        return any(g["logGroupName"] == "/aws/lambda/crypto_data_consumer" for g in groups)
    if kind == "role":
        return any(
            r["RoleName"] == "crypto_data_consumer-role" for r in aws("iam").list_roles()["Roles"]
        )
    if kind == "function":
        functions = aws("lambda").list_functions()["Functions"]
        return any(f["FunctionName"] == "crypto_data_consumer" for f in functions)
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "name", "make"),
    [
        ("table", "crypto_intraday", _foreign_table),
        ("table", "crypto_intraday", _other_stacks_table),
        ("queue", "crypto_data_consumer-dlq", _foreign_queue),
        ("log group", "/aws/lambda/crypto_data_consumer", _foreign_log_group),
        ("role", "crypto_data_consumer-role", _foreign_role),
        ("function", "crypto_data_consumer", _foreign_function),
    ],
    ids=["table", "table-of-another-stack", "queue", "log-group", "role", "function"],
)
def test_up_refuses_a_same_named_resource_it_does_not_own(
    run, moto, aws, stream_arn, kind, name, make
):
    make(aws)
    moto.clear_log()

    result = run("up", "--stream-arn", stream_arn)

    assert result.exit_code == 1, str(result)
    assert result.stdout == ""
    assert len(result.error_lines) == 1, str(result)
    assert result.error_lines[0].startswith(f"error: {kind} {name} exists but is not tagged ")
    assert "cryptoconsumer:stack=crypto" in result.error_lines[0]
    assert moto.mutating() == [], "something was created before the refusal"

    destroyed = run("destroy", "--yes", "--delete-table")
    assert destroyed.exit_code == 0, str(destroyed)
    assert moto.mutating() == [], "destroy touched a resource it does not own"
    assert _exists(aws, kind)


def test_up_refuses_a_mapping_of_ours_that_lost_its_tags(run, moto, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn).exit_code == 0
    lam = aws("lambda")
    (mapping,) = lam.list_event_source_mappings(FunctionName="crypto_data_consumer")[
        "EventSourceMappings"
    ]
    lam.untag_resource(
        Resource=mapping["EventSourceMappingArn"],
        TagKeys=["cryptoconsumer:stack", "managed-by"],
    )
    moto.clear_log()

    result = run("up", "--stream-arn", stream_arn, "--batch-size", "50")

    assert result.exit_code == 1, str(result)
    assert f"mapping {mapping['UUID']} from {stream_arn}" in result.stderr
    assert "refusing to change it" in result.stderr
    assert moto.mutating() == []


def test_up_refuses_a_stream_that_does_not_exist(run, moto, api_calls):
    api_calls.clear()
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/never-made"

    result = run("up", "--stream-arn", arn)

    assert result.exit_code == 1, str(result)
    assert result.error_lines == [f"error: stream {arn} does not exist"]
    assert moto.mutating() == [] and api_calls.mutating() == []
    assert "DescribeStreamSummary" in " ".join(moto.reads())


@pytest.mark.parametrize("status", ["CREATING", "DELETING"])
def test_up_refuses_a_stream_that_is_not_active(run, moto, api_calls, stream_arn, status):
    name = stream_arn.rsplit("/", 1)[-1]
    kinesis_backends[ACCOUNT][REGION].streams[name].status = status
    api_calls.clear()

    result = run("up", "--stream-arn", stream_arn)

    assert result.exit_code == 1, str(result)
    assert result.error_lines == [f"error: stream {stream_arn} is {status}, not ACTIVE"]
    assert moto.mutating() == [] and api_calls.mutating() == []


def test_without_credentials_every_command_says_how_to_give_them(
    run, moto, monkeypatch, stream_arn
):
    """No keys anywhere: env, empty config and credentials files, no instance metadata.

    The endpoint is the moto server through an IPv4-mapped IPv6 address: loopback for the
    socket, but not the `localhost`/`127.x` spelling for which the tool lends throwaway keys
    to a local emulator, so it behaves as it would against AWS.
    """
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    endpoint = f"http://[::ffff:127.0.0.1]:{moto.port}"

    for command in ("up", "plan", "status", "destroy"):
        extra = ["--stream-arn", stream_arn] if command != "destroy" else ["--yes"]
        result = run(command, *extra, "--endpoint-url", endpoint)

        assert result.exit_code == 1, str(result)
        assert len(result.error_lines) == 1, str(result)
        assert result.error_lines[0] == (
            "error: no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or pass --profile)"
        ), str(result)
        assert result.stdout == ""
    assert moto.requests == [], "an unsigned request was sent"


def test_an_unknown_profile_is_named(run, moto, stream_arn):
    result = run("up", "--stream-arn", stream_arn, "--profile", "nobody")

    assert result.exit_code == 2, str(result)
    assert result.error_lines == ["error: AWS profile not found: nobody"]
    assert moto.requests == []
