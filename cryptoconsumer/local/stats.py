"""The poller's running totals, shared by the poller and its shard readers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class PollerStats:
    """Running totals, for `local start`'s summary and for tests."""

    invocations: int = 0
    failed_invocations: int = 0
    delivered_records: int = 0
    discarded_records: int = 0
    on_failure_messages: int = 0
    filtered_out_records: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)

    def summary(self) -> str:
        return (
            f"{self.invocations} invocation(s), {self.failed_invocations} failed; "
            f"{self.delivered_records} record(s) delivered, {self.discarded_records} discarded"
        )
