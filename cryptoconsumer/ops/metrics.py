"""The metrics `status` shows: one GetMetricData call, per-minute series over the window.

Function metrics (namespace `AWS/Lambda`, dimension `FunctionName`), the dead-letter queue's
depth (`AWS/SQS`, `QueueName`) and the event source mapping's event counts (`AWS/Lambda`,
dimension `EventSourceMappingUUID`, published when the mapping's `MetricsConfig` holds
`EventCount`), all queries in one request.

Lambda sends no datapoint for a minute without invocations, so a missing minute of a count is
0; a missing minute of a gauge (iterator age, queue depth) is "no data" (None).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptoconsumer.aws import Clients, translated

PERIOD_SECONDS = 60
# GetMetricData returns at most 100,800 datapoints a call (then pages): longer windows get
# longer periods, so the whole window always comes in one call.
MAX_DATAPOINTS = 100_800


@dataclass(frozen=True)
class Query:
    key: str
    namespace: str
    metric: str
    dimension: str
    value: str
    stat: str  # "Sum" (a count: a missing period is 0) or "Maximum" (a gauge: None)

    @property
    def counts(self) -> bool:
        return self.stat == "Sum"


FUNCTION_METRICS = (
    ("invocations", "Invocations", "Sum"),
    ("errors", "Errors", "Sum"),
    ("throttles", "Throttles", "Sum"),
    ("iterator_age", "IteratorAge", "Maximum"),
)
# The event counts Lambda publishes for a Kinesis mapping with MetricsConfig EventCount
# (AWS's table: DeletedEventCount is for SQS only, CommittedEventCount for Kafka only).
MAPPING_METRICS = (
    ("polled", "PolledEventCount"),
    ("filtered_out", "FilteredOutEventCount"),
    ("invoked", "InvokedEventCount"),
    ("failed_invoke", "FailedInvokeEventCount"),
    ("dropped", "DroppedEventCount"),
    ("on_failure_delivered", "OnFailureDestinationDeliveredEventCount"),
)
MAPPING_DIMENSION = "EventSourceMappingUUID"
DEAD_LETTERS = "dead_letters"


def queries(
    function_name: str, queue_name: str | None, mapping_uuids: tuple[str, ...] = ()
) -> list[Query]:
    found = [
        Query(key, "AWS/Lambda", metric, "FunctionName", function_name, stat)
        for key, metric, stat in FUNCTION_METRICS
    ]
    if queue_name:
        found.append(
            Query(
                DEAD_LETTERS,
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                "QueueName",
                queue_name,
                "Maximum",
            )
        )
    for index, uuid in enumerate(mapping_uuids):
        found += [
            Query(f"m{index}_{key}", "AWS/Lambda", metric, MAPPING_DIMENSION, uuid, "Sum")
            for key, metric in MAPPING_METRICS
        ]
    return found


def period_for(window_seconds: int, query_count: int) -> int:
    """60 s, unless the window's points for every query would not fit in one answer."""
    points = window_seconds / PERIOD_SECONDS * max(1, query_count)
    return PERIOD_SECONDS * max(1, math.ceil(points / MAX_DATAPOINTS))


@dataclass(frozen=True)
class Series:
    """One value per period on the window's grid, oldest first."""

    key: str
    counts: bool
    timestamps: tuple[datetime, ...]
    values: tuple[float | None, ...]

    @property
    def present(self) -> list[float]:
        return [value for value in self.values if value is not None]

    @property
    def total(self) -> float:
        return sum(self.present)

    @property
    def maximum(self) -> float | None:
        return max(self.present) if self.present else None

    @property
    def minimum(self) -> float | None:
        return min(self.present) if self.present else None

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "timestamps": [t.isoformat().replace("+00:00", "Z") for t in self.timestamps],
            "values": list(self.values),
        }


@dataclass(frozen=True)
class MappingEvents:
    """One mapping's event counts over the window; None: no datapoint at all (MetricsConfig
    off, or nothing polled yet)."""

    uuid: str
    totals: dict[str, int | None]
    series: dict[str, Series] = field(default_factory=dict)

    @property
    def published(self) -> bool:
        return any(total is not None for total in self.totals.values())


