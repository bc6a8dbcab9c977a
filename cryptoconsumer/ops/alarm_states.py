"""The stack's alarms as `status` shows them: state (OK / ALARM / INSUFFICIENT_DATA) and reason.

Read with the rest of the stack, in its one DescribeAlarms call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptoconsumer.config import ALARM_KINDS, alarm_name
from cryptoconsumer.resources.alarms import ObservedAlarm

ALARM = "ALARM"


@dataclass(frozen=True)
class AlarmState:
    kind: str
    name: str
    state: str
    reason: str
    updated: datetime | None

    @property
    def firing(self) -> bool:
        return self.state == ALARM

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "state": self.state,
            "reason": self.reason,
            "updated": self.updated.isoformat() if self.updated else None,
        }


def alarm_states(alarms: Sequence[ObservedAlarm], stack: str) -> tuple[AlarmState, ...]:
    """This stack's alarms that exist, in ALARM_KINDS order, from the stack's one
    DescribeAlarms read (resources/alarms.read_all, which keeps only this stack's exact names:
    the prefix `crypto-` also matches the alarms of a stack called `crypto-prod`)."""
    found = {alarm.name: alarm for alarm in alarms}
    return tuple(
        AlarmState(
            kind=kind,
            name=name,
            state=found[name].state,
            reason=found[name].reason,
            updated=found[name].updated,
        )
        for kind in ALARM_KINDS
        if (name := alarm_name(stack, kind)) in found
    )
