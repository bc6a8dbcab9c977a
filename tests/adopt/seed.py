"""The deployment `adopt` takes over: the seed CDK app's synthesized template (CDK 2, as the
people we replace deploy it), with a function zip in the CDK asset bucket.

The old function writes every payload field plus `ticker`, one PutItem per record through the
batch writer, numbers parsed as Decimal, as the seed app's handler does.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "data" / "seed-cdk-template.json"
STACK_NAME = "DataConsumerStack"
STREAM_NAME = "kinesis-crypto-stream-intraday"
STREAM_ARN = f"arn:aws:kinesis:us-east-1:123456789012:stream/{STREAM_NAME}"
TABLE = "crypto_intraday"
OLD_FUNCTION = "crypto_data_consumer"
NEW_FUNCTION = "crypto_data_consumer-adopted"
# CDK's bootstrap stack keeps its version here; the template's Rules read it.
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"

OLD_HANDLER = """
import base64
import json
import os
from decimal import Decimal

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["DYNAMO_TABLE_NAME"])


def handler(event, context):
    with TABLE.batch_writer(overwrite_by_pkeys=["ticker", "last_refreshed"]) as batch:
        for record in event["Records"]:
            tick = json.loads(base64.b64decode(record["kinesis"]["data"]), parse_float=Decimal)
            tick["ticker"] = tick["from_currency_code"] + tick["to_currency_code"]
            batch.put_item(Item=tick)
    return {"records": len(event["Records"])}
"""

Aws = Callable[[str], Any]


def template() -> dict[str, Any]:
    return dict(json.loads(TEMPLATE_PATH.read_text()))


def old_function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data_consumer_lambda.py", OLD_HANDLER)
    return buffer.getvalue()


@dataclass(frozen=True)
class Seed:
    stack_id: str
    stream_arn: str
    template: dict[str, Any]


def changed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The seed template with one edit (a refusal's test case)."""
    body = copy.deepcopy(template())
    edit(body)
    return body


def deploy(
    aws: Aws,
    body: dict[str, Any] | None = None,
    *,
    stack_name: str = STACK_NAME,
    with_stream: bool = True,
    termination_protection: bool = False,
) -> Seed:
    """Everything `cdk deploy` of the seed app leaves: bootstrap version, asset, stack."""
    body = body or template()
    if with_stream:
        kinesis = aws("kinesis")
        kinesis.create_stream(StreamName=STREAM_NAME, ShardCount=1)
        kinesis.get_waiter("stream_exists").wait(
            StreamName=STREAM_NAME, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
        )
    aws("ssm").put_parameter(Name=BOOTSTRAP_PARAMETER, Value="21", Type="String", Overwrite=True)
    for resource in body["Resources"].values():
        code = resource.get("Properties", {}).get("Code", {})
        if "S3Bucket" in code:
            s3 = aws("s3")
            s3.create_bucket(Bucket=code["S3Bucket"])
            s3.put_object(Bucket=code["S3Bucket"], Key=code["S3Key"], Body=old_function_zip())
    cloudformation = aws("cloudformation")
    stack_id = cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(body),
        Capabilities=["CAPABILITY_IAM"],
        EnableTerminationProtection=termination_protection,
    )["StackId"]
    cloudformation.get_waiter("stack_create_complete").wait(
        StackName=stack_id, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return Seed(stack_id, STREAM_ARN, body)


def stack_status(aws: Aws, stack_id: str) -> str:
    found = aws("cloudformation").describe_stacks(StackName=stack_id)["Stacks"]
    return str(found[0]["StackStatus"])


def enabled_mappings(aws: Aws) -> list[dict[str, Any]]:
    return [
        m
        for m in aws("lambda").list_event_source_mappings(EventSourceArn=STREAM_ARN)[
            "EventSourceMappings"
        ]
        if m.get("State") == "Enabled"
    ]
