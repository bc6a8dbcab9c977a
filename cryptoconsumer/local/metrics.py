"""The CloudWatch metrics Lambda publishes for a Kinesis mapping, published by the local poller.

Function metrics (namespace `AWS/Lambda`, dimension `FunctionName`), one datapoint per
invocation as Lambda sends them: `Invocations`, `Errors`, `Duration` (ms), `IteratorAge` (ms);
and `DestinationDeliveryFailures` when an on-failure destination could not be written.

Event source mapping metrics, only for a mapping whose `MetricsConfig` holds `EventCount` (as
on AWS; namespace `AWS/Lambda`, dimension `EventSourceMappingUUID`, unit Count, Sum per
interval), with AWS's documented meaning:
- `PolledEventCount`: records read from the stream (0 for an interval with empty polls);
- `FilteredOutEventCount`: records that matched none of the mapping's filters (only with filters);
- `InvokedEventCount`: records sent to the function, retries counted again;
- `FailedInvokeEventCount`: records of invocations that failed (a function error, or a
  non-empty batchItemFailures);
- `DroppedEventCount`: records discarded for MaximumRecordAgeInSeconds or
  MaximumRetryAttempts that did not reach an on-failure destination;
- `OnFailureDestinationDeliveredEventCount`: records described to the on-failure destination.

Datapoints are queued and sent every `FLUSH_SECONDS` in PutMetricData calls of at most 1,000,
off the invocation path, each with the time it was measured.
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

NAMESPACE = "AWS/Lambda"
MAPPING_DIMENSION = "EventSourceMappingUUID"
FLUSH_SECONDS = 1.0
# PutMetricData takes at most 1,000 datums a call.
MAX_DATUMS_PER_PUT = 1000

EVENT_COUNTS = {
    "polled": "PolledEventCount",
    "filtered_out": "FilteredOutEventCount",
    "invoked": "InvokedEventCount",
    "failed_invoke": "FailedInvokeEventCount",
    "dropped": "DroppedEventCount",
    "on_failure_delivered": "OnFailureDestinationDeliveredEventCount",
}


class MetricsPublisher:
    """Collects datapoints and event counts, and publishes them in the background."""

    def __init__(
        self,
        cloudwatch: Callable[[str], Any],
        report: Callable[[str, str], None],
        clock: Callable[[], float],
    ) -> None:
        self._cloudwatch = cloudwatch
        self._report = report
        self._clock = clock
        self._lock = threading.Lock()
        self._datums: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # uuid -> (region, has filters, counts since the last flush)
        self._counts: dict[str, tuple[str, bool, dict[str, int]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="metrics")
        self._thread.start()

    def datapoint(
        self, region: str, name: str, dimensions: list[dict[str, str]], value: float, unit: str
    ) -> None:
        datum = {
            "MetricName": name,
            "Dimensions": dimensions,
            "Value": value,
            "Unit": unit,
            "Timestamp": datetime.fromtimestamp(self._clock(), tz=timezone.utc),
        }
        with self._lock:
            self._datums[region].append(datum)

    def track(self, uuid: str, region: str, filtered: bool) -> None:
        """Publish `uuid`'s event counts (MetricsConfig EventCount is on) from now on."""
        with self._lock:
            if uuid not in self._counts:
                self._counts[uuid] = (region, filtered, defaultdict(int))
            else:
                _, _, counts = self._counts[uuid]
                self._counts[uuid] = (region, filtered, counts)

    def untrack(self, uuid: str) -> None:
        with self._lock:
            self._counts.pop(uuid, None)

    def count(self, uuid: str, **events: int) -> None:
        with self._lock:
            tracked = self._counts.get(uuid)
            if tracked is not None:
                for name, number in events.items():
                    tracked[2][name] += number

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def _drain_counts(self) -> None:
        now = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        for uuid, (region, filtered, counts) in self._counts.items():
            dimensions = [{"Name": MAPPING_DIMENSION, "Value": uuid}]
            for key, name in EVENT_COUNTS.items():
                number = counts.pop(key, 0)
                # Lambda sends 0 for an empty poll, and 0 filtered out for a matching record.
                if number or key == "polled" or (key == "filtered_out" and filtered):
                    self._datums[region].append(
                        {
                            "MetricName": name,
                            "Dimensions": dimensions,
                            "Value": float(number),
                            "Unit": "Count",
                            "Timestamp": now,
                        }
                    )

    def flush(self) -> None:
        with self._lock:
            self._drain_counts()
            batches, self._datums = self._datums, defaultdict(list)
        for region, datums in batches.items():
            for start in range(0, len(datums), MAX_DATUMS_PER_PUT):
                try:
                    self._cloudwatch(region).put_metric_data(
                        Namespace=NAMESPACE, MetricData=datums[start : start + MAX_DATUMS_PER_PUT]
                    )
                except Exception as err:
                    self._report(f"metrics/{region}", f"cannot publish metrics in {region}: {err}")

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(RuntimeError):
            self._thread.join(timeout=5)
        self.flush()
