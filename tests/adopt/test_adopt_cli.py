"""`cryptoconsumer adopt` through the CLI against the moto server, the seed stack deployed by
moto's CloudFormation: plan, apply, what is left, and the options of `up`."""

from __future__ import annotations

import json

from tests.adopt import seed
from tests.aws_state import inventory

OLD_KEY = {"ticker": {"S": "BTCUSD"}, "last_refreshed": {"S": "2026-03-01 00:00:00"}}
OLD_RATE = "37021.123456789012345678901234567890"
ARGS = ("--cloudformation-stack", seed.STACK_NAME)


def deploy_with_history(aws) -> seed.Seed:
    deployed = seed.deploy(aws)
    aws("dynamodb").put_item(
        TableName=seed.TABLE, Item={**OLD_KEY, "exchange_rate": {"N": OLD_RATE}}
    )
    return deployed


def adopt(run, moto, *args: str):
    return run("adopt", *ARGS, *args, "--endpoint-url", moto.url)


def test_dry_run_plans_everything_and_changes_nothing(run, moto, aws):
    deploy_with_history(aws)
    moto.clear_log()

    shown = adopt(run, moto, "--dry-run")

    assert shown.exit_code == 0, str(shown)
    assert moto.mutating() == []
    text = shown.stdout
    assert "would change (adopting CloudFormation stack DataConsumerStack)" in text
    assert "adopted: tagged cryptoconsumer:stack=crypto, managed-by=cryptoconsumer" in text
    assert "+   function  crypto_data_consumer-adopted" in text
    assert "then, once this stack's mapping is Enabled: DeleteStack DataConsumerStack" in text
    assert "=   table     crypto_intraday" in text
    assert "-   function  crypto_data_consumer\n" in text
    assert "AmazonS3FullAccess, CloudWatchFullAccess, AmazonKinesisFullAccess" in text
    assert "starts AT_TIMESTAMP" in text
    assert "then 4 to delete with the CloudFormation stack, 1 retained." in text


def test_dry_run_json_is_ups_document_plus_the_cloudformation_stack(run, moto, aws):
    deployed = deploy_with_history(aws)

    shown = adopt(run, moto, "--dry-run", "--output", "json")

    assert shown.exit_code == 0, str(shown)
    document = shown.json()
    assert document["dry_run"] is True
    actions = {(c["resource"], c["name"]): c["action"] for c in document["changes"]}
    assert actions[("table", seed.TABLE)] == "update"
    assert actions[("function", seed.NEW_FUNCTION)] == "create"
    assert actions[("role", "crypto_data_consumer-role")] == "create"
    cloudformation = document["cloudformation"]
    assert cloudformation["stack_id"] == deployed.stack_id
    assert cloudformation["action"] == "delete"
    kinds = {r["kind"]: r["action"] for r in cloudformation["resources"]}
    assert kinds == {
        "table": "retain",
        "role": "delete",
        "policy": "delete",
        "function": "delete",
        "mapping": "delete",
    }
    back = document["look_back"]
    assert back["max_iterator_age_ms"] is None
    assert back["seconds_back"] == 960
    options = {s["option"]: s["value"] for s in document["settings"]}
    assert options["function-name"] == seed.NEW_FUNCTION
    assert options["billing-mode"] == "PROVISIONED"
    assert options["starting-position"] == "AT_TIMESTAMP"


