"""An event source mapping's settings as the poller uses them, with Lambda's defaults applied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

FOREVER = -1


@dataclass(frozen=True)
class MappingConfig:
    uuid: str
    function_arn: str
    stream_arn: str
    state: str
    batch_size: int
    starting_position: str
    starting_timestamp: datetime | None
    batching_window: float
    bisect_on_error: bool
    max_retries: int
    max_record_age: int
    report_item_failures: bool
    on_failure_arn: str | None
    source_arn: str = ""
    parallelization_factor: int = 1
    filter_patterns: tuple[str, ...] = ()
    metrics_enabled: bool = False

    @classmethod
    def from_api(cls, mapping: dict[str, Any]) -> MappingConfig:
        # An absent setting means Lambda's default: batch 100, no window, no bisect, and
        # retries and record age of -1 (forever).
        on_failure = (mapping.get("DestinationConfig") or {}).get("OnFailure") or {}
        retries = mapping.get("MaximumRetryAttempts")
        age = mapping.get("MaximumRecordAgeInSeconds")
        return cls(
            uuid=mapping["UUID"],
            function_arn=mapping["FunctionArn"],
            # An enhanced fan-out mapping names a stream consumer (STREAM/consumer/NAME:TIME);
            # the poller reads the stream itself either way.
            stream_arn=mapping["EventSourceArn"].split("/consumer/", 1)[0],
            state=mapping.get("State", "Enabled"),
            batch_size=int(mapping.get("BatchSize") or 100),
            starting_position=mapping.get("StartingPosition") or "LATEST",
            starting_timestamp=mapping.get("StartingPositionTimestamp"),
            batching_window=float(mapping.get("MaximumBatchingWindowInSeconds") or 0),
            bisect_on_error=bool(mapping.get("BisectBatchOnFunctionError")),
            max_retries=FOREVER if retries is None else int(retries),
            max_record_age=FOREVER if age is None else int(age),
            report_item_failures="ReportBatchItemFailures"
            in (mapping.get("FunctionResponseTypes") or []),
            on_failure_arn=on_failure.get("Destination") or None,
            source_arn=mapping["EventSourceArn"],
            parallelization_factor=max(1, int(mapping.get("ParallelizationFactor") or 1)),
            filter_patterns=tuple(
                str(f.get("Pattern", ""))
                for f in (mapping.get("FilterCriteria") or {}).get("Filters") or []
            ),
            metrics_enabled="EventCount"
            in ((mapping.get("MetricsConfig") or {}).get("Metrics") or []),
        )

    @property
    def filter_criteria(self) -> dict[str, Any] | None:
        if not self.filter_patterns:
            return None
        return {"Filters": [{"Pattern": pattern} for pattern in self.filter_patterns]}

    @property
    def is_kinesis(self) -> bool:
        return self.stream_arn.split(":")[2:3] == ["kinesis"]

    @property
    def region(self) -> str:
        return self.function_arn.split(":")[3]

    @property
    def enabled(self) -> bool:
        return self.state == "Enabled"

    def retries_left(self, retries_done: int) -> bool:
        return self.max_retries == FOREVER or retries_done < self.max_retries

    def expired(self, arrival: float, now: float) -> bool:
        return self.max_record_age != FOREVER and now - arrival > self.max_record_age
