"""Durations as people type them in runbooks: 900, 900s, 15m, 1h, 2d."""

from __future__ import annotations

import re

from cryptoconsumer.errors import InputError

# ASCII digits only (no "１５m"), and few enough that int() is cheap and exact.
DURATION = re.compile(r"\s*(?P<amount>[0-9]{1,9})\s*(?P<unit>[smhd]?)\s*", re.IGNORECASE | re.ASCII)
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, option: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Seconds from '15m', '1h', '900s' or a bare number of seconds; InputError (exit 2) if not."""
    match = DURATION.fullmatch(str(text))
    if not match:
        shown = repr(text) if len(str(text)) <= 40 else repr(str(text)[:40]) + "..."
        raise InputError(f"{option} {shown} is not a duration (e.g. 900s, 15m, 1h, 2d)")
    seconds = int(match["amount"]) * UNIT_SECONDS[match["unit"].lower()]
    if seconds < minimum or (maximum is not None and seconds > maximum):
        upper = f" and at most {describe(maximum)}" if maximum is not None else ""
        raise InputError(f"{option} {text!r} must be at least {describe(minimum)}{upper}")
    return seconds


def describe(seconds: int) -> str:
    """The largest whole unit: 900 -> '15m', 3600 -> '1h', 90 -> '90s'."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
