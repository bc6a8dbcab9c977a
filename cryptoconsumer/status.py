"""`status`: what exists, whether it is ours, its state, and its drift from what `up` would set."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from cryptoconsumer.aws import Clients
from cryptoconsumer.config import StackConfig, chosen_settings, parse_stream_arn
from cryptoconsumer.resources import (
    alarms,
    bucket,
    function,
    log_group,
    mapping,
    queue,
    role,
    table,
)
from cryptoconsumer.resources import consumer as stream_consumer
from cryptoconsumer.resources import dashboard as stack_dashboard
from cryptoconsumer.resources import topic as alarm_topic
from cryptoconsumer.resources.base import Context, owned
from cryptoconsumer.resources.settings import ObservedSettings, parameter_name
from cryptoconsumer.stack import (
    UNREAD,
    Observed,
    Recorded,
    consumer_arn,
    dashboard_body,
    desired,
    desired_function,
    desired_mapping,
    read,
    read_stream,
    resolve_account,
    topic_arn,
)


@dataclass(frozen=True)
class ResourceStatus:
    resource: str
    name: str
    exists: bool
    owned: bool
    state: str
    drift: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackStatus:
    stack: str
    region: str
    resources: tuple[ResourceStatus, ...]
    extra: dict[str, object] = field(default_factory=dict)
    # Reasons about no one resource row: an alarm in ALARM.
    alarm_problems: tuple[str, ...] = ()

    @property
    def deployed(self) -> bool:
        return all(r.exists for r in self.resources)

    @property
    def drifted(self) -> bool:
        return any(r.drift for r in self.resources)

    @property
    def problems(self) -> list[str]:
        rows = [f"{r.resource} {r.name}: {p}" for r in self.resources for p in r.problems]
        return rows + list(self.alarm_problems)

    @property
    def healthy(self) -> bool:
        return self.deployed and not self.problems

    @property
    def ok(self) -> bool:
        return self.deployed and self.healthy and not self.drifted


def read_status(config: StackConfig, clients: Clients, ctx: Context | None = None) -> StackStatus:
    ctx = ctx or Context(clients=clients, config=config)
    config, observed = read_observed(ctx, config)
    return status_of(ctx, config, observed)


def read_observed(
    ctx: Context,
    config: StackConfig,
    recorded: Recorded = UNREAD,
    after_mappings: Callable[[tuple[mapping.ObservedMapping, ...]], Any] | None = None,
) -> tuple[StackConfig, Observed]:
    """Everything that exists; without --stream-arn, the stream is the mapping's source."""
    observed = read(ctx, with_stream=True, recorded=recorded, after_mappings=after_mappings)
    if config.stream is None:
        sources = [m.source_arn for m in observed.mappings if ":kinesis:" in m.source_arn]
        if sources:
            stream = parse_stream_arn(sources[0].split("/consumer/")[0])
            config = replace(config, stream=stream)
            ctx.config = config
            observed = replace(observed, stream=read_stream(ctx.clients, stream.arn))
    return config, observed


def status_of(ctx: Context, config: StackConfig, observed: Observed) -> StackStatus:
    return StackStatus(
        config.stack,
        ctx.clients.region,
        tuple(_rows(ctx, config, observed)),
        extra={
            "settings": settings_document(config, observed.settings),
            # alarms and notifications
            "pending_subscriptions": pending_subscriptions(config, observed),
        },
    )


def pending_subscriptions(config: StackConfig, observed: Observed) -> list[str]:
    """E-mail addresses subscribed to the stack's topic that have not confirmed yet."""
    found = observed.topic
    if found is None or not owned(found.tags, config.stack):
        return []
    return found.emails(pending=True)


def settings_document(config: StackConfig, recorded: ObservedSettings | None) -> dict[str, Any]:
    """What status compared against, and where each value came from."""
    return {
        "parameter": parameter_name(config.stack),
        "recorded": bool(recorded and recorded.owned),
        "values": [
            {
                "option": s.option,
                "value": list(s.value) if isinstance(s.value, tuple) else s.value,
                "origin": s.origin,
            }
            for s in chosen_settings(config)
        ],
    }


def _missing(resource: str, name: str) -> ResourceStatus:
    return ResourceStatus(resource, name, False, False, "missing", (), ("does not exist",))


