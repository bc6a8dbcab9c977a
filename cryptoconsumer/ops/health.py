"""Health for `status`: is data flowing, how far behind, what failed.

Adds to the existence/drift status the mapping's and function's states, the stack's metrics
over a window (per minute, one GetMetricData call: ops/metrics.py), the alarms' states (from
the stack read's one DescribeAlarms call: ops/alarm_states.py) and the dead-letter queue's
depth, each turned into a reason when it means "not healthy".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from cryptoconsumer.aws import Clients
from cryptoconsumer.config import StackConfig
from cryptoconsumer.ops.alarm_states import AlarmState, alarm_states
from cryptoconsumer.ops.durations import describe
from cryptoconsumer.ops.metrics import FunctionMetrics, read_metrics
from cryptoconsumer.resources.base import Context
from cryptoconsumer.resources.mapping import ObservedMapping
from cryptoconsumer.stack import UNREAD, Observed, Recorded
from cryptoconsumer.status import ResourceStatus, StackStatus, read_observed, status_of

__all__ = ["FunctionMetrics", "Thresholds", "read_health", "read_metrics"]

DEFAULT_WINDOW_SECONDS = 15 * 60
DEFAULT_MAX_ITERATOR_AGE_SECONDS = 60
# A mapping that has not polled yet, or polled an empty shard, is fine.
GOOD_PROCESSING_RESULTS = ("", "OK", "No records processed")


@dataclass(frozen=True)
class Thresholds:
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    max_iterator_age_seconds: int = DEFAULT_MAX_ITERATOR_AGE_SECONDS


def metric_reasons(metrics: FunctionMetrics, thresholds: Thresholds) -> dict[str, list[str]]:
    """Reasons, by the resource they are about, that the metrics say "not healthy"."""
    window = describe(metrics.window_seconds)
    reasons: dict[str, list[str]] = {"function": [], "mapping": []}
    if metrics.errors > 0:
        reasons["function"].append(f"{metrics.errors} error(s) in the last {window}")
    limit_ms = thresholds.max_iterator_age_seconds * 1000
    if metrics.max_iterator_age_ms is not None and metrics.max_iterator_age_ms > limit_ms:
        reasons["mapping"].append(
            f"iterator age {metrics.max_iterator_age_ms / 1000:.1f} s exceeds "
            f"{thresholds.max_iterator_age_seconds} s: the function is falling behind the stream"
        )
    for events in metrics.mappings:
        dropped = events.totals.get("dropped")
        if dropped:
            reasons["mapping"].append(
                f"{dropped} record(s) dropped in the last {window} (DroppedEventCount: past "
                "--max-record-age or --max-retries and not delivered to the dead-letter queue)"
            )
    return reasons


def alarm_reasons(alarms: tuple[AlarmState, ...]) -> tuple[str, ...]:
    return tuple(f"alarm {a.name} is in ALARM: {a.reason}" for a in alarms if a.firing)


def queue_reason(messages: int) -> str | None:
    if messages <= 0:
        return None
    return f"{messages} message(s) waiting: see `cryptoconsumer dlq list`"


def details(config: StackConfig, observed: Observed) -> dict[str, Any]:
    """The raw states `status` reports besides its table, for scripts."""
    ours = [m for m in observed.mappings if ":kinesis:" in m.source_arn]
    found = ours[0] if ours else None
    function = observed.function
    return {
        "mapping": None
        if found is None
        else {
            "uuid": found.uuid,
            "source_arn": found.source_arn,
            "state": found.state,
            "state_transition_reason": found.state_reason,
            "last_processing_result": found.last_processing_result,
        },
        "function": None
        if function is None
        else {
            "name": function.name,
            "state": function.state,
            "state_reason": function.state_reason or None,
            "state_reason_code": function.state_reason_code or None,
            "last_update_status": function.last_update_status,
            "last_update_status_reason": function.last_update_reason or None,
            "last_update_status_reason_code": function.last_update_reason_code or None,
        },
        "dead_letter_queue": None
        if observed.queue is None
        else {"name": observed.queue.name, "approximate_messages": observed.queue.messages},
    }


def with_health(
    status: StackStatus,
    config: StackConfig,
    observed: Observed,
    metrics: FunctionMetrics | None,
    thresholds: Thresholds,
    alarms: tuple[AlarmState, ...] = (),
) -> StackStatus:
    """The status with metric and queue reasons added to the rows they are about, and the
    alarms in ALARM as reasons of their own."""
    extra_reasons = metric_reasons(metrics, thresholds) if metrics else {}
    queue_messages = observed.queue.messages if observed.queue else 0
    waiting = queue_reason(queue_messages)
    if waiting:
        extra_reasons["queue"] = [waiting]
    rows: list[ResourceStatus] = []
    added: set[str] = set()
    for row in status.resources:
        more = extra_reasons.get(row.resource, []) if row.exists else []
        if more and row.resource not in added:
            row = replace(row, problems=(*row.problems, *more))
            added.add(row.resource)
        rows.append(row)
    healthy_status = replace(
        status,
        resources=tuple(rows),
        alarm_problems=(*status.alarm_problems, *alarm_reasons(alarms)),
    )
    extra = {
        **status.extra,
        "metrics": metrics.as_dict() if metrics else None,
        "alarms": [alarm.as_dict() for alarm in alarms],
        "max_iterator_age_seconds": thresholds.max_iterator_age_seconds,
        "health": details(config, observed),
        "reasons": healthy_status.problems,
    }
    return replace(healthy_status, extra=extra)


def _metric_mappings(mappings: tuple[ObservedMapping, ...]) -> tuple[str, ...]:
    """The UUIDs whose event counts `status` reads: the function's Kinesis mappings."""
    return tuple(m.uuid for m in mappings if ":kinesis:" in m.source_arn)


def read_health(
    config: StackConfig,
    clients: Clients,
    thresholds: Thresholds | None = None,
    ctx: Context | None = None,
    recorded: Recorded = UNREAD,
) -> StackStatus:
    """`status` with health, in the round trip of the resource reads: the alarms alongside
    them, and the metrics (one GetMetricData call) as soon as the mappings' UUIDs are known."""
    thresholds = thresholds or Thresholds()
    ctx = ctx or Context(clients=clients, config=config)
    queue_name = config.queue.name if config.queue else None

    def metrics_of(mappings: tuple[ObservedMapping, ...]) -> FunctionMetrics:
        return read_metrics(
            clients,
            config.function.name,
            thresholds.window_seconds,
            queue_name=queue_name,
            mapping_uuids=_metric_mappings(mappings),
        )

    config, observed = read_observed(ctx, config, recorded, after_mappings=metrics_of)
    alarms = alarm_states(observed.alarms, config.stack)
    metrics = observed.after_mappings
    status = status_of(ctx, config, observed)
    # A function that does not exist has no metrics worth reporting.
    return with_health(
        status, config, observed, metrics if observed.function else None, thresholds, alarms
    )
