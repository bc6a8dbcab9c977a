"""The SNS topic every alarm notifies (STACK-alarms, encrypted with alias/aws/sns), and its
e-mail subscriptions.

An e-mail subscription stays PendingConfirmation until its address owner clicks the link AWS
mails; it cannot be confirmed, nor unsubscribed, by API meanwhile. ListSubscriptionsByTopic
lists pending ones too (with SubscriptionArn "PendingConfirmation"), which is how `up` knows
not to subscribe an address again. Deleting the topic deletes its subscriptions.

With --alarm-topic-arn the alarms notify someone else's topic: it is read to prove it exists,
and never changed or deleted.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from dataclasses import dataclass
from typing import Any

from cryptoconsumer.aws import error_code, translated
from cryptoconsumer.config import TopicSpec
from cryptoconsumer.errors import AwsError
from cryptoconsumer.resources.base import Change, Context, field_diff, owned, tag_dict, tag_list

# What AWS puts in SubscriptionArn until the address owner confirms (List* and Subscribe).
PENDING = ("PendingConfirmation", "pending confirmation")
NOT_FOUND = ("NotFound", "NotFoundException")
# A topic of another account whose policy lets CloudWatch publish but not us read.
UNREADABLE = ("AuthorizationError", "AuthorizationErrorException", "AccessDenied")
EMAIL = "email"


@dataclass(frozen=True)
class ObservedSubscription:
    protocol: str
    endpoint: str
    arn: str

    @property
    def pending(self) -> bool:
        return self.arn in PENDING


@dataclass(frozen=True)
class ObservedTopic:
    name: str
    arn: str
    kms_key: str | None
    tags: dict[str, str]
    subscriptions: tuple[ObservedSubscription, ...] = ()
    # False for a topic of another account we may not read (--alarm-topic-arn).
    readable: bool = True

    def emails(self, pending: bool) -> list[str]:
        return sorted(
            s.endpoint for s in self.subscriptions if s.protocol == EMAIL and s.pending == pending
        )


def arn_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def read(ctx: Context, arn: str) -> ObservedTopic | None:
    """The topic, its subscriptions and tags: three reads at once."""
    client = ctx.clients.sns

    def subscriptions() -> list[dict[str, Any]]:
        pages = client.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
        return [s for page in pages for s in page.get("Subscriptions", [])]

    readers = {
        "attributes": lambda: client.get_topic_attributes(TopicArn=arn)["Attributes"],
        "subscriptions": subscriptions,
        "tags": lambda: client.list_tags_for_resource(ResourceArn=arn).get("Tags", []),
    }
    with translated(f"reading topic {arn}"):
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(readers)) as pool:
            futures = {name: pool.submit(reader) for name, reader in readers.items()}
            try:
                found = {name: future.result() for name, future in futures.items()}
            except Exception as err:
                if error_code(err) in NOT_FOUND:
                    return None
                raise
    return ObservedTopic(
        name=arn_name(arn),
        arn=arn,
        kms_key=found["attributes"].get("KmsMasterKeyId") or None,
        tags=tag_dict(found["tags"]),
        subscriptions=tuple(
            ObservedSubscription(s.get("Protocol", ""), s.get("Endpoint", ""), s["SubscriptionArn"])
            for s in found["subscriptions"]
        ),
    )


def read_external(ctx: Context, arn: str) -> ObservedTopic | None:
    """Someone else's topic: does it exist? (One GetTopicAttributes; nothing else is ours.)"""
    client = ctx.clients.sns
    with translated(f"reading topic {arn}"):
        try:
            attributes = client.get_topic_attributes(TopicArn=arn)["Attributes"]
        except Exception as err:
            if error_code(err) in NOT_FOUND:
                return None
            if error_code(err) in UNREADABLE:
                return ObservedTopic(arn_name(arn), arn, None, {}, readable=False)
            raise
    return ObservedTopic(arn_name(arn), arn, attributes.get("KmsMasterKeyId") or None, {})


def check_external(arn: str, observed: ObservedTopic | None) -> None:
    """Before any change: the topic the alarms are to notify must exist."""
    if observed is None:
        raise AwsError(
            f"--alarm-topic-arn {arn} does not exist (or is in another region)", "NotFound"
        )


