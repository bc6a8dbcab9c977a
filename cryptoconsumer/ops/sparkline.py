"""A one-line chart of unicode blocks, computed in Decimal so no digit is lost on the way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

BLOCKS = "▁▂▃▄▅▆▇█"
DEFAULT_WIDTH = 60


def sparkline(values: Sequence[Decimal], width: int = DEFAULT_WIDTH) -> str:
    """One block per value, oldest first; with more values than `width`, one block per group
    of consecutive values, showing the group's last (closing) value."""
    if not values or width < 1:
        return ""
    if len(values) > width:
        values = [values[(column + 1) * len(values) // width - 1] for column in range(width)]
    low, high = min(values), max(values)
    if low == high:
        return BLOCKS[len(BLOCKS) // 2 - 1] * len(values)
    top = len(BLOCKS) - 1
    levels = (
        int(((value - low) * top / (high - low)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        for value in values
    )
    return "".join(BLOCKS[level] for level in levels)


@dataclass(frozen=True)
class Summary:
    count: int
    first: Decimal
    last: Decimal
    low: Decimal
    high: Decimal

    @property
    def change_percent(self) -> Decimal:
        return ((self.last - self.first) * 100 / self.first).quantize(Decimal("0.01"))


def summarise(values: Sequence[Decimal]) -> Summary | None:
    if not values:
        return None
    return Summary(len(values), values[0], values[-1], min(values), max(values))


def bars(values: Sequence[float | None]) -> str:
    """One block per value, scaled from 0 to the largest (monitoring counts and ages are never
    negative, and a quiet minute should look quiet): 0 is the lowest block, any value above
    0 at least the second, so one error in an hour shows; None (no data) is a space."""
    present = [value for value in values if value is not None]
    high = max(present, default=0.0)
    top = len(BLOCKS) - 1
    drawn = []
    for value in values:
        if value is None:
            drawn.append(" ")
        elif value <= 0 or high <= 0:
            drawn.append(BLOCKS[0])
        else:
            level = max(1, int(value * top / high + 0.5))
            drawn.append(BLOCKS[level])
    return "".join(drawn)
