"""Enhanced fan-out (`up --enhanced-fan-out`): a registered stream consumer the mapping reads.

A consumer gets its own 2 MB/s per shard and push delivery, instead of sharing the stream's
read throughput with every other reader.

Consumers cannot be tagged, so ownership is by name and use: a consumer is this stack's when
it has the deterministic name FUNCTION-efo and is the source of this stack's own (tagged)
mapping. One that is not, is never deregistered by this tool.

`destroy` deletes the mapping before it deregisters the consumer, and the mapping is the only
pointer to the consumer; so first the function (ours, tagged) records the consumer's stream
and name in two tags, and it is deleted only once the consumer is gone. A destroy that could
not deregister it, or was interrupted, finds the consumer again through the function.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptoconsumer.aws import translated
from cryptoconsumer.config import ConsumerSpec
from cryptoconsumer.resources.base import Change, Context, is_error, owned, poll_until, retry_while

CONSUMER_MARKER = "/consumer/"
ACTIVE = "ACTIVE"
STREAM_TAG = "cryptoconsumer:consumer-stream"
NAME_TAG = "cryptoconsumer:consumer-name"


@dataclass(frozen=True)
class ObservedConsumer:
    name: str
    arn: str
    status: str
    stream_arn: str


def stream_of(source_arn: str) -> str:
    """The stream ARN of a mapping's source: the stream itself or one of its consumers."""
    return source_arn.split(CONSUMER_MARKER, 1)[0]


def grant_resource(stream_arn: str, name: str) -> str:
    """The IAM resource for the consumer before it exists: AWS appends ':CREATION_TIMESTAMP'
    to a consumer's ARN, so the exact ARN is unknown until it is registered."""
    return f"{stream_arn}{CONSUMER_MARKER}{name}:*"


def pending_arn(stream_arn: str, name: str) -> str:
    """What a plan shows as the mapping's source while the consumer is not registered yet."""
    return f"{stream_arn}{CONSUMER_MARKER}{name}:(once registered)"


def _observed(description: dict[str, Any]) -> ObservedConsumer:
    arn = str(description["ConsumerARN"])
    return ObservedConsumer(
        name=str(description["ConsumerName"]),
        arn=arn,
        status=str(description.get("ConsumerStatus", "")),
        stream_arn=str(description.get("StreamARN") or stream_of(arn)),
    )


def _describe(ctx: Context, doing: str, **params: str) -> ObservedConsumer | None:
    client = ctx.clients.kinesis
    with translated(doing):
        try:
            found = client.describe_stream_consumer(**params)["ConsumerDescription"]
        except client.exceptions.ResourceNotFoundException:
            return None
    return _observed(found)


def read(ctx: Context, stream_arn: str, spec: ConsumerSpec) -> ObservedConsumer | None:
    return _describe(
        ctx, f"reading stream consumer {spec.name}", StreamARN=stream_arn, ConsumerName=spec.name
    )


def read_source(ctx: Context, source_arns: Iterable[str]) -> ObservedConsumer | None:
    """The consumer a mapping reads through, when --enhanced-fan-out was not given (status,
    destroy, switching it off): found from the mapping's source, not by name."""
    for arn in source_arns:
        if CONSUMER_MARKER in arn:
            return _describe(ctx, f"reading stream consumer {arn}", ConsumerARN=arn)
    return None


def read_remembered(ctx: Context, function: Any) -> ObservedConsumer | None:
    """The consumer the function recorded before a destroy deleted the mapping reading it."""
    if function is None or STREAM_TAG not in function.tags or NAME_TAG not in function.tags:
        return None
    return _describe(
        ctx,
        f"reading stream consumer {function.tags[NAME_TAG]}",
        StreamARN=function.tags[STREAM_TAG],
        ConsumerName=function.tags[NAME_TAG],
    )


def remembered_by(observed: ObservedConsumer, function: Any, stack: str) -> bool:
    return (
        function is not None
        and owned(function.tags, stack)
        and function.tags.get(STREAM_TAG) == observed.stream_arn
        and function.tags.get(NAME_TAG) == observed.name
    )


def ours(
    observed: ObservedConsumer, mappings: Iterable[Any], stack: str, function: Any = None
) -> bool:
    """The source of one of this stack's own mappings, or recorded by this stack's function."""
    return any(
        m.source_arn == observed.arn and owned(m.tags, stack) for m in mappings
    ) or remembered_by(observed, function, stack)


def remember(ctx: Context, mapping: Any) -> None:
    """Before a mapping reading through a consumer is deleted: the function records it."""
    source = str(mapping.source_arn)
    if CONSUMER_MARKER not in source or not mapping.function_arn:
        return
    stream_arn, rest = source.split(CONSUMER_MARKER, 1)
    client = ctx.clients.lambda_
    with translated(f"recording stream consumer {rest} on function {mapping.function_arn}"):
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.tag_resource(
                Resource=mapping.function_arn,
                Tags={STREAM_TAG: stream_arn, NAME_TAG: rest.rsplit(":", 1)[0]},
            )


