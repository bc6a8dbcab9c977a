"""Rendering: pure functions from plans and statuses to JSON documents and rich tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from cryptoconsumer.plan import Plan
    from cryptoconsumer.status import StackStatus

OUTPUT_KEYS = ("stream_arn", "table_arn", "queue_url", "role_arn", "function_arn", "mapping_uuid")
ACTION_STYLES = {
    "create": "green",
    "update": "yellow",
    "replace": "magenta",
    "delete": "red",
    "retain": "cyan",
    "none": "dim",
}


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
    }


def plan_table(plan: Plan, title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("resource")
    table.add_column("name", overflow="fold")
    table.add_column("action")
    table.add_column("details", overflow="fold")
    for change in plan.changes:
        table.add_row(
            change.resource,
            change.name,
            change.action,
            "\n".join(change.details),
            style=ACTION_STYLES.get(change.action),
        )
    return table


def outputs_table(outputs: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None)
    table.add_column("output", style="bold")
    table.add_column("value", overflow="fold")
    for key in OUTPUT_KEYS:
        table.add_row(key, str(outputs.get(key) or "-"))
    return table


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
    table = Table(title=f"stack {status.stack} in {status.region}", title_justify="left")
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
            row.name,
            "yes" if row.exists else "no",
            "yes" if row.owned else "no",
            row.state,
            "\n".join(row.drift) or "-",
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
    lines += [Text(f"problem: {problem}", style="yellow") for problem in status.problems]
    lines.append(Text(status_summary(status)))
    return Group(*lines)


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
