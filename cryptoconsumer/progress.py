"""How long-running work reports itself; the CLI renders it on stderr, tests collect it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Protocol


class Reporter(Protocol):
    def info(self, message: str) -> None: ...

    def waiting(self, message: str) -> contextlib.AbstractContextManager[None]: ...


class NullReporter:
    def info(self, message: str) -> None:
        pass

    @contextlib.contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        yield


class RecordingReporter:
    """Keeps every message; thread-safe, since independent steps run concurrently."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._lock = threading.Lock()

    def info(self, message: str) -> None:
        with self._lock:
            self.messages.append(message)

    @contextlib.contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        self.info(message)
        yield
