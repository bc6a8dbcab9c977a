"""`status`: what exists, whether it is ours, its state, and its drift from what `up` would set."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cryptoconsumer.aws import Clients
from cryptoconsumer.config import StackConfig, parse_stream_arn
from cryptoconsumer.resources import consumer as stream_consumer
from cryptoconsumer.resources import function, log_group, mapping, queue, role, table
from cryptoconsumer.resources.base import Context, owned
from cryptoconsumer.stack import (
    Observed,
    consumer_arn,
    desired,
    desired_function,
    desired_mapping,
    read,
    read_stream,
    resolve_account,
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

    @property
    def deployed(self) -> bool:
        return all(r.exists for r in self.resources)

    @property
    def drifted(self) -> bool:
        return any(r.drift for r in self.resources)

    @property
    def problems(self) -> list[str]:
        return [f"{r.resource} {r.name}: {p}" for r in self.resources for p in r.problems]

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


def read_observed(ctx: Context, config: StackConfig) -> tuple[StackConfig, Observed]:
    """Everything that exists; without --stream-arn, the stream is the mapping's source."""
    observed = read(ctx, with_stream=True)
    if config.stream is None:
        sources = [m.source_arn for m in observed.mappings if ":kinesis:" in m.source_arn]
        if sources:
            stream = parse_stream_arn(sources[0].split("/consumer/")[0])
            config = replace(config, stream=stream)
            ctx.config = config
            observed = replace(observed, stream=read_stream(ctx.clients, stream.arn))
    return config, observed


def status_of(ctx: Context, config: StackConfig, observed: Observed) -> StackStatus:
    return StackStatus(config.stack, ctx.clients.region, tuple(_rows(ctx, config, observed)))


def _missing(resource: str, name: str) -> ResourceStatus:
    return ResourceStatus(resource, name, False, False, "missing", (), ("does not exist",))


def _rows(ctx: Context, config: StackConfig, observed: Observed) -> list[ResourceStatus]:
    stack = config.stack
    rows: list[ResourceStatus] = []
    want = None
    if config.stream is not None and (observed.arns() or observed.mappings):
        resolve_account(ctx, observed)
        want = desired(ctx, observed)

    t = observed.table
    if t is None:
        rows.append(_missing("table", config.table.name))
    else:
        problems = () if t.status == "ACTIVE" else (f"status {t.status}",)
        rows.append(
            ResourceStatus(
                "table",
                t.name,
                True,
                owned(t.tags, stack),
                t.status,
                tuple(table.drift(config.table, t)),
                problems,
            )
        )
    if config.queue:
        q = observed.queue
        if q is None:
            rows.append(_missing("queue", config.queue.name))
        else:
            rows.append(
                ResourceStatus(
                    "queue",
                    q.name,
                    True,
                    owned(q.tags, stack),
                    f"{q.messages} message(s)",
                    tuple(queue.drift(config.queue, q)),
                )
            )
    g = observed.log_group
    if g is None:
        rows.append(_missing("log_group", config.log_group.name))
    else:
        rows.append(
            ResourceStatus(
                "log_group",
                g.name,
                True,
                owned(g.tags, stack),
                "exists",
                tuple(log_group.drift(config.log_group, g)),
            )
        )
    r = observed.role
    if r is None:
        rows.append(_missing("role", config.role.name))
    else:
        drift = tuple(role.drift(ctx, config.role, want.grants, r)) if want else ()
        rows.append(ResourceStatus("role", r.name, True, owned(r.tags, stack), "exists", drift))
    f = observed.function
    if f is None:
        rows.append(_missing("function", config.function.name))
    else:
        drift = ()
        if want:
            queue_url = observed.queue.url if observed.queue else None
            drift = tuple(
                function.drift(desired_function(config, want, queue_url, want.role_arn), f)
            )
        problems = []
        if f.state != "Active":
            problems.append(f"state {f.state} {f.state_reason}".strip())
        if f.last_update_status == "Failed":
            problems.append(f"last update failed: {f.state_reason}")
        rows.append(
            ResourceStatus(
                "function",
                f.name,
                True,
                owned(f.tags, stack),
                f"{f.state}/{f.last_update_status}",
                drift,
                tuple(problems),
            )
        )
    rows += _consumer_rows(config, observed)
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
        drift = ()
        if want:
            wanted = desired_mapping(config, want, consumer_arn(config, observed))
            drift = tuple(mapping.drift(wanted, m) + mapping.replacement_reasons(wanted, m))
        problems = [] if m.state == "Enabled" else [f"state {m.state} {m.state_reason}".strip()]
        if m.last_processing_result and m.last_processing_result not in (
            "OK",
            "No records processed",
        ):
            problems.append(f"last processing result: {m.last_processing_result}")
        rows.append(
            ResourceStatus(
                "mapping", m.uuid, True, owned(m.tags, stack), m.state, drift, tuple(problems)
            )
        )
    return [
        row
        if row.owned or not row.exists
        else replace(row, problems=(*row.problems, "not tagged for this stack"))
        for row in rows
    ]


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
    ours = stream_consumer.ours(found, observed.mappings, config.stack)
    return [ResourceStatus("consumer", found.name, True, ours, found.status, drift, problems)]
