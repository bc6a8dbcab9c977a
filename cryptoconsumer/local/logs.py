"""Ships what the function prints to the emulator's CloudWatch Logs, as Lambda does.

Each worker (execution environment) writes to its own stream in `/aws/lambda/FUNCTION`, so
`cryptoconsumer logs` works against the emulator too. Lines are batched and put every
`FLUSH_SECONDS`; a failed put is dropped (logs are best effort, never worth a stuck poller).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptoconsumer.aws import Clients

FLUSH_SECONDS = 0.5
# PutLogEvents takes at most 10,000 events a call.
MAX_EVENTS_PER_PUT = 10_000


class LogShipper:
    def __init__(self, clients: Callable[[str], Clients]) -> None:
        self._clients_for = clients
        self._pending: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._known_streams: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="log-shipper")
        self._thread.start()

    def write(self, region: str, group: str, stream: str, line: str) -> None:
        event = {"timestamp": int(time.time() * 1000), "message": line.rstrip("\n")}
        with self._lock:
            self._pending[(region, group, stream)].append(event)

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batches, self._pending = self._pending, defaultdict(list)
        for (region, group, stream), events in batches.items():
            with contextlib.suppress(Exception):
                self._put(self._clients_for(region).logs, group, stream, events)

    def _put(self, client: Any, group: str, stream: str, events: list[dict[str, Any]]) -> None:
        if (group, stream) not in self._known_streams:
            # Lambda creates its log group on first use when `up` has not.
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                client.create_log_group(logGroupName=group)
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                client.create_log_stream(logGroupName=group, logStreamName=stream)
            self._known_streams.add((group, stream))
        for start in range(0, len(events), MAX_EVENTS_PER_PUT):
            client.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=events[start : start + MAX_EVENTS_PER_PUT],
            )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()
