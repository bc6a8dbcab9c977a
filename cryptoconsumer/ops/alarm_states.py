"""The stack's alarms as `status` shows them: state (OK / ALARM / INSUFFICIENT_DATA) and reason.

One DescribeAlarms call by the stack's name prefix, then only the stack's exact names: the
prefix `crypto-` also matches the alarms of a stack called `crypto-prod`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptoconsumer.aws import Clients, translated
from cryptoconsumer.config import ALARM_KINDS, alarm_name, alarm_prefix

ALARM = "ALARM"
# DescribeAlarms returns at most 100 alarms a page.
PAGE_SIZE = 100


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


def read_alarm_states(clients: Clients, stack: str) -> tuple[AlarmState, ...]:
    """This stack's alarms that exist, in ALARM_KINDS order."""
    wanted = {alarm_name(stack, kind): kind for kind in ALARM_KINDS}
    found: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {
        "AlarmNamePrefix": alarm_prefix(stack),
        "AlarmTypes": ["MetricAlarm"],
        "MaxRecords": PAGE_SIZE,
    }
    with translated(f"reading the alarms of stack {stack}"):
        while True:
            answer = clients.cloudwatch.describe_alarms(**params)
            for alarm in answer.get("MetricAlarms", []):
                if alarm["AlarmName"] in wanted:
                    found[alarm["AlarmName"]] = alarm
            token = answer.get("NextToken")
            # Another page only when other stacks' alarms under the prefix filled this one.
            if not token or len(found) == len(wanted):
                break
            params["NextToken"] = token
    return tuple(
        AlarmState(
            kind=kind,
            name=name,
            state=str(found[name].get("StateValue", "")),
            reason=str(found[name].get("StateReason", "")),
            updated=found[name].get("StateUpdatedTimestamp"),
        )
        for name, kind in wanted.items()
        if name in found
    )
