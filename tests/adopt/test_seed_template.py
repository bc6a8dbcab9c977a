"""The seed app's synthesized template deploys on moto's CloudFormation as on AWS."""

from __future__ import annotations

from tests.adopt import seed


def test_the_five_resources_reach_create_complete(moto, aws):
    deployed = seed.deploy(aws)

    cloudformation = aws("cloudformation")
    assert seed.stack_status(aws, deployed.stack_id) == "CREATE_COMPLETE"
    resources = cloudformation.describe_stack_resources(StackName=deployed.stack_id)[
        "StackResources"
    ]
    assert sorted(r["ResourceType"] for r in resources) == [
        "AWS::DynamoDB::Table",
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::Function",
    ]
    assert {r["ResourceStatus"] for r in resources} == {"CREATE_COMPLETE"}
    function = aws("lambda").get_function(FunctionName=seed.OLD_FUNCTION)["Configuration"]
    assert function["Runtime"] == "python3.9"
    assert function["Handler"] == "data_consumer_lambda.handler"
    (mapping,) = aws("lambda").list_event_source_mappings(FunctionName=seed.OLD_FUNCTION)[
        "EventSourceMappings"
    ]
    assert (mapping["EventSourceArn"], mapping["BatchSize"], mapping["StartingPosition"]) == (
        seed.STREAM_ARN,
        100,
        "LATEST",
    )
    table = aws("dynamodb").describe_table(TableName=seed.TABLE)["Table"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 5


def test_delete_stack_keeps_the_retained_table_and_its_items(moto, aws):
    deployed = seed.deploy(aws)
    key = {"ticker": {"S": "BTCUSD"}, "last_refreshed": {"S": "2026-03-01 00:00:00"}}
    aws("dynamodb").put_item(TableName=seed.TABLE, Item={**key, "exchange_rate": {"N": "1.5"}})

    aws("cloudformation").delete_stack(StackName=deployed.stack_id)

    assert seed.stack_status(aws, deployed.stack_id) == "DELETE_COMPLETE"
    assert aws("dynamodb").get_item(TableName=seed.TABLE, Key=key)["Item"]["exchange_rate"] == {
        "N": "1.5"
    }
    assert aws("lambda").list_functions()["Functions"] == []
    assert aws("lambda").list_event_source_mappings()["EventSourceMappings"] == []
