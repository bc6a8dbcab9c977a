"""The CloudFormation stack `adopt` takes over: read it, delete it, wait for it to be gone.

Three reads describe it (DescribeStacks, DescribeStackResources, GetTemplate); resources are
told apart by their type, never by logical ID (CDK's IDs carry hashes that change with the
app's construct tree). DeleteStack is asynchronous: the stack is DELETE_IN_PROGRESS, then
DELETE_COMPLETE, or DELETE_FAILED with a reason on the resources that could not go.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptoconsumer.aws import Clients, error_code, error_message, translated
from cryptoconsumer.errors import AwsError, InputError, TimedOutError
from cryptoconsumer.resources.base import Context

TABLE = "AWS::DynamoDB::Table"
ROLE = "AWS::IAM::Role"
POLICY = "AWS::IAM::Policy"
FUNCTION = "AWS::Lambda::Function"
MAPPING = "AWS::Lambda::EventSourceMapping"
CDK_METADATA = "AWS::CDK::Metadata"
KNOWN_TYPES = (TABLE, ROLE, POLICY, FUNCTION, MAPPING, CDK_METADATA)

# A stack in one of these states is stable and its resources are what its template says.
# ROLLBACK_COMPLETE is a creation that failed and was rolled back: nothing of it runs, it can
# only be deleted. DELETE_COMPLETE is gone.
ADOPTABLE_STATES = (
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
)
# What an interrupted `adopt` leaves once it has called DeleteStack.
DELETING_STATES = ("DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE")
# On DeleteStack, CloudFormation keeps a resource with one of these policies (RetainExceptOnCreate
# deletes only what a failed creation made).
RETAINED_POLICIES = ("Retain", "RetainExceptOnCreate")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
STACK_ID = re.compile(
    r"^arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack/[A-Za-z][A-Za-z0-9-]*/[\w-]+$"
)
# Deleting a stack with Lambda functions and mappings takes minutes; CloudFormation itself
# gives up on a resource after about an hour.
DELETE_WAIT_SECONDS = 60 * 60


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    type: str
    physical_id: str
    status: str
    status_reason: str
    deletion_policy: str
    properties: dict[str, Any]

    @property
    def retained(self) -> bool:
        return self.deletion_policy in RETAINED_POLICIES


@dataclass(frozen=True)
class CfnStack:
    name: str
    stack_id: str
    status: str
    status_reason: str
    termination_protection: bool
    parent_id: str | None
    last_updated: str
    resources: tuple[StackResource, ...]

    def of_type(self, resource_type: str) -> list[StackResource]:
        return [r for r in self.resources if r.type == resource_type]

    @property
    def unknown(self) -> list[StackResource]:
        return [r for r in self.resources if r.type not in KNOWN_TYPES]


def check_name(value: str) -> str:
    """A stack name or stack ID, judged before any AWS call."""
    text = value.strip()
    if not text:
        raise InputError("--cloudformation-stack is empty: give the stack's name or ID")
    if not (STACK_NAME.fullmatch(text) or STACK_ID.fullmatch(text)):
        raise InputError(
            f"--cloudformation-stack {value!r} is not a stack name (a letter, then up to 127 "
            "letters, digits and hyphens) or a stack ID"
        )
    return text


def describe(clients: Clients, name: str) -> dict[str, Any] | None:
    """DescribeStacks; None when CloudFormation knows no live stack of that name."""
    client = clients.cloudformation
    with translated(f"reading CloudFormation stack {name}"):
        try:
            stacks = client.describe_stacks(StackName=name)["Stacks"]
        except Exception as err:
            if error_code(err) == "ValidationError" and "does not exist" in error_message(err):
                return None
            raise
    return dict(stacks[0]) if stacks else None


def _template(clients: Clients, stack_id: str) -> dict[str, Any]:
    with translated(f"reading the template of CloudFormation stack {stack_id}"):
        body = clients.cloudformation.get_template(StackName=stack_id)["TemplateBody"]
    if isinstance(body, str):
        # botocore decodes JSON bodies itself; a string is YAML, or JSON it could not read.
        try:
            body = json.loads(body)
        except ValueError:
            raise AwsError(
                f"the template of CloudFormation stack {stack_id} is not JSON (CDK synthesizes "
                "JSON; a YAML template's DeletionPolicy cannot be read here)",
                "TemplateNotJson",
            ) from None
    return dict(body)


def read(clients: Clients, name: str) -> CfnStack | None:
    """The stack, its resources and each one's DeletionPolicy; None when it does not exist."""
    found = describe(clients, name)
    if found is None:
        return None
    stack_id = str(found["StackId"])
    client = clients.cloudformation
    if found["StackStatus"] == "DELETE_COMPLETE":
        # Found by stack ID: gone, nothing of it to read.
        return _stack(found, ())
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        resources_future = pool.submit(
            lambda: client.describe_stack_resources(StackName=stack_id)["StackResources"]
        )
        template_future = pool.submit(_template, clients, stack_id)
        with translated(f"reading the resources of CloudFormation stack {name}"):
            listed = resources_future.result()
        template = template_future.result()
    declared = template.get("Resources") or {}
    resources = tuple(
        StackResource(
            logical_id=str(item["LogicalResourceId"]),
            type=str(item["ResourceType"]),
            physical_id=str(item.get("PhysicalResourceId") or ""),
            status=str(item.get("ResourceStatus", "")),
            status_reason=str(item.get("ResourceStatusReason") or ""),
            # CloudFormation's default when a template says nothing is Delete.
            deletion_policy=str(
                (declared.get(item["LogicalResourceId"]) or {}).get("DeletionPolicy", "Delete")
            ),
            properties=dict(
                (declared.get(item["LogicalResourceId"]) or {}).get("Properties") or {}
            ),
        )
        for item in listed
    )
    return _stack(found, resources)