def _present(
    resource: str,
    found: Any,
    stack: str,
    state: str,
    drift: Iterable[str] = (),
    problems: Iterable[str] = (),
) -> ResourceStatus:
    """A row for a resource that exists; every observed resource has a name and tags."""
    return ResourceStatus(
        resource, found.name, True, owned(found.tags, stack), state, tuple(drift), tuple(problems)
    )


def _function_problems(found: function.ObservedFunction) -> list[str]:
    """Failed (State or LastUpdateStatus) with what AWS said; or not yet, or no longer, Active."""
    if found.failed:
        return [f"{found.failure}; `up` re-applies its code and configuration to repair it"]
    if found.state != "Active":
        return [f"state {found.state} {found.state_reason}".strip()]
    if found.last_update_status != "Successful":
        return [f"last update {found.last_update_status}"]
    return []


def _mapping_problems(found: mapping.ObservedMapping) -> list[str]:
    problems = [] if found.state == "Enabled" else [f"state {found.state} {found.state_reason}"]
    if found.last_processing_result not in ("", "OK", "No records processed"):
        problems.append(f"last processing result: {found.last_processing_result}")
    return [problem.strip() for problem in problems]


def _rows(ctx: Context, config: StackConfig, observed: Observed) -> list[ResourceStatus]:
    stack = config.stack
    want = None
    if config.stream is not None and (observed.arns() or observed.mappings):
        resolve_account(ctx, observed)
        want = desired(ctx, observed)
    rows: list[ResourceStatus] = []

    if (t := observed.table) is None:
        rows.append(_missing("table", config.table.name))
    else:
        problems = () if t.status == "ACTIVE" else (f"status {t.status}",)
        rows.append(_present("table", t, stack, t.status, table.drift(config.table, t), problems))
    if config.queue and (q := observed.queue) is None:
        rows.append(_missing("queue", config.queue.name))
    elif config.queue and q is not None:
        rows.append(
            _present("queue", q, stack, f"{q.messages} message(s)", queue.drift(config.queue, q))
        )
    if (g := observed.log_group) is None:
        rows.append(_missing("log_group", config.log_group.name))
    else:
        rows.append(_present("log_group", g, stack, "exists", log_group.drift(config.log_group, g)))
    if (r := observed.role) is None:
        rows.append(_missing("role", config.role.name))
    else:
        drift = role.drift(ctx, config.role, want.grants, r) if want else []
        rows.append(_present("role", r, stack, "exists", drift))
    if (f := observed.function) is None:
        rows.append(_missing("function", config.function.name))
    else:
        drift = []
        if want:
            queue_url = observed.queue.url if observed.queue and config.queue else None
            drift = function.drift(desired_function(config, want, queue_url, want.role_arn), f)
        rows.append(
            _present(
                "function",
                f,
                stack,
                f"{f.state}/{f.last_update_status}",
                drift,
                _function_problems(f),
            )
        )
    rows += _consumer_rows(config, observed)
    rows += _bucket_rows(config, observed)
    ours = [
        m
        for m in observed.mappings
        if config.stream is None or stream_consumer.stream_of(m.source_arn) == config.stream.arn
    ]
    if not ours:
        label = (
            f"{config.stream.name} -> {config.function.name}"
            if config.stream
            else f"mapping of {config.function.name}"
        )
        rows.append(_missing("mapping", label))
    for m in ours:
        drift = []
        if want:
            wanted = desired_mapping(config, want, consumer_arn(config, observed))
            drift = mapping.drift(wanted, m) + mapping.replacement_reasons(wanted, m)
        rows.append(
            ResourceStatus(
                "mapping",
                m.uuid,
                True,
                owned(m.tags, stack),
                m.state,
                tuple(drift),
                tuple(_mapping_problems(m)),
            )
        )
    rows += _monitoring_rows(ctx, config, observed)
    rows += _dashboard_rows(ctx, config, observed, want is not None)
    rows = [
        row
        if row.owned or not row.exists
        else replace(row, problems=(*row.problems, "not tagged for this stack"))
        for row in rows
    ]
    return rows + _alarm_topic_rows(config, observed)


