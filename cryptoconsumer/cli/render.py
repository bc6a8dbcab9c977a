"""Rendering: pure functions from plans and statuses to JSON documents and rich tables.

The plan's text is in `plan_text`. Text output shows every value from AWS through `inert`;
JSON documents hold the values exactly as they came.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from cryptoconsumer.cli import plan_text
from cryptoconsumer.cli.inert import inert

if TYPE_CHECKING:
    from cryptoconsumer.plan import Plan
    from cryptoconsumer.status import StackStatus

OUTPUT_KEYS = plan_text.OUTPUT_KEYS


def plan_document(plan: Plan, dry_run: bool, outputs: dict[str, Any] | None = None) -> dict:
    values = outputs if outputs is not None else plan.outputs
    return {
        "stack": plan.stack,
        "region": plan.region,
        "dry_run": dry_run,
        "changes": [
            {
                "resource": change.resource,
                "name": change.name,
                "action": change.action,
                "details": list(change.details),
            }
            for change in plan.changes
        ],
        "outputs": {key: values.get(key) for key in OUTPUT_KEYS},
        "settings": settings_document(plan.settings),
    }


def settings_document(settings: Any) -> list[dict[str, Any]]:
    return [
        {
            "option": s.option,
            "value": list(s.value) if isinstance(s.value, tuple) else s.value,
            "origin": s.origin,
        }
        for s in settings
    ]


def status_document(status: StackStatus) -> dict:
    return {
        "stack": status.stack,
        "region": status.region,
        "deployed": status.deployed,
        "healthy": status.healthy,
        "problems": status.problems,
        "resources": [
            {
                "resource": row.resource,
                "name": row.name,
                "exists": row.exists,
                "owned": row.owned,
                "state": row.state,
                "drift": list(row.drift),
            }
            for row in status.resources
        ],
        **status.extra,
    }


def status_table(status: StackStatus) -> Table:
    table = Table(
        title=f"stack {inert(status.stack)} in {inert(status.region)}", title_justify="left"
    )
    table.add_column("resource")
    table.add_column("name", overflow="fold")
    table.add_column("exists")
    table.add_column("owned")
    table.add_column("state", overflow="fold")
    table.add_column("drift", overflow="fold")
    for row in status.resources:
        style = None if row.exists and not row.drift and not row.problems else "yellow"
        table.add_row(
            row.resource,
            inert(row.name),
            "yes" if row.exists else "no",
            "yes" if row.owned else "no",
            inert(row.state),
            "\n".join(inert(drift) for drift in row.drift) or "-",
            style=style,
        )
    return table


def status_metrics_line(status: StackStatus) -> str | None:
    """The health metrics `status` read, as one line; None when it read none."""
    metrics = status.extra.get("metrics")
    if not isinstance(metrics, dict):
        return None
    from cryptoconsumer.ops.durations import describe

    age = metrics.get("max_iterator_age_ms")
    age_text = "no data" if age is None else f"{age / 1000:.1f} s"
    return (
        f"last {describe(int(metrics['window_seconds']))}: {metrics['invocations']} invocation(s), "
        f"{metrics['errors']} error(s), {metrics['throttles']} throttle(s), "
        f"max iterator age {age_text}"
    )


def status_view(status: StackStatus) -> Group:
    """Everything `status` prints in text mode, as one renderable (redrawn by --watch)."""
    lines: list[Any] = [status_table(status)]
    metrics = status_metrics_line(status)
    if metrics:
        lines.append(Text(metrics))
    lines += [Text(f"problem: {inert(problem)}", style="yellow") for problem in status.problems]
    # alarms and notifications
    lines += [
        Text(f"pending: {inert(email)} has not confirmed its alarm subscription (see its mail)")
        for email in status.extra.get("pending_subscriptions") or ()
    ]
    lines += settings_view(status.extra.get("settings"))
    lines.append(Text(status_summary(status)))
    return Group(*lines)


def settings_view(settings: Any) -> list[Text]:
    """The options status compared against that are not defaults, with their origins."""
    if not isinstance(settings, dict):
        return []
    if not settings["values"]:
        return [Text("settings: every option at its default")]
    shown = []
    for item in settings["values"]:
        value = item["value"]
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        shown.append(f"{item['option']}={text} ({item['origin']})")
    return [Text("settings: " + inert("; ".join(shown)))]


def status_summary(status: StackStatus) -> str:
    if not status.deployed:
        return "not deployed"
    words = ["healthy" if status.healthy else "NOT healthy"]
    words.append(
        "drifted: run `cryptoconsumer plan` to see what `up` would change"
        if status.drifted
        else "no drift"
    )
    return ", ".join(words)