def _stack(found: dict[str, Any], resources: tuple[StackResource, ...]) -> CfnStack:
    return CfnStack(
        name=str(found["StackName"]),
        stack_id=str(found["StackId"]),
        status=str(found["StackStatus"]),
        status_reason=str(found.get("StackStatusReason") or ""),
        termination_protection=bool(found.get("EnableTerminationProtection", False)),
        parent_id=found.get("ParentId") or None,
        last_updated=str(found.get("LastUpdatedTime") or found.get("CreationTime") or ""),
        resources=resources,
    )


def managed_policy_names(role: StackResource) -> list[str]:
    """The managed policies a role's template attaches, by name (CDK writes them as
    Fn::Join of "arn:", the partition and ":iam::aws:policy/NAME")."""

    def strings(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [s for item in value for s in strings(item)]
        if isinstance(value, dict):
            return [s for item in value.values() for s in strings(item)]
        return []

    names = []
    for entry in role.properties.get("ManagedPolicyArns") or []:
        joined = "".join(strings(entry))
        names.append(joined.rsplit("/", 1)[-1] if "/" in joined else joined)
    return names


def delete(ctx: Context, stack: CfnStack) -> None:
    """DeleteStack by stack ID (never another stack that later takes the name), unless it is
    already being deleted; then wait for DELETE_COMPLETE."""
    client = ctx.clients.cloudformation
    if stack.status != "DELETE_IN_PROGRESS":
        with translated(f"deleting CloudFormation stack {stack.name}"):
            client.delete_stack(StackName=stack.stack_id)
        ctx.reporter.info(f"DeleteStack {stack.name}: CloudFormation is deleting its resources")
    wait_deleted(ctx, stack)


def wait_deleted(ctx: Context, stack: CfnStack) -> None:
    from botocore.exceptions import WaiterError

    client = ctx.clients.cloudformation
    delay = max(ctx.poll_delay, 0.05)
    with ctx.reporter.waiting(f"waiting for CloudFormation stack {stack.name} to be deleted"):
        try:
            client.get_waiter("stack_delete_complete").wait(
                StackName=stack.stack_id,
                WaiterConfig={"Delay": delay, "MaxAttempts": int(DELETE_WAIT_SECONDS / delay)},
            )
        except WaiterError as err:
            if "Max attempts exceeded" in str(err):
                raise TimedOutError(
                    f"gave up waiting for CloudFormation stack {stack.name} to be deleted"
                ) from err
            raise AwsError(_failure(ctx.clients, stack), "DELETE_FAILED") from err
    ctx.reporter.info(f"CloudFormation stack {stack.name} is deleted")


def _failure(clients: Clients, stack: CfnStack) -> str:
    """Why DeleteStack failed: the stack's reason and every resource that could not go."""
    now = read(clients, stack.stack_id)
    if now is None:
        return f"CloudFormation stack {stack.name} could not be deleted"
    failed = [
        f"{r.type} {r.physical_id or r.logical_id}: {r.status_reason or r.status}"
        for r in now.resources
        if r.status.endswith("FAILED")
    ]
    reason = now.status_reason or "no reason given"
    return (
        f"CloudFormation stack {stack.name} is {now.status} ({reason}"
        + (f"; {'; '.join(failed)}" if failed else "")
        + "): fix that and run adopt again; this stack's mapping keeps consuming meanwhile"
    )
