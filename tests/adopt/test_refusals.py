"""Every refusal of `adopt`: one line on stderr, its exit code, and not one mutating call.

Bad input (exit 2) is refused before any request; what only AWS can tell (exit 1) after reads
only.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.adopt import seed

ARGS = ("--cloudformation-stack", seed.STACK_NAME, "--yes")


def adopt(run, moto, *args: str):
    return run("adopt", *args, "--endpoint-url", moto.url)


def refused(run, moto, *args: str, code: int = 1) -> str:
    moto.clear_log()
    result = adopt(run, moto, *args)
    assert result.exit_code == code, str(result)
    assert moto.mutating() == [], str(result)
    (line,) = result.error_lines
    assert line.startswith("error: ")
    return line


def set_status(stack_id: str, status: str) -> None:
    # The moto server runs in this process: put the stack in a state moto never reaches.
    from moto.cloudformation.models import cloudformation_backends

    cloudformation_backends["123456789012"]["us-east-1"].stacks[stack_id].status = status


@pytest.mark.parametrize(
    "status",
    [
        "ROLLBACK_COMPLETE",
        "CREATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_FAILED",
        "DELETE_IN_PROGRESS",
        "DELETE_FAILED",
        "REVIEW_IN_PROGRESS",
    ],
)
def test_a_stack_that_is_not_stable_is_refused(run, moto, aws, status):
    deployed = seed.deploy(aws)
    set_status(deployed.stack_id, status)

    line = refused(run, moto, *ARGS)

    assert status in line


@pytest.mark.parametrize("status", ["UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"])
def test_other_complete_states_are_adoptable(run, moto, aws, status):
    deployed = seed.deploy(aws)
    set_status(deployed.stack_id, status)
    moto.clear_log()

    result = adopt(run, moto, "--cloudformation-stack", seed.STACK_NAME, "--dry-run")

    assert result.exit_code == 0, str(result)
    assert moto.mutating() == []


def test_a_deleted_stack_is_refused(run, moto, aws):
    deployed = seed.deploy(aws)
    aws("cloudformation").delete_stack(StackName=deployed.stack_id)

    by_id = refused(run, moto, "--cloudformation-stack", deployed.stack_id, "--yes")
    by_name = refused(run, moto, *ARGS)

    assert "does not exist" in by_id and "does not exist" in by_name


def test_a_stack_that_does_not_exist_is_refused(run, moto, aws):
    line = refused(run, moto, "--cloudformation-stack", "NoSuchStack", "--yes")

    assert "CloudFormation stack NoSuchStack does not exist" in line


def without(logical_id: str) -> dict[str, Any]:
    return seed.changed(lambda body: body["Resources"].pop(logical_id))


def resource_of(body: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return next(r for r in body["Resources"].values() if r["Type"] == resource_type)


def test_no_table_is_refused(run, moto, aws):
    seed.deploy(aws, without("CryptoIntradayTable43A97289"))

    line = refused(run, moto, *ARGS)

    assert "has no table (AWS::DynamoDB::Table)" in line


def test_no_kinesis_mapping_is_refused(run, moto, aws):
    mapping = "CryptoDataConsumerKinesisEventSourceCryptoIntradayStackCryptoStream0D57F186A28C318C"
    seed.deploy(aws, without(mapping))

    line = refused(run, moto, *ARGS)

    assert "has no Kinesis mapping" in line


def test_another_key_schema_is_refused(run, moto, aws):
    def numeric_sort_key(body: dict[str, Any]) -> None:
        table = resource_of(body, "AWS::DynamoDB::Table")
        table["Properties"]["AttributeDefinitions"][1]["AttributeType"] = "N"

    seed.deploy(aws, seed.changed(numeric_sort_key))

    line = refused(run, moto, *ARGS)

    assert "has key ticker (S) + last_refreshed (N), not ticker (S) + last_refreshed (S)" in line


@pytest.mark.parametrize("policy", [None, "Delete", "Snapshot"])
def test_a_table_without_deletion_policy_retain_is_refused(run, moto, aws, policy):
    def set_policy(body: dict[str, Any]) -> None:
        table = resource_of(body, "AWS::DynamoDB::Table")
        table.pop("DeletionPolicy")
        if policy:
            table["DeletionPolicy"] = policy

    seed.deploy(aws, seed.changed(set_policy))

    line = refused(run, moto, *ARGS)

    assert f"DeletionPolicy {policy or 'Delete'}" in line
    assert "RemovalPolicy.RETAIN" in line and "`cdk deploy`" in line
    assert seed.TABLE in aws("dynamodb").list_tables()["TableNames"]


def with_queue(body: dict[str, Any]) -> None:
    body["Resources"]["AlertsQueue1A2B3C4D"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"QueueName": "crypto-alerts"},
    }


def test_other_resources_are_refused_without_force_unknown(run, moto, aws):
    seed.deploy(aws, seed.changed(with_queue))

    line = refused(run, moto, *ARGS)

    assert "AlertsQueue1A2B3C4D (AWS::SQS::Queue)" in line and "--force-unknown" in line


def test_force_unknown_lists_them_as_deleted_with_the_stack(run, moto, aws):
    seed.deploy(aws, seed.changed(with_queue))

    plan = adopt(run, moto, *ARGS, "--force-unknown", "--dry-run", "--output", "json")

    assert plan.exit_code == 0, str(plan)
    (other,) = [r for r in plan.json()["cloudformation"]["resources"] if r["kind"] == "other"]
    assert (other["type"], other["action"]) == ("AWS::SQS::Queue", "delete")
    done = adopt(run, moto, *ARGS, "--force-unknown")
    assert done.exit_code == 0, str(done)
    assert "-   other     " in done.stdout
    queues = aws("sqs").list_queues().get("QueueUrls", [])
    assert not [url for url in queues if url.endswith("/crypto-alerts")]


def test_force_unknown_is_consent_and_cannot_come_from_the_stack_file(
    run, moto, aws, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cryptoconsumer.toml").write_text("[default.adopt]\nforce-unknown = true\n")

    line = refused(run, moto, *ARGS, code=2)

    assert "consent" in line


def test_termination_protection_is_refused(run, moto, aws):
    seed.deploy(aws, termination_protection=True)

    line = refused(run, moto, *ARGS)

    assert "termination protection" in line
    assert "--no-enable-termination-protection" in line


def test_a_table_of_another_cryptoconsumer_stack_is_refused(run, moto, aws):
    seed.deploy(aws)
    arn = aws("dynamodb").describe_table(TableName=seed.TABLE)["Table"]["TableArn"]
    aws("dynamodb").tag_resource(
        ResourceArn=arn,
        Tags=[
            {"Key": "cryptoconsumer:stack", "Value": "other"},
            {"Key": "managed-by", "Value": "cryptoconsumer"},
        ],
    )

    line = refused(run, moto, *ARGS)

    assert "table crypto_intraday exists but is not tagged cryptoconsumer:stack=crypto" in line


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--function-name", seed.OLD_FUNCTION, "belongs to CloudFormation stack"),
        ("--table-name", "another_table", "adopt keeps CloudFormation stack"),
        (
            "--stream-arn",
            "arn:aws:kinesis:us-east-1:123456789012:stream/other",
            "mapping reads " + seed.STREAM_ARN,
        ),
    ],
)
def test_names_the_stack_cannot_take_are_refused(run, moto, aws, option, value, said):
    seed.deploy(aws)

    line = refused(run, moto, *ARGS, option, value)

    assert said in line


def test_the_stacks_own_role_name_is_refused(run, moto, aws):
    deployed = seed.deploy(aws)
    resources = aws("cloudformation").describe_stack_resources(StackName=deployed.stack_id)
    (role,) = [r for r in resources["StackResources"] if r["ResourceType"] == "AWS::IAM::Role"]

    line = refused(run, moto, *ARGS, "--role-name", role["PhysicalResourceId"])

    assert f"role {role['PhysicalResourceId']} belongs to CloudFormation stack" in line


def test_two_functions_are_refused(run, moto, aws):
    def second_function(body: dict[str, Any]) -> None:
        function = dict(resource_of(body, "AWS::Lambda::Function"))
        function["Properties"] = {**function["Properties"], "FunctionName": "second_consumer"}
        body["Resources"]["SecondFunction0A1B2C3D"] = function

    seed.deploy(aws, seed.changed(second_function))

    line = refused(run, moto, *ARGS)

    assert "has 2 functions" in line


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--cloudformation-stack", "1-not-a-name", "--yes"), "is not a stack name"),
        (("--cloudformation-stack", " ", "--yes"), "is empty"),
        (("--yes",), "--cloudformation-stack is required"),
        ((*ARGS, "--starting-position", "LATEST"), "does not start the new mapping at LATEST"),
        ((*ARGS, "--batch-size", "0"), "--batch-size 0 is out of range"),
    ],
)
def test_bad_input_is_refused_before_any_request(run, moto, aws, args, said):
    seed.deploy(aws)
    moto.clear_log()

    result = adopt(run, moto, *args)

    assert result.exit_code == 2, str(result)
    assert moto.requests == []
    (line,) = result.error_lines
    assert said in line