def drift(spec: TopicSpec, observed: ObservedTopic) -> list[str]:
    details = field_diff("encryption key", observed.kms_key or "none", spec.kms_key)
    subscribed = {s.endpoint for s in observed.subscriptions if s.protocol == EMAIL}
    for email in spec.emails:
        if email not in subscribed:
            details.append(f"subscribe {email} by e-mail: it must confirm from the mail AWS sends")
    for email in observed.emails(pending=False):
        if email not in spec.emails:
            details.append(f"unsubscribe {email} (not an --alarm-email)")
    return details


def notes(spec: TopicSpec | None, observed: ObservedTopic) -> list[str]:
    """What `up` cannot change: a pending subscription can be neither confirmed nor removed."""
    wanted = spec.emails if spec else ()
    found = []
    for email in observed.emails(pending=True):
        if email in wanted:
            found.append(f"{email}: pending confirmation (the link is in the mail AWS sent)")
        else:
            found.append(
                f"{email}: pending, not an --alarm-email; it cannot be removed while "
                "pending, and AWS deletes it once its confirmation link expires"
            )
    return found


def plan(ctx: Context, spec: TopicSpec, observed: ObservedTopic | None) -> Change:
    if observed is None:
        return Change(
            "topic",
            spec.name,
            "create",
            (
                f"encrypted with {spec.kms_key}; every alarm's alarm and OK action",
                *(
                    f"subscribe {email} by e-mail: it must confirm from the mail AWS sends"
                    for email in spec.emails
                ),
            ),
        )
    details = drift(spec, observed)
    return Change(
        "topic",
        spec.name,
        "update" if details else "none",
        (*details, *notes(spec, observed)),
        observed,
    )


def apply(ctx: Context, spec: TopicSpec, change: Change) -> dict[str, str]:
    client = ctx.clients.sns
    observed: ObservedTopic | None = change.observed
    if change.action == "create":
        # CreateTopic returns the existing topic when name, attributes and tags match, so an
        # interrupted run's topic is found here again; different attributes are refused.
        with translated(f"creating topic {spec.name}"):
            arn = client.create_topic(
                Name=spec.name,
                Attributes={"KmsMasterKeyId": spec.kms_key},
                Tags=tag_list(ctx.config.tags),
            )["TopicArn"]
        ctx.reporter.info(f"created topic {spec.name}")
        subscribed: set[str] = set()
    else:
        assert observed is not None
        arn = observed.arn
        subscribed = {s.endpoint for s in observed.subscriptions if s.protocol == EMAIL}
        if change.action == "update" and observed.kms_key != spec.kms_key:
            with translated(f"encrypting topic {spec.name}"):
                client.set_topic_attributes(
                    TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue=spec.kms_key
                )
    if change.action not in ("create", "update"):
        return {"topic_arn": arn}
    for email in spec.emails:
        if email not in subscribed:
            with translated(f"subscribing {email} to topic {spec.name}"):
                client.subscribe(TopicArn=arn, Protocol=EMAIL, Endpoint=email)
            ctx.reporter.info(f"subscribed {email}: it must confirm from the mail AWS sent")
    for subscription in observed.subscriptions if observed else ():
        if (
            subscription.protocol == EMAIL
            and not subscription.pending
            and subscription.endpoint not in spec.emails
        ):
            with translated(f"unsubscribing {subscription.endpoint} from topic {spec.name}"):
                with contextlib.suppress(client.exceptions.NotFoundException):
                    client.unsubscribe(SubscriptionArn=subscription.arn)
            ctx.reporter.info(f"unsubscribed {subscription.endpoint}")
    if change.action == "update":
        ctx.reporter.info(f"updated topic {spec.name}")
    return {"topic_arn": arn}


def plan_delete(observed: ObservedTopic | None, name: str, stack: str, why: str = "") -> Change:
    if observed is None:
        return Change("topic", name, "none", ("does not exist",))
    if not owned(observed.tags, stack):
        return Change("topic", name, "none", ("not tagged for this stack; left alone",))
    emails = [s.endpoint for s in observed.subscriptions]
    details = [why] if why else []
    if emails:
        details.append(f"its subscriptions go with it: {', '.join(sorted(emails))}")
    return Change("topic", name, "delete", tuple(details), observed)


def delete(ctx: Context, change: Change) -> None:
    client = ctx.clients.sns
    with translated(f"deleting topic {change.name}"):
        with contextlib.suppress(client.exceptions.NotFoundException):
            client.delete_topic(TopicArn=change.observed.arn)
    ctx.reporter.info(f"deleted topic {change.name}")