def plan(
    ctx: Context,
    spec: ConsumerSpec | None,
    stream_arn: str,
    observed: ObservedConsumer | None,
    mappings: Iterable[Any],
    function: Any = None,
) -> Change | None:
    """Register when wanted and missing; deregister when not wanted and ours; else nothing."""
    if spec is not None:
        if observed is None or observed.name != spec.name or observed.status == "DELETING":
            deleting = observed is not None and observed.status == "DELETING"
            return Change(
                "consumer",
                spec.name,
                "create",
                (
                    f"register on {stream_arn.rsplit('/', 1)[-1]} (enhanced fan-out)",
                    "the mapping reads through it: 2 MB/s per shard of its own",
                    *(["the previous one is still deregistering: wait for it"] if deleting else []),
                ),
                observed if deleting else None,
            )
        waiting = "" if observed.status == ACTIVE else ": `up` waits until it is ACTIVE"
        return Change(
            "consumer", spec.name, "none", (f"status {observed.status}{waiting}",), observed
        )
    if observed is None:
        return None
    if ours(observed, mappings, ctx.config.stack, function):
        return Change(
            "consumer",
            observed.name,
            "delete",
            ("enhanced fan-out off: deregister once the mapping reads the stream",),
            observed,
        )
    return Change(
        "consumer",
        observed.name,
        "none",
        ("not the source of this stack's mapping; left alone",),
        observed,
    )


def plan_delete(
    observed: ObservedConsumer | None, mappings: Iterable[Any], stack: str, function: Any = None
) -> Change:
    if observed is None:
        return Change("consumer", "(none)", "none", ("no stream consumer in use",))
    if not ours(observed, mappings, stack, function):
        return Change(
            "consumer",
            observed.name,
            "none",
            ("not the source of this stack's mapping; left alone",),
            observed,
        )
    detail = (
        "after the mapping is gone"
        if any(m.source_arn == observed.arn for m in mappings)
        else "left by an earlier destroy (recorded on the function)"
    )
    return Change("consumer", observed.name, "delete", (detail,), observed)


def _deregistered(ctx: Context, stream_arn: str, spec: ConsumerSpec) -> None:
    """A name is only free again once its previous consumer is fully deregistered."""
    poll_until(
        ctx,
        lambda: read(ctx, stream_arn, spec),
        lambda found: found is None or found.status != "DELETING",
        f"stream consumer {spec.name} to finish deregistering",
    )


def settling(observed: ObservedConsumer | None) -> bool:
    return observed is not None and observed.status not in (ACTIVE, "DELETING")


def apply(
    ctx: Context, spec: ConsumerSpec | None, stream_arn: str, change: Change
) -> dict[str, str]:
    if change.action == "delete":
        delete(ctx, change)
        return {}
    if spec is None:
        return {}  # a consumer this stack does not use: left alone
    client = ctx.clients.kinesis
    if change.action == "none" and change.observed.status == ACTIVE:
        return {"consumer_arn": change.observed.arn}
    if change.action == "create":
        if change.observed is not None:
            _deregistered(ctx, stream_arn, spec)
        with translated(f"registering stream consumer {spec.name}"):
            try:
                client.register_stream_consumer(StreamARN=stream_arn, ConsumerName=spec.name)
                ctx.reporter.info(f"registered stream consumer {spec.name}")
            except client.exceptions.ResourceInUseException:
                # Registered by an interrupted earlier run (wait for it like a new one), or
                # one the plan did not see DELETING yet (wait until it is gone, register).
                found = read(ctx, stream_arn, spec)
                if found is not None and found.status == "DELETING":
                    _deregistered(ctx, stream_arn, spec)
                    client.register_stream_consumer(StreamARN=stream_arn, ConsumerName=spec.name)
                    ctx.reporter.info(f"registered stream consumer {spec.name}")
    active = poll_until(
        ctx,
        lambda: read(ctx, stream_arn, spec),
        lambda found: found is not None and found.status == ACTIVE,
        f"stream consumer {spec.name} to become ACTIVE",
    )
    assert active is not None
    return {"consumer_arn": active.arn}


def delete(ctx: Context, change: Change) -> None:
    """Deregister and wait until it is gone; only after the mapping reading it is deleted."""
    client = ctx.clients.kinesis
    observed: ObservedConsumer = change.observed
    with translated(f"deregistering stream consumer {observed.name}"):
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            # A consumer still CREATING refuses to be deregistered (ResourceInUseException).
            retry_while(
                ctx,
                lambda: client.deregister_stream_consumer(ConsumerARN=observed.arn),
                lambda err: is_error(err, "ResourceInUseException"),
                f"stream consumer {observed.name} to accept deregistration",
                seconds=ctx.settle_seconds,
            )
    poll_until(
        ctx,
        lambda: _describe(ctx, "reading a stream consumer", ConsumerARN=observed.arn),
        lambda found: found is None,
        f"stream consumer {observed.name} to be deregistered",
    )
    ctx.reporter.info(f"deregistered stream consumer {observed.name}")
