"""What the I/O modules share: the log, the invocation's deadline, and the backoff policy."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# One logger for the whole function, named after the entry point (LOG_LEVEL sets its level).
logger = logging.getLogger("data_consumer_lambda")

DEFAULT_BUDGET_MS = 20_000  # used when there is no Lambda context (local runs, tests)
MAX_SAFETY_MARGIN_MS = 2_000
MIN_SAFETY_MARGIN_MS = 250
SAFETY_MARGIN_FRACTION = 0.10


def log_json(level: int, message: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        # ensure_ascii (the default): text from records is escaped, never raw control bytes.
        logger.log(level, json.dumps({"message": message, **fields}, default=str))


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment (time.monotonic) after which no new AWS call is started."""

    expires_at: float

    @classmethod
    def for_invocation(cls, context: Any, now: float) -> Deadline:
        remaining_ms = (
            DEFAULT_BUDGET_MS if context is None else context.get_remaining_time_in_millis()
        )
        # The margin lets in-flight calls finish and the response reach Lambda before timeout.
        margin_ms = min(
            MAX_SAFETY_MARGIN_MS,
            max(MIN_SAFETY_MARGIN_MS, remaining_ms * SAFETY_MARGIN_FRACTION),
        )
        return cls(now + (remaining_ms - margin_ms) / 1000)

    def remaining_seconds(self) -> float:
        return self.expires_at - time.monotonic()

    def allows(self, seconds: float = 0.0) -> bool:
        return self.remaining_seconds() > seconds


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    base_seconds: float
    cap_seconds: float
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float, float], float] = random.uniform

    def delay(self, attempt: int) -> float:
        return self.jitter(0, min(self.cap_seconds, self.base_seconds * 2**attempt))
