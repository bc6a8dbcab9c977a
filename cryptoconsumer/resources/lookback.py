"""Where a replacement mapping starts so that it misses nothing the old one had not processed.

A mapping's checkpoints cannot be moved to another mapping. The new one starts AT_TIMESTAMP
far enough back to cover what the old one may still be behind by: now, minus the old
function's largest IteratorAge over the last 15 minutes (Lambda's own metric: how old the
newest record of each batch was when the function got it), minus a margin for the batch in
flight and the metric's own delay. The overlap is delivered twice; the function's writes are
idempotent puts, so it costs only work.

CloudWatch may not have the last minute yet, and a function that received nothing publishes
no IteratorAge at all: with no datapoint the start is the whole window back, never "now".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptoconsumer.aws import Clients, translated

WINDOW_SECONDS = 15 * 60
MARGIN_SECONDS = 60


@dataclass(frozen=True)
class LookBack:
    """The replacement's StartingPositionTimestamp and why."""

    timestamp: datetime
    max_iterator_age_ms: float | None
    margin_seconds: int = MARGIN_SECONDS
    window_seconds: int = WINDOW_SECONDS

    @property
    def seconds_back(self) -> float:
        age = (
            self.max_iterator_age_ms / 1000
            if self.max_iterator_age_ms is not None
            else self.window_seconds
        )
        return age + self.margin_seconds

    def reason(self) -> str:
        if self.max_iterator_age_ms is None:
            seen = f"no IteratorAge datapoint in the last {self.window_seconds // 60} min"
            basis = f"the whole {self.window_seconds // 60} min"
        else:
            seen = (
                f"the old mapping was at most {self.max_iterator_age_ms / 1000:.1f} s behind "
                f"in the last {self.window_seconds // 60} min"
            )
            basis = "that"
        return (
            f"starts AT_TIMESTAMP {self.timestamp.strftime('%Y-%m-%dT%H:%M:%SZ')} "
            f"({self.seconds_back:.0f} s back): {seen}; {basis} plus a {self.margin_seconds} s "
            "margin is read again (writes are idempotent, so the overlap costs only work)"
        )


def max_iterator_age_ms(
    clients: Clients, function_name: str, now: datetime, window_seconds: int = WINDOW_SECONDS
) -> float | None:
    """The function's largest IteratorAge over the window, or None without a datapoint."""
    start = now - timedelta(seconds=window_seconds)
    query = {
        "Id": "iterator_age",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Lambda",
                "MetricName": "IteratorAge",
                "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
            },
            "Period": 60,
            "Stat": "Maximum",
        },
        "ReturnData": True,
    }
    with translated(f"reading the IteratorAge of function {function_name}"):
        # The end is past now so that the minute in progress counts too.
        answer = clients.cloudwatch.get_metric_data(
            MetricDataQueries=[query], StartTime=start, EndTime=now + timedelta(minutes=1)
        )
    values = [v for result in answer["MetricDataResults"] for v in result.get("Values", [])]
    return max(values) if values else None


def look_back(
    clients: Clients,
    function_name: str,
    now: datetime | None = None,
    margin_seconds: int = MARGIN_SECONDS,
) -> LookBack:
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    age = max_iterator_age_ms(clients, function_name, now)
    back = (age / 1000 if age is not None else WINDOW_SECONDS) + margin_seconds
    # Whole seconds: StartingPositionTimestamp is read back at that precision.
    start = (now - timedelta(seconds=back)).replace(microsecond=0)
    return LookBack(start, age, margin_seconds)
