"""The function's IAM role: trusted by Lambda in this account, one least-privilege policy."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from cryptoconsumer.aws import translated
from cryptoconsumer.config import RoleSpec
from cryptoconsumer.errors import InputError
from cryptoconsumer.resources.base import Change, Context, owned, tag_dict, tag_list

POLICY_NAME = "cryptoconsumer-least-privilege"
STREAM_READ_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
)


@dataclass(frozen=True)
class ObservedRole:
    name: str
    arn: str
    trust_policy: dict[str, Any]
    inline_policies: dict[str, dict[str, Any]]
    managed_policy_arns: tuple[str, ...]
    tags: dict[str, str]


@dataclass(frozen=True)
class Grants:
    """The exact resources the function may touch, known before anything exists."""

    stream_arn: str
    table_arn: str
    log_group_arn: str
    queue_arn: str | None = None
    kms_key_arn: str | None = None
    consumer_arn: str | None = None
    # S3 on-failure destination (issue 11): arn:PARTITION:s3:::BUCKET
    bucket_arn: str | None = None


def trust_policy(account: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        ],
    }


def access_policy(grants: Grants) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadTheStream",
            "Effect": "Allow",
            "Action": list(STREAM_READ_ACTIONS),
            "Resource": grants.stream_arn,
        },
        # ListStreams has no resource-level permission: AWS requires "*".
        {"Sid": "ListStreams", "Effect": "Allow", "Action": "kinesis:ListStreams", "Resource": "*"},
        {
            "Sid": "WriteTheTable",
            "Effect": "Allow",
            "Action": ["dynamodb:BatchWriteItem"],
            "Resource": grants.table_arn,
        },
        {
            "Sid": "WriteTheLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{grants.log_group_arn}:*",
        },
    ]
    if grants.consumer_arn:
        statements.insert(
            1,
            {
                "Sid": "ReadTheStreamConsumer",
                "Effect": "Allow",
                "Action": ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"],
                "Resource": grants.consumer_arn,
            },
        )
    if grants.kms_key_arn:
        statements.insert(
            1,
            {
                "Sid": "DecryptTheStream",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": grants.kms_key_arn,
            },
        )
    if grants.queue_arn:
        statements.append(
            {
                "Sid": "SendToTheDeadLetterQueue",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": grants.queue_arn,
            }
        )
    if grants.bucket_arn:
        # What Lambda's documentation asks of the execution role for an S3 on-failure
        # destination: s3:PutObject and s3:ListBucket; SSE-S3 needs no KMS grant.
        statements += [
            {
                "Sid": "WriteFailedBatches",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"{grants.bucket_arn}/*",
            },
            {
                "Sid": "ListFailedBatches",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": grants.bucket_arn,
            },
        ]
    return {"Version": "2012-10-17", "Statement": statements}


def normalised(document: dict[str, Any] | str) -> str:
    """A policy as comparable text: IAM may return lists reordered or single items unwrapped."""
    if isinstance(document, str):
        document = json.loads(document)

    def as_list(value: Any) -> list[Any]:
        return sorted(value) if isinstance(value, list) else [value]

    statements = []
    for statement in document.get("Statement", []):
        statement = dict(statement)
        for key in ("Action", "Resource", "NotAction", "NotResource"):
            if key in statement:
                statement[key] = as_list(statement[key])
        statement.pop("Sid", None)
        statements.append(json.dumps(statement, sort_keys=True))
    return json.dumps(sorted(statements))


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value] if isinstance(value, list) else []


def _every_resource(pattern: str) -> bool:
    """ "*", or an ARN pattern whose resource part is only wildcards ("arn:aws:s3:::*",
    "arn:aws:iam::123456789012:*", "arn:*"): every resource, or every one of a service."""
    parts = pattern.split(":", 5)
    resource = parts[5] if len(parts) == 6 else parts[-1]
    return "*" in resource and set(resource) <= {"*", "?", "/"}


def _every_action(pattern: str) -> str | None:
    """What the pattern grants when it is every action, or every action of a service."""
    if set(pattern) <= {"*", "?"} and "*" in pattern:
        return f"every action ({pattern!r})"
    service, _, name = pattern.partition(":")
    if "*" in service or "?" in service:
        return f"actions of every service ({pattern!r})"
    if "*" in name and set(name) <= {"*", "?"}:
        return f"every {service} action ({pattern!r})"
    return None


def too_broad(document: dict[str, Any]) -> str | None:
    """The first Allow statement that grants every action, or every action of a service, on
    every resource; None when there is none. Conditions do not narrow it (a condition on the
    region or the time is still all of a service). Patterns that name a part of one service
    ("s3:Get*", "s3:*Object*") are not "every action": AWS's read-only policies are made of
    them."""
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        label = f"Statement[{index}]"
        if statement.get("Sid"):
            label = f"statement {statement['Sid']!r} ({label})"
        if "NotResource" in statement:
            excluded = _as_list(statement["NotResource"])
            if "*" in excluded:
                continue  # every resource but every resource: nothing
            resources = f"every resource but {', '.join(excluded)} (NotResource)"
        else:
            broad = [r for r in _as_list(statement.get("Resource")) if _every_resource(r)]
            if not broad:
                continue
            resources = f"every resource ({broad[0]!r})"
        if "NotAction" in statement:
            excluded = _as_list(statement["NotAction"])
            if "*" not in excluded:
                return f"{label} allows every action but {', '.join(excluded)} (NotAction) " + (
                    f"on {resources}"
                )
            continue
        for action in _as_list(statement.get("Action")):
            granted = _every_action(action)
            if granted:
                return f"{label} allows {granted} on {resources}"
    return None


def check_managed_policies(ctx: Context, arns: tuple[str, ...]) -> None:
    """Refuse, before anything changes, a managed policy that grants every action (or every
    action of a service) on every resource. Its default version is what the role would get."""
    client = ctx.clients.iam
    for arn in arns:
        with translated(f"reading managed policy {arn} to check what it grants"):
            try:
                version = client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            except client.exceptions.NoSuchEntityException:
                raise InputError(f"--managed-policy {arn} does not exist") from None
            # botocore URL-decodes and parses the document IAM sends.
            document = client.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
                "Document"
            ]
        if isinstance(document, str):
            document = json.loads(document)
        offending = too_broad(document)
        if offending:
            raise InputError(
                f"--managed-policy {arn}: its default version {version}: {offending}; that "
                "defeats least privilege: attach a policy that names its actions and resources"
            )


def read(ctx: Context, spec: RoleSpec) -> ObservedRole | None:
    client = ctx.clients.iam
    with translated(f"reading role {spec.name}"):
        try:
            role = client.get_role(RoleName=spec.name)["Role"]
        except client.exceptions.NoSuchEntityException:
            return None
        names = [
            name
            for page in client.get_paginator("list_role_policies").paginate(RoleName=spec.name)
            for name in page["PolicyNames"]
        ]
        inline = {
            name: client.get_role_policy(RoleName=spec.name, PolicyName=name)["PolicyDocument"]
            for name in names
        }
        attached = tuple(
            sorted(
                policy["PolicyArn"]
                for page in client.get_paginator("list_attached_role_policies").paginate(
                    RoleName=spec.name
                )
                for policy in page["AttachedPolicies"]
            )
        )
    return ObservedRole(
        name=spec.name,
        arn=role["Arn"],
        trust_policy=role.get("AssumeRolePolicyDocument", {}),
        inline_policies=inline,
        managed_policy_arns=attached,
        tags=tag_dict(role.get("Tags")),
    )


def drift(ctx: Context, spec: RoleSpec, grants: Grants, observed: ObservedRole) -> list[str]:
    details = []
    if normalised(observed.trust_policy) != normalised(trust_policy(ctx.account)):
        details.append("trust policy differs: reset to lambda.amazonaws.com in this account")
    ours = observed.inline_policies.get(POLICY_NAME)
    if ours is None:
        details.append(f"inline policy {POLICY_NAME}: missing -> put")
    elif normalised(ours) != normalised(access_policy(grants)):
        details.append(f"inline policy {POLICY_NAME} differs from least privilege: rewrite")
    details += [
        f"extra inline policy {name}: delete"
        for name in sorted(observed.inline_policies)
        if name != POLICY_NAME
    ]
    desired = set(spec.managed_policy_arns)
    details += [
        f"managed policy {arn}: attach"
        for arn in sorted(desired)
        if arn not in observed.managed_policy_arns
    ]
    details += [
        f"managed policy {arn}: detach"
        for arn in observed.managed_policy_arns
        if arn not in desired
    ]
    return details


def plan(ctx: Context, spec: RoleSpec, grants: Grants, observed: ObservedRole | None) -> Change:
    if observed is None:
        details = [
            "trusted by lambda.amazonaws.com in this account",
            f"inline policy {POLICY_NAME}",
        ]
        details += [f"attach {arn}" for arn in spec.managed_policy_arns]
        return Change("role", spec.name, "create", tuple(details))
    details = drift(ctx, spec, grants, observed)
    return Change("role", spec.name, "update" if details else "none", tuple(details), observed)


def apply(ctx: Context, spec: RoleSpec, grants: Grants, change: Change) -> dict[str, str]:
    client = ctx.clients.iam
    observed: ObservedRole | None = change.observed
    with translated(f"{'creating' if observed is None else 'updating'} role {spec.name}"):
        if change.action == "create":
            try:
                arn = client.create_role(
                    RoleName=spec.name,
                    AssumeRolePolicyDocument=json.dumps(trust_policy(ctx.account)),
                    Description=f"cryptoconsumer stack {ctx.config.stack}: {spec.name}",
                    Tags=tag_list(ctx.config.tags),
                )["Role"]["Arn"]
            except client.exceptions.EntityAlreadyExistsException:
                observed = read(ctx, spec)  # made by an interrupted earlier run
                assert observed is not None
                arn = observed.arn
        else:
            assert observed is not None
            arn = observed.arn
        if change.action in ("create", "update"):
            _converge(ctx, spec, grants, observed)
            ctx.reporter.info(f"{change.action}d role {spec.name}")
    return {"role_arn": arn}


def _converge(ctx: Context, spec: RoleSpec, grants: Grants, observed: ObservedRole | None) -> None:
    client = ctx.clients.iam
    inline = observed.inline_policies if observed else {}
    attached = set(observed.managed_policy_arns) if observed else set()
    desired_policy = access_policy(grants)
    if observed and normalised(observed.trust_policy) != normalised(trust_policy(ctx.account)):
        client.update_assume_role_policy(
            RoleName=spec.name, PolicyDocument=json.dumps(trust_policy(ctx.account))
        )
    if POLICY_NAME not in inline or normalised(inline[POLICY_NAME]) != normalised(desired_policy):
        client.put_role_policy(
            RoleName=spec.name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(desired_policy)
        )
    for name in inline:
        if name != POLICY_NAME:
            client.delete_role_policy(RoleName=spec.name, PolicyName=name)
    for arn in sorted(set(spec.managed_policy_arns) - attached):
        client.attach_role_policy(RoleName=spec.name, PolicyArn=arn)
    for arn in sorted(attached - set(spec.managed_policy_arns)):
        client.detach_role_policy(RoleName=spec.name, PolicyArn=arn)


def plan_delete(observed: ObservedRole | None, spec: RoleSpec, stack: str) -> Change:
    if observed is None:
        return Change("role", spec.name, "none", ("does not exist",))
    if not owned(observed.tags, stack):
        return Change("role", spec.name, "none", ("not tagged for this stack; left alone",))
    details = [f"delete inline policy {name}" for name in sorted(observed.inline_policies)]
    details += [f"detach {arn}" for arn in observed.managed_policy_arns]
    return Change("role", spec.name, "delete", tuple(details), observed)


def delete(ctx: Context, change: Change) -> None:
    """Policies first: IAM refuses to delete a role that still has any (DeleteConflict)."""
    client = ctx.clients.iam
    with translated(f"deleting role {change.name}"):
        try:
            _delete(client, change.observed)
        except client.exceptions.DeleteConflictException:
            # A policy attached since the plan read the role: read it again, once.
            current = read(ctx, RoleSpec(name=change.name))
            if current is not None:
                _delete(client, current)
    ctx.reporter.info(f"deleted role {change.name}")


def _delete(client: Any, observed: ObservedRole) -> None:
    """Each call on its own: a re-run may find some policies already gone."""
    name = observed.name
    for arn in observed.managed_policy_arns:
        with contextlib.suppress(client.exceptions.NoSuchEntityException):
            client.detach_role_policy(RoleName=name, PolicyArn=arn)
    for policy in observed.inline_policies:
        with contextlib.suppress(client.exceptions.NoSuchEntityException):
            client.delete_role_policy(RoleName=name, PolicyName=policy)
    with contextlib.suppress(client.exceptions.NoSuchEntityException):
        client.delete_role(RoleName=name)
