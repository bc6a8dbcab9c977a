"""Health for `status`: is data flowing, how far behind, what failed.

Adds to the existence/drift status the mapping's and function's states, the function's
CloudWatch metrics over a window (one GetMetricData call) and the dead-letter queue's depth,
each turned into a reason when it means "not healthy".
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptoconsumer.aws import Clients, translated
from cryptoconsumer.config import StackConfig
from cryptoconsumer.ops.durations import describe
from cryptoconsumer.resources.base import Context
from cryptoconsumer.stack import UNREAD, Observed, Recorded
from cryptoconsumer.status import ResourceStatus, StackStatus, read_observed, status_of

DEFAULT_WINDOW_SECONDS = 15 * 60
DEFAULT_MAX_ITERATOR_AGE_SECONDS = 60
# A mapping that has not polled yet, or polled an empty shard, is fine.
GOOD_PROCESSING_RESULTS = ("", "OK", "No records processed")
# (query id, metric name, statistic); one GetMetricData call fetches all four.
METRIC_QUERIES = (
    ("invocations", "Invocations", "Sum"),
    ("errors", "Errors", "Sum"),
    ("throttles", "Throttles", "Sum"),
    ("iterator_age", "IteratorAge", "Maximum"),
)


@dataclass(frozen=True)
class Thresholds:
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    max_iterator_age_seconds: int = DEFAULT_MAX_ITERATOR_AGE_SECONDS


@dataclass(frozen=True)
class FunctionMetrics:
    """The function's CloudWatch metrics over one window; IteratorAge None when no data."""

    window_seconds: int
    invocations: int
    errors: int
    throttles: int
    max_iterator_age_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_seconds": self.window_seconds,
            "invocations": self.invocations,
            "errors": self.errors,
            "throttles": self.throttles,
            "max_iterator_age_ms": self.max_iterator_age_ms,
        }


def read_metrics(
    clients: Clients, function_name: str, window_seconds: int, now: datetime | None = None
) -> FunctionMetrics:
    """Sum/Sum/Sum/Maximum over the window, Period = window, dimension FunctionName."""
    end = now or datetime.now(timezone.utc)
    start = end - timedelta(seconds=window_seconds)
    queries = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
                },
                "Period": window_seconds,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for query_id, metric, stat in METRIC_QUERIES
    ]
    with translated(f"reading CloudWatch metrics of function {function_name}"):
        answer = clients.cloudwatch.get_metric_data(
            MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampDescending"
        )
    values = {
        result["Id"]: list(result.get("Values", [])) for result in answer["MetricDataResults"]
    }
    # The window rarely aligns with CloudWatch's period boundaries, so it may span two
    # datapoints: add the sums, take the largest maximum.
    ages = values.get("iterator_age", [])
    return FunctionMetrics(
        window_seconds=window_seconds,
        invocations=round(sum(values.get("invocations", []))),
        errors=round(sum(values.get("errors", []))),
        throttles=round(sum(values.get("throttles", []))),
        max_iterator_age_ms=max(ages) if ages else None,
    )


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
    return reasons


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
) -> StackStatus:
    """The status with metric and queue reasons added to the rows they are about."""
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
    healthy_status = replace(status, resources=tuple(rows))
    extra = {
        **status.extra,
        "metrics": metrics.as_dict() if metrics else None,
        "max_iterator_age_seconds": thresholds.max_iterator_age_seconds,
        "health": details(config, observed),
        "reasons": healthy_status.problems,
    }
    return replace(healthy_status, extra=extra)


def read_health(
    config: StackConfig,
    clients: Clients,
    thresholds: Thresholds | None = None,
    ctx: Context | None = None,
    recorded: Recorded = UNREAD,
) -> StackStatus:
    """`status` with health: the resources and the metrics are read at the same time."""
    thresholds = thresholds or Thresholds()
    ctx = ctx or Context(clients=clients, config=config)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        metrics_future = pool.submit(
            read_metrics, clients, config.function.name, thresholds.window_seconds
        )
        config, observed = read_observed(ctx, config, recorded)
        metrics = metrics_future.result()
    status = status_of(ctx, config, observed)
    # A function that does not exist has no metrics worth reporting.
    return with_health(status, config, observed, metrics if observed.function else None, thresholds)