@dataclass(frozen=True)
class FunctionMetrics:
    """The stack's metrics over one window: totals, and per-period series."""

    window_seconds: int
    invocations: int
    errors: int
    throttles: int
    max_iterator_age_ms: float | None
    period_seconds: int = PERIOD_SECONDS
    series: dict[str, Series] = field(default_factory=dict)
    mappings: tuple[MappingEvents, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_seconds": self.window_seconds,
            "invocations": self.invocations,
            "errors": self.errors,
            "throttles": self.throttles,
            "max_iterator_age_ms": self.max_iterator_age_ms,
            "period_seconds": self.period_seconds,
            "series": {key: series.as_dict() for key, series in self.series.items()},
            "mappings": [
                {
                    "uuid": events.uuid,
                    "events": dict(events.totals),
                    "series": {key: s.as_dict() for key, s in events.series.items()},
                }
                for events in self.mappings
            ],
        }


def window_bounds(window_seconds: int, period: int, now: datetime) -> tuple[datetime, datetime]:
    """The window ends at the end of the current period, so the last point is "now"."""
    epoch = int(now.timestamp())
    end = datetime.fromtimestamp(epoch - epoch % period + period, tz=timezone.utc)
    return end - timedelta(seconds=window_seconds), end


def _grid(start: datetime, end: datetime, period: int) -> tuple[datetime, ...]:
    steps = int((end - start).total_seconds()) // period
    return tuple(start + timedelta(seconds=period * step) for step in range(steps))


def _series(
    query: Query, result: dict[str, Any] | None, grid: tuple[datetime, ...], key: str
) -> Series:
    by_time: dict[datetime, float] = {}
    if result is not None:
        for stamp, value in zip(
            result.get("Timestamps", []), result.get("Values", []), strict=False
        ):
            when = stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
            when = when.astimezone(timezone.utc)
            # A count adds what falls in the same period; a gauge keeps the largest.
            if when in by_time:
                by_time[when] = by_time[when] + value if query.counts else max(by_time[when], value)
            else:
                by_time[when] = float(value)
    missing = 0.0 if query.counts else None
    values = tuple(by_time.get(when, missing) for when in grid)
    return Series(key, query.counts, grid, values)


def read_metrics(
    clients: Clients,
    function_name: str,
    window_seconds: int,
    now: datetime | None = None,
    *,
    queue_name: str | None = None,
    mapping_uuids: tuple[str, ...] = (),
) -> FunctionMetrics:
    """Every query in one GetMetricData call, per minute (longer periods only for windows
    too long for one answer)."""
    wanted = queries(function_name, queue_name, mapping_uuids)
    period = period_for(window_seconds, len(wanted))
    start, end = window_bounds(window_seconds, period, now or datetime.now(timezone.utc))
    request = [
        {
            "Id": query.key,
            "MetricStat": {
                "Metric": {
                    "Namespace": query.namespace,
                    "MetricName": query.metric,
                    "Dimensions": [{"Name": query.dimension, "Value": query.value}],
                },
                "Period": period,
                "Stat": query.stat,
            },
            "ReturnData": True,
        }
        for query in wanted
    ]
    with translated(f"reading CloudWatch metrics of function {function_name}"):
        answer = clients.cloudwatch.get_metric_data(
            MetricDataQueries=request,
            StartTime=start,
            EndTime=end,
            ScanBy="TimestampAscending",
        )
    results = {result["Id"]: result for result in answer.get("MetricDataResults", [])}
    grid = _grid(start, end, period)
    series = {
        query.key: _series(query, results.get(query.key), grid, query.key)
        for query in wanted
        if query.dimension != MAPPING_DIMENSION
    }
    mappings = []
    for index, uuid in enumerate(mapping_uuids):
        events: dict[str, Series] = {}
        totals: dict[str, int | None] = {}
        for key, _metric in MAPPING_METRICS:
            query_key = f"m{index}_{key}"
            query = next(q for q in wanted if q.key == query_key)
            found = results.get(query_key)
            events[key] = _series(query, found, grid, key)
            has_data = bool(found and found.get("Values"))
            totals[key] = round(events[key].total) if has_data else None
        mappings.append(MappingEvents(uuid, totals, events))
    age = series["iterator_age"].maximum
    return FunctionMetrics(
        window_seconds=window_seconds,
        invocations=round(series["invocations"].total),
        errors=round(series["errors"].total),
        throttles=round(series["throttles"].total),
        max_iterator_age_ms=age,
        period_seconds=period,
        series=series,
        mappings=tuple(mappings),
    )
