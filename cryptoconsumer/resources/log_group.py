"""The function's CloudWatch log group, made before the function so its retention applies."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from cryptoconsumer.aws import translated
from cryptoconsumer.config import LogGroupSpec
from cryptoconsumer.resources.base import Change, Context, field_diff, owned


@dataclass(frozen=True)
class ObservedLogGroup:
    name: str
    arn: str
    retention_days: int | None
    tags: dict[str, str]


def read(ctx: Context, spec: LogGroupSpec) -> ObservedLogGroup | None:
    client = ctx.clients.logs
    with translated(f"reading log group {spec.name}"):
        groups = client.describe_log_groups(logGroupNamePrefix=spec.name, limit=50)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == spec.name), None)
        if group is None:
            return None
        arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
        tags = client.list_tags_for_resource(resourceArn=arn).get("tags", {})
    return ObservedLogGroup(
        name=spec.name, arn=arn, retention_days=group.get("retentionInDays"), tags=tags
    )


def drift(spec: LogGroupSpec, observed: ObservedLogGroup) -> list[str]:
    return field_diff("retention days", observed.retention_days, spec.retention_days)


def plan(ctx: Context, spec: LogGroupSpec, observed: ObservedLogGroup | None) -> Change:
    if observed is None:
        return Change("log_group", spec.name, "create", (f"retention {spec.retention_days} days",))
    details = drift(spec, observed)
    return Change("log_group", spec.name, "update" if details else "none", tuple(details), observed)


def apply(ctx: Context, spec: LogGroupSpec, change: Change) -> dict[str, str]:
    client = ctx.clients.logs
    if change.action == "create":
        with translated(f"creating log group {spec.name}"):
            try:
                client.create_log_group(logGroupName=spec.name, tags=ctx.config.tags)
            except client.exceptions.ResourceAlreadyExistsException:
                pass  # made by an interrupted earlier run; retention is set below either way
    if change.action in ("create", "update"):
        with translated(f"setting retention of log group {spec.name}"):
            client.put_retention_policy(logGroupName=spec.name, retentionInDays=spec.retention_days)
        ctx.reporter.info(f"{change.action}d log group {spec.name}")
    return {"log_group_arn": ctx.arn("logs", f"log-group:{spec.name}")}


def plan_delete(observed: ObservedLogGroup | None, spec: LogGroupSpec, stack: str) -> Change:
    if observed is None:
        return Change("log_group", spec.name, "none", ("does not exist",))
    if not owned(observed.tags, stack):
        return Change("log_group", spec.name, "none", ("not tagged for this stack; left alone",))
    return Change("log_group", spec.name, "delete", ("its log events are lost",), observed)


def delete(ctx: Context, change: Change) -> None:
    client = ctx.clients.logs
    with translated(f"deleting log group {change.name}"):
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_log_group(logGroupName=change.name)
    ctx.reporter.info(f"deleted log group {change.name}")
