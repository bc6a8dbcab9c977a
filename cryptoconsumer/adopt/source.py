"""What the CloudFormation stack runs, found by resource type, and every reason not to adopt it.

Each refusal is one line and exit 1, raised after reads only: nothing has changed.
"""

from __future__ import annotations

import concurrent.futures
import re
from dataclasses import dataclass
from typing import Any

from cryptoconsumer.adopt import cloudformation as cfn
from cryptoconsumer.aws import Clients, translated
from cryptoconsumer.errors import CryptoConsumerError

KEY = (("ticker", "HASH", "S"), ("last_refreshed", "RANGE", "S"))
KINESIS_SOURCE = re.compile(r"^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[A-Za-z0-9_.-]+")


class AdoptRefused(CryptoConsumerError):
    """The CloudFormation stack cannot be taken over as it is; nothing was changed (exit 1)."""


@dataclass(frozen=True)
class Source:
    """The consumer the CloudFormation stack runs, as it is now."""

    stack: cfn.CfnStack
    table: cfn.StackResource
    function: cfn.StackResource
    mapping: cfn.StackResource
    roles: tuple[cfn.StackResource, ...]
    policies: tuple[cfn.StackResource, ...]
    forced: tuple[cfn.StackResource, ...]  # other kinds, deleted (or kept) with the stack
    table_description: dict[str, Any]
    mapping_config: dict[str, Any]

    @property
    def table_name(self) -> str:
        return self.table.physical_id

    @property
    def function_name(self) -> str:
        return self.function.physical_id

    @property
    def stream_arn(self) -> str:
        """The stream the old mapping reads (through a registered consumer or not)."""
        source = str(self.mapping_config.get("EventSourceArn", ""))
        return source.split("/consumer/", 1)[0]

    @property
    def billing(self) -> tuple[str, int | None, int | None]:
        table = self.table_description
        mode = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        if mode != "PROVISIONED":
            return mode, None, None
        throughput = table.get("ProvisionedThroughput", {})
        return mode, throughput.get("ReadCapacityUnits"), throughput.get("WriteCapacityUnits")


def _one(stack: cfn.CfnStack, resource_type: str, what: str) -> cfn.StackResource:
    found = stack.of_type(resource_type)
    if not found:
        raise AdoptRefused(f"CloudFormation stack {stack.name} has no {what} ({resource_type})")
    if len(found) > 1:
        ids = ", ".join(r.logical_id for r in found)
        raise AdoptRefused(
            f"CloudFormation stack {stack.name} has {len(found)} {what}s ({ids}): adopt takes "
            "over a stack that runs one consumer"
        )
    return found[0]


def check_stack(stack: cfn.CfnStack, force_unknown: bool) -> None:
    """What the template and the stack's state alone decide."""
    if stack.parent_id:
        raise AdoptRefused(
            f"CloudFormation stack {stack.name} is nested in {stack.parent_id}: it is deleted "
            "with its root stack, not on its own"
        )
    if stack.status not in cfn.ADOPTABLE_STATES:
        reason = f" ({stack.status_reason})" if stack.status_reason else ""
        raise AdoptRefused(
            f"CloudFormation stack {stack.name} is {stack.status}{reason}: adopt needs a stable "
            f"stack ({', '.join(cfn.ADOPTABLE_STATES)})"
        )
    table = _one(stack, cfn.TABLE, "table")
    if not stack.of_type(cfn.MAPPING):
        raise AdoptRefused(f"CloudFormation stack {stack.name} has no Kinesis mapping")
    _one(stack, cfn.FUNCTION, "function")
    _one(stack, cfn.MAPPING, "mapping")
    if not table.retained:
        raise AdoptRefused(
            f"table {table.physical_id} has DeletionPolicy {table.deletion_policy} in "
            f"CloudFormation stack {stack.name}: deleting the stack would delete it and its "
            "data. Set removalPolicy: RemovalPolicy.RETAIN on the table in the CDK app, run "
            "`cdk deploy`, then run adopt again"
        )
    if stack.unknown and not force_unknown:
        listed = ", ".join(f"{r.logical_id} ({r.type})" for r in stack.unknown)
        raise AdoptRefused(
            f"CloudFormation stack {stack.name} also holds {listed}: deleting the stack would "
            "delete them too; pass --force-unknown to accept that"
        )
    if stack.termination_protection:
        raise AdoptRefused(
            f"CloudFormation stack {stack.name} has termination protection on, so it cannot be "
            "deleted: aws cloudformation update-termination-protection "
            f"--no-enable-termination-protection --stack-name {stack.name}, then run adopt again"
        )


def _live(clients: Clients, table_name: str, uuid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    dynamodb, lambda_ = clients.dynamodb, clients.lambda_
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        table_future = pool.submit(lambda: dynamodb.describe_table(TableName=table_name)["Table"])
        mapping_future = pool.submit(lambda: lambda_.get_event_source_mapping(UUID=uuid))
        with translated(f"reading table {table_name}"):
            table = dict(table_future.result())
        with translated(f"reading mapping {uuid}"):
            mapping = dict(mapping_future.result())
    return table, mapping


def _check_key(table: dict[str, Any], name: str) -> None:
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    found = tuple(
        (k["AttributeName"], k["KeyType"], types.get(k["AttributeName"], "?"))
        for k in table.get("KeySchema", [])
    )
    if found != KEY:
        shown = " + ".join(f"{attr} ({kind})" for attr, _, kind in found) or "none"
        raise AdoptRefused(
            f"table {name} has key {shown}, not ticker (S) + last_refreshed (S): it is not this "
            "consumer's table"
        )
    if table.get("TableStatus") != "ACTIVE":
        raise AdoptRefused(f"table {name} is {table.get('TableStatus')}, not ACTIVE")


def inspect(clients: Clients, stack: cfn.CfnStack, force_unknown: bool) -> Source:
    check_stack(stack, force_unknown)
    table = stack.of_type(cfn.TABLE)[0]
    function = stack.of_type(cfn.FUNCTION)[0]
    mapping = stack.of_type(cfn.MAPPING)[0]
    description, config = _live(clients, table.physical_id, mapping.physical_id)
    _check_key(description, table.physical_id)
    source = str(config.get("EventSourceArn", ""))
    if not KINESIS_SOURCE.match(source):
        raise AdoptRefused(
            f"mapping {mapping.physical_id} of CloudFormation stack {stack.name} reads "
            f"{source or 'nothing'}, not a Kinesis stream: it has no Kinesis mapping"
        )
    if not str(config.get("FunctionArn", "")).endswith(f":function:{function.physical_id}"):
        raise AdoptRefused(
            f"mapping {mapping.physical_id} feeds {config.get('FunctionArn')}, not the stack's "
            f"function {function.physical_id}"
        )
    return Source(
        stack=stack,
        table=table,
        function=function,
        mapping=mapping,
        roles=tuple(stack.of_type(cfn.ROLE)),
        policies=tuple(stack.of_type(cfn.POLICY)),
        forced=tuple(stack.unknown),
        table_description=description,
        mapping_config=config,
    )