def _monitoring_rows(ctx: Context, config: StackConfig, observed: Observed) -> list[ResourceStatus]:
    """The stack's topic and alarms, wanted or left over (`up` deletes those)."""
    stack = config.stack
    spec = config.alarms
    rows: list[ResourceStatus] = []
    found_topic = observed.topic
    if spec and spec.topic:
        if found_topic is None:
            rows.append(_missing("topic", spec.topic.name))
        else:
            count = len(found_topic.subscriptions)
            pending = len(found_topic.emails(pending=True))
            state = f"{count} subscription(s), {pending} pending confirmation"
            drift = alarm_topic.drift(spec.topic, found_topic)
            rows.append(_present("topic", found_topic, stack, state, drift))
    elif found_topic is not None and owned(found_topic.tags, stack):
        why = "alarms are off" if spec is None else "alarms notify --alarm-topic-arn"
        rows.append(_present("topic", found_topic, stack, "unused", (f"{why}: `up` deletes it",)))
    wanted = []
    if spec:
        if not ctx.account:
            resolve_account(ctx, observed)  # STS only if nothing exists; cached by the read
        wanted = alarms.desired(ctx, topic_arn(ctx, observed))
    found = {alarm.name: alarm for alarm in observed.alarms}
    for w in wanted:
        current = found.pop(w.name, None)
        if current is None:
            rows.append(_missing("alarm", w.name))
            continue
        rows.append(
            ResourceStatus(
                "alarm",
                w.name,
                True,
                current.marked(stack),
                current.state,
                tuple(alarms.drift(w, current)),
            )
        )
    for leftover in found.values():
        if leftover.marked(stack):
            rows.append(
                ResourceStatus(
                    "alarm",
                    leftover.name,
                    True,
                    True,
                    leftover.state,
                    ("not wanted any more: `up` deletes it",),
                )
            )
    return rows


def _alarm_topic_rows(config: StackConfig, observed: Observed) -> list[ResourceStatus]:
    """--alarm-topic-arn: someone else's topic, never changed; only whether it exists."""
    spec = config.alarms
    if spec is None or not spec.topic_arn:
        return []
    if observed.alarm_topic is None:
        return [_missing("topic", spec.topic_arn)]
    return [ResourceStatus("topic", spec.topic_arn, True, False, "not ours: never changed")]


def _dashboard_rows(
    ctx: Context, config: StackConfig, observed: Observed, compare: bool
) -> list[ResourceStatus]:
    """Wanted (the default) or ours still there; drift when its body was edited."""
    found = observed.dashboard
    if config.dashboard is None:
        if found is None or not found.owned_by(config.stack):
            return []
        drift = ("--no-dashboard: `up` would delete it",)
        return [ResourceStatus("dashboard", found.name, True, True, "exists", drift)]
    if found is None:
        return [_missing("dashboard", config.dashboard.name)]
    ours = found.owned_by(config.stack)
    drift = stack_dashboard.drift(dashboard_body(ctx), found) if compare and ours else []
    # Not ours: the rows' common "not tagged for this stack" (its body has no marker).
    return [ResourceStatus("dashboard", found.name, True, ours, "exists", tuple(drift))]


def _consumer_rows(config: StackConfig, observed: Observed) -> list[ResourceStatus]:
    """The enhanced fan-out consumer: wanted (--enhanced-fan-out) or in use by the mapping."""
    found = observed.consumer
    if config.consumer is not None and (found is None or found.name != config.consumer.name):
        return [_missing("consumer", config.consumer.name)]
    if found is None:
        return []
    drift = () if config.consumer else ("enhanced fan-out is off: `up` would deregister it",)
    problems = () if found.status == stream_consumer.ACTIVE else (f"status {found.status}",)
    # Consumers take no tags: ours means our name and the source of our own mapping.
    ours = stream_consumer.ours(found, observed.mappings, config.stack, observed.function)
    return [ResourceStatus("consumer", found.name, True, ours, found.status, drift, problems)]


def _bucket_rows(config: StackConfig, observed: Observed) -> list[ResourceStatus]:
    """The failed-batches bucket (issue 11): wanted with --failure-destination s3, or kept."""
    found = observed.bucket
    if config.bucket is not None and found is None:
        return [_missing("bucket", observed.bucket_name)]
    if isinstance(found, bucket.ForeignBucket):
        problem = "not readable (403): another AWS account owns the name"
        return [ResourceStatus("bucket", found.name, True, False, "unknown", (), (problem,))]
    if found is None or (config.bucket is None and not owned(found.tags, config.stack)):
        return []
    ours = owned(found.tags, config.stack)
    drift = bucket.drift(config.bucket, found) if config.bucket is not None and ours else []
    state = f"{found.object_count} object(s)" + ("" if config.bucket else ", kept (sqs)")
    return [_present("bucket", found, config.stack, state, drift)]