def test_adopt_moves_the_consumer_and_keeps_every_item(run, moto, aws):
    deployed = deploy_with_history(aws)
    moto.clear_log()

    done = adopt(run, moto, "--yes")

    assert done.exit_code == 0, str(done)
    assert "table crypto_intraday survived: same TableId" in done.stdout
    # The CloudFormation stack is gone, the table is this stack's, with its item.
    assert seed.stack_status(aws, deployed.stack_id) == "DELETE_COMPLETE"
    item = aws("dynamodb").get_item(TableName=seed.TABLE, Key=OLD_KEY)["Item"]
    assert item["exchange_rate"]["N"] == OLD_RATE
    table = aws("dynamodb").describe_table(TableName=seed.TABLE)["Table"]
    assert table["DeletionProtectionEnabled"] is True
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    backups = aws("dynamodb").describe_continuous_backups(TableName=seed.TABLE)
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    found = inventory(aws)
    assert found.functions == (seed.NEW_FUNCTION,)
    assert found.roles == ("crypto_data_consumer-role",)
    (mapping,) = seed.enabled_mappings(aws)
    assert mapping["FunctionArn"].endswith(":" + seed.NEW_FUNCTION)
    assert mapping["StartingPosition"] == "AT_TIMESTAMP"
    assert all_tags_of_table(aws)["cryptoconsumer:stack"] == "crypto"
    tags = aws("lambda").list_tags(Resource=mapping["EventSourceMappingArn"])["Tags"]
    assert tags["cryptoconsumer:stack"] == "crypto"
    # DeleteStack came after the mapping was made, and nothing was deleted but the stack.
    mutating = moto.mutating()
    assert mutating.index("cloudformation:DeleteStack") > mutating.index(
        "lambda:CreateEventSourceMapping"
    )
    assert mutating[-1] == "cloudformation:DeleteStack"
    assert not [call for call in mutating if "Delete" in call and "DeleteStack" not in call]

    # status, up and adopt again: the record holds the names; nothing left to do.
    assert run("status").exit_code == 0
    moto.clear_log()
    again = run("up")
    assert again.exit_code == 0, str(again)
    assert moto.mutating() == []
    moto.clear_log()
    rerun = adopt(run, moto, "--yes", "--output", "json")
    assert rerun.exit_code == 0, str(rerun)
    assert moto.mutating() == []
    assert rerun.json()["cloudformation"]["action"] == "none"


def all_tags_of_table(aws) -> dict[str, str]:
    arn = aws("dynamodb").describe_table(TableName=seed.TABLE)["Table"]["TableArn"]
    tags = aws("dynamodb").list_tags_of_resource(ResourceArn=arn)["Tags"]
    return {t["Key"]: t["Value"] for t in tags}


def test_options_of_up_apply_from_the_command_line_and_the_stack_file(
    run, moto, aws, tmp_path, monkeypatch
):
    deploy_with_history(aws)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cryptoconsumer.toml").write_text(
        '[default]\nbatch-size = 50\nmemory = 512\n[default.adopt]\ncloudformation-stack = "'
        + seed.STACK_NAME
        + '"\n'
    )

    done = run("adopt", "--billing-mode", "PAY_PER_REQUEST", "--yes", "--endpoint-url", moto.url)

    assert done.exit_code == 0, str(done)
    table = aws("dynamodb").describe_table(TableName=seed.TABLE)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (mapping,) = seed.enabled_mappings(aws)
    assert mapping["BatchSize"] == 50
    function = aws("lambda").get_function(FunctionName=seed.NEW_FUNCTION)["Configuration"]
    assert function["MemorySize"] == 512
    assert run("status").exit_code == 0


def test_a_given_function_name_is_used_and_recorded(run, moto, aws):
    deploy_with_history(aws)
    assert adopt(run, moto, "--yes", "--function-name", "crypto_data_consumer-v2").exit_code == 0
    (mapping,) = seed.enabled_mappings(aws)
    assert mapping["FunctionArn"].endswith(":crypto_data_consumer-v2")
    recorded = aws("ssm").get_parameter(Name="/cryptoconsumer/crypto/settings")["Parameter"]
    settings = json.loads(recorded["Value"])["settings"]
    assert settings["function_name"] == "crypto_data_consumer-v2"
    assert run("status").exit_code == 0


def test_without_a_terminal_or_yes_nothing_is_read(run, moto, aws):
    deploy_with_history(aws)
    moto.clear_log()

    refused = adopt(run, moto)

    assert refused.exit_code == 2
    assert "adopt needs --yes" in refused.stderr
    assert moto.requests == []
