"""Read what exists on the moto server, straight through boto3, to assert real resulting state."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

Aws = Callable[[str], Any]


@dataclass(frozen=True)
class Inventory:
    tables: tuple[str, ...]
    queues: tuple[str, ...]
    roles: tuple[str, ...]
    functions: tuple[str, ...]
    log_groups: tuple[str, ...]
    mappings: tuple[tuple[str, str, str], ...]  # (uuid, function name, source ARN)
    parameters: tuple[str, ...] = ()  # SSM: the stacks' recorded settings
    buckets: tuple[str, ...] = ()  # S3: failed-batches buckets
    # dashboard
    dashboards: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()  # CloudWatch metric alarms
    topics: tuple[str, ...] = ()  # SNS topic names

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.tables,
                self.queues,
                self.roles,
                self.functions,
                self.log_groups,
                self.mappings,
                self.parameters,
                self.buckets,
                self.dashboards,
                self.alarms,
                self.topics,
            )
        )


def inventory(aws: Aws) -> Inventory:
    functions = tuple(
        sorted(f["FunctionName"] for f in aws("lambda").list_functions()["Functions"])
    )
    mappings = tuple(
        sorted(
            (m["UUID"], m["FunctionArn"].rsplit(":", 1)[-1], m["EventSourceArn"])
            for m in aws("lambda").list_event_source_mappings()["EventSourceMappings"]
        )
    )
    return Inventory(
        tables=tuple(sorted(aws("dynamodb").list_tables()["TableNames"])),
        queues=tuple(
            sorted(url.rsplit("/", 1)[-1] for url in aws("sqs").list_queues().get("QueueUrls", []))
        ),
        roles=tuple(sorted(r["RoleName"] for r in aws("iam").list_roles()["Roles"])),
        functions=functions,
        log_groups=tuple(
            sorted(g["logGroupName"] for g in aws("logs").describe_log_groups()["logGroups"])
        ),
        mappings=mappings,
        parameters=tuple(
            sorted(p["Name"] for p in aws("ssm").describe_parameters().get("Parameters", []))
        ),
        buckets=tuple(sorted(b["Name"] for b in aws("s3").list_buckets().get("Buckets", []))),
        dashboards=tuple(
            sorted(
                d["DashboardName"]
                for d in aws("cloudwatch").list_dashboards().get("DashboardEntries", [])
            )
        ),
        alarms=tuple(
            sorted(a["AlarmName"] for a in aws("cloudwatch").describe_alarms()["MetricAlarms"])
        ),
        topics=tuple(
            sorted(t["TopicArn"].rsplit(":", 1)[-1] for t in aws("sns").list_topics()["Topics"])
        ),
    )


def mappings_of(aws: Aws, function: str) -> list[dict[str, Any]]:
    return list(
        aws("lambda").list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    )


def the_mapping(aws: Aws, function: str = "crypto_data_consumer") -> dict[str, Any]:
    (mapping,) = mappings_of(aws, function)
    return mapping


def inline_policies(aws: Aws, role: str) -> dict[str, dict[str, Any]]:
    iam = aws("iam")
    documents = {}
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        documents[name] = json.loads(unquote(document)) if isinstance(document, str) else document
    return documents


def attached_policies(aws: Aws, role: str) -> list[str]:
    attached = aws("iam").list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    return sorted(policy["PolicyArn"] for policy in attached)


def all_tags(aws: Aws, stack: str = "crypto") -> dict[str, dict[str, str]]:
    """The tags of every resource of a stack with default names, by resource kind."""
    table = f"{stack}_intraday"
    function = f"{stack}_data_consumer"
    queue = f"{stack}_data_consumer-dlq"
    role = f"{stack}_data_consumer-role"
    dynamodb, lam, iam = aws("dynamodb"), aws("lambda"), aws("iam")
    table_arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
    queue_url = aws("sqs").get_queue_url(QueueName=queue)["QueueUrl"]
    log_group = next(
        g
        for g in aws("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{function}")[
            "logGroups"
        ]
        if g["logGroupName"] == f"/aws/lambda/{function}"
    )
    log_group_arn = log_group.get("logGroupArn") or log_group["arn"].removesuffix(":*")
    function_arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    mapping = the_mapping(aws, function)
    return {
        "table": {
            t["Key"]: t["Value"]
            for t in dynamodb.list_tags_of_resource(ResourceArn=table_arn)["Tags"]
        },
        "queue": aws("sqs").list_queue_tags(QueueUrl=queue_url).get("Tags", {}),
        "log_group": aws("logs").list_tags_for_resource(resourceArn=log_group_arn)["tags"],
        "role": {t["Key"]: t["Value"] for t in iam.get_role(RoleName=role)["Role"].get("Tags", [])},
        "function": lam.list_tags(Resource=function_arn)["Tags"],
        "mapping": lam.list_tags(Resource=mapping["EventSourceMappingArn"])["Tags"],
    }


# The consumer's table as the tests make it by hand: create_table(TableName=..., **TICKS_TABLE).
TICKS_TABLE: dict[str, Any] = {
    "KeySchema": [
        {"AttributeName": "ticker", "KeyType": "HASH"},
        {"AttributeName": "last_refreshed", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "ticker", "AttributeType": "S"},
        {"AttributeName": "last_refreshed", "AttributeType": "S"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
