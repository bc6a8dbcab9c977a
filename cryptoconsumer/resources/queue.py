"""The SQS dead-letter queue: 14-day retention, server-side encryption."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from cryptoconsumer.aws import translated
from cryptoconsumer.config import QueueSpec
from cryptoconsumer.resources.base import Change, Context, is_error, owned, retry_while

# SQS refuses a deleted queue's name for 60 s; allow a little more than that.
NAME_REUSE_SECONDS = 75.0


@dataclass(frozen=True)
class ObservedQueue:
    name: str
    url: str
    arn: str
    retention_seconds: int
    encrypted: bool
    messages: int
    tags: dict[str, str]


def read(ctx: Context, spec: QueueSpec) -> ObservedQueue | None:
    client = ctx.clients.sqs
    with translated(f"reading queue {spec.name}"):
        try:
            url = client.get_queue_url(QueueName=spec.name)["QueueUrl"]
        except client.exceptions.QueueDoesNotExist:
            return None
        attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        tags = client.list_queue_tags(QueueUrl=url).get("Tags", {})
    return ObservedQueue(
        name=spec.name,
        url=url,
        arn=attributes["QueueArn"],
        retention_seconds=int(attributes.get("MessageRetentionPeriod", 0)),
        encrypted=attributes.get("SqsManagedSseEnabled") == "true"
        or bool(attributes.get("KmsMasterKeyId")),
        messages=int(attributes.get("ApproximateNumberOfMessages", 0)),
        tags=tags,
    )


def drift(spec: QueueSpec, observed: ObservedQueue) -> list[str]:
    details = []
    if observed.retention_seconds != spec.retention_seconds:
        details.append(
            f"message retention: {observed.retention_seconds} s -> {spec.retention_seconds} s"
        )
    if not observed.encrypted:
        details.append("server-side encryption: off -> on")
    return details


def plan(ctx: Context, spec: QueueSpec, observed: ObservedQueue | None) -> Change:
    if observed is None:
        return Change("queue", spec.name, "create", ("14-day retention", "SSE-SQS encryption"))
    details = drift(spec, observed)
    return Change("queue", spec.name, "update" if details else "none", tuple(details), observed)


def plan_retired(observed: ObservedQueue) -> Change:
    """--no-dlq on a stack that had a queue: nothing uses it any more, but it may hold records."""
    return Change(
        "queue",
        observed.name,
        "retain",
        (
            f"no longer used (--no-dlq); kept with its {observed.messages} message(s); "
            "`destroy --no-dlq` removes it",
        ),
        observed,
    )


def _attributes(spec: QueueSpec) -> dict[str, str]:
    return {
        "MessageRetentionPeriod": str(spec.retention_seconds),
        "SqsManagedSseEnabled": "true",
    }


def apply(ctx: Context, spec: QueueSpec, change: Change) -> dict[str, str]:
    client = ctx.clients.sqs
    if change.action == "create":
        with translated(f"creating queue {spec.name}"):
            url = retry_while(
                ctx,
                lambda: client.create_queue(
                    QueueName=spec.name, Attributes=_attributes(spec), tags=ctx.config.tags
                )["QueueUrl"],
                lambda err: is_error(
                    err, "AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"
                ),
                f"SQS to release the name {spec.name} (60 s after a delete)",
                seconds=NAME_REUSE_SECONDS,
            )
        ctx.reporter.info(f"created queue {spec.name}")
        return {"queue_url": url, "queue_arn": ctx.arn("sqs", spec.name)}
    observed: ObservedQueue = change.observed
    if change.action == "update":
        with translated(f"updating queue {spec.name}"):
            client.set_queue_attributes(QueueUrl=observed.url, Attributes=_attributes(spec))
        ctx.reporter.info(f"updated queue {spec.name}")
    return {"queue_url": observed.url, "queue_arn": observed.arn}


def plan_delete(observed: ObservedQueue | None, spec: QueueSpec, stack: str) -> Change:
    if observed is None:
        return Change("queue", spec.name, "none", ("does not exist",))
    if not owned(observed.tags, stack):
        return Change("queue", spec.name, "none", ("not tagged for this stack; left alone",))
    details = (f"{observed.messages} message(s) in it are lost",) if observed.messages else ()
    return Change("queue", spec.name, "delete", details, observed)


def delete(ctx: Context, change: Change) -> None:
    client = ctx.clients.sqs
    with translated(f"deleting queue {change.name}"):
        with contextlib.suppress(client.exceptions.QueueDoesNotExist):
            client.delete_queue(QueueUrl=change.observed.url)
    ctx.reporter.info(f"deleted queue {change.name}")
