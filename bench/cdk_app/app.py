"""The CDK app cryptoconsumer replaces (DataConsumerStack), for `bench/bench_startup.py` only.

It synthesizes the template in /work/shared/seed-cdk-template.json's shape: the table, a role
with four *FullAccess policies, the python3.9 function from `lambda_handler/`, and its Kinesis
event source (batch 100, LATEST) on an existing stream.
"""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/kinesis-crypto-stream-intraday"
HANDLER_DIR = Path(__file__).resolve().parents[2] / "lambda_handler"


class DataConsumerStack(cdk.Stack):
    def __init__(self, scope: cdk.App, name: str, **kwargs: object) -> None:
        super().__init__(scope, name, **kwargs)
        table = dynamodb.Table(
            self,
            "CryptoIntradayTable",
            table_name="crypto_intraday",
            partition_key=dynamodb.Attribute(name="ticker", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="last_refreshed", type=dynamodb.AttributeType.STRING),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            self,
            "CryptoConsumerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(name)
                for name in (
                    "AmazonS3FullAccess",
                    "CloudWatchFullAccess",
                    "AmazonKinesisFullAccess",
                    "AmazonDynamoDBFullAccess",
                )
            ],
        )
        function = lambda_.Function(
            self,
            "CryptoDataConsumer",
            function_name="crypto_data_consumer",
            runtime=lambda_.Runtime.PYTHON_3_9,
            handler="data_consumer_lambda.handler",
            code=lambda_.Code.from_asset(str(HANDLER_DIR)),
            role=role,
            timeout=cdk.Duration.seconds(20),
            environment={"DYNAMO_TABLE_NAME": table.table_name},
        )
        stream = kinesis.Stream.from_stream_arn(self, "CryptoStream", STREAM_ARN)
        function.add_event_source(
            sources.KinesisEventSource(
                stream, batch_size=100, starting_position=lambda_.StartingPosition.LATEST
            )
        )


app = cdk.App()
DataConsumerStack(
    app, "DataConsumerStack", env=cdk.Environment(account="123456789012", region="us-east-1")
)
app.synth()
