"""Rendering: pure functions from plans and statuses to JSON documents and text.

The plan's text is in `plan_text`, the status's in `status_text`; text shows every value
from AWS through `inert`, JSON documents hold the values exactly as they came.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from cryptoconsumer.cli import plan_text

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
                **({"how": change.how.as_json()} if hasattr(change.how, "as_json") else {}),
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


def status_view(status: StackStatus, width: int | None = None) -> Text:
    """Everything `status` prints in text mode, as one renderable (redrawn by --watch)."""
    from cryptoconsumer.cli import status_text

    if width is None:
        from cryptoconsumer.cli.terminal import out

        width = int(out.width)
    return status_text.render_status(status, width)
