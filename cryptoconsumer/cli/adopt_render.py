"""An adoption as text and JSON: `up`'s plan, then what DeleteStack does to the CloudFormation
stack. Pure functions; every outside value goes through `inert` (via plan_text)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from cryptoconsumer.cli import plan_text, render
from cryptoconsumer.cli.inert import inert

if TYPE_CHECKING:
    from cryptoconsumer.adopt import Adopted, Adoption

CFN_ACTIONS = {"delete": "-", "retain": "=", "gone": " "}
CFN_STYLES = {"delete": "red", "retain": "cyan", "gone": "dim"}


def _words(text: str) -> list[str]:
    return text.split(" ") if text else [""]


def _cfn_action(adoption: Adoption) -> str:
    if adoption.phase == "gone":
        return "none"
    if adoption.cfn is not None and adoption.cfn.status == "DELETE_IN_PROGRESS":
        return "wait"
    return "delete"


def document(adoption: Adoption, dry_run: bool, adopted: Adopted | None = None) -> dict[str, Any]:
    """`up`'s plan document, plus the CloudFormation stack, the look-back and the checks."""
    plan = adoption.prepared.plan
    outputs = adopted.outputs if adopted else None
    found = adoption.cfn
    back = adoption.look_back
    return {
        **render.plan_document(plan, dry_run, outputs),
        "notes": list(plan.notes),
        "cloudformation": {
            "stack_name": found.name if found else adoption.cfn_name,
            "stack_id": found.stack_id if found else None,
            "status": found.status if found else None,
            "action": _cfn_action(adoption),
            "result": adopted.cloudformation if adopted else None,
            "resources": [
                {
                    "logical_id": d.resource.logical_id,
                    "type": d.resource.type,
                    "physical_id": d.resource.physical_id,
                    "kind": d.kind,
                    "action": d.action,
                    "details": list(d.details),
                }
                for d in adoption.deletions
            ],
        },
        "look_back": {
            "starting_timestamp": back.timestamp.isoformat().replace("+00:00", "Z"),
            "max_iterator_age_ms": back.max_iterator_age_ms,
            "seconds_back": back.seconds_back,
            "reason": back.reason(),
        }
        if back
        else None,
        "table_check": {
            "table": adopted.table.name,
            "table_id": adopted.table.table_id,
            "status": adopted.table.status,
            "sample_key": adopted.table.sample_key,
            "sample_found": adopted.table.sample_found,
        }
        if adopted
        else None,
    }


def _title(adoption: Adoption, dry_run: bool) -> str:
    plan = adoption.prepared.plan
    if not adoption.mutating:
        verb = "no changes"
    else:
        verb = "would change" if dry_run else "changed"
    return (
        f"stack {inert(plan.stack)} in {inert(plan.region)}: {verb} "
        f"(adopting CloudFormation stack {inert(adoption.cfn_name)})"
    )


def _cfn_lines(adoption: Adoption, width: int) -> list[Text]:
    found = adoption.cfn
    if adoption.phase == "gone" or found is None:
        name = inert(adoption.cfn_name)
        return [Text(f"CloudFormation stack {name} no longer exists: nothing to delete")]
    when = "" if adoption.phase == "finish" else ", once this stack's mapping is Enabled"
    verb = "wait for the deletion" if found.status == "DELETE_IN_PROGRESS" else "DeleteStack"
    head = f"then{when}: {verb} {inert(found.name)} ({inert(found.status)})"
    lines = [Text(line, style="bold") for line in plan_text.wrap(_words(head), width, "", "    ")]
    for deletion in adoption.deletions:
        style = CFN_STYLES[deletion.action]
        first = f"  {CFN_ACTIONS[deletion.action]:<3} {deletion.kind:<{plan_text.KIND_WIDTH}} "
        words = _words(inert(deletion.name or deletion.resource.logical_id))
        rows = plan_text.wrap(words, width, first, plan_text.NAME_HANG)
        for detail in deletion.details:
            rows += plan_text.detail_lines(detail, width)
        lines += [Text(row, style=style) for row in rows]
    return lines


def _summary(adoption: Adoption, dry_run: bool) -> str:
    line = plan_text.summary(adoption.prepared.plan, dry_run)
    deleted = sum(1 for d in adoption.deletions if d.action == "delete")
    kept = sum(1 for d in adoption.deletions if d.action == "retain")
    if adoption.phase == "gone":
        return line
    verb = "to delete" if dry_run else "deleted"
    return f"{line[:-1]}; then {deleted} {verb} with the CloudFormation stack, {kept} retained."


def text(adoption: Adoption, *, dry_run: bool, width: int, adopted: Adopted | None = None) -> Text:
    plan = adoption.prepared.plan
    lines: list[Text] = [Text(_title(adoption, dry_run), style="bold"), Text("")]
    for change in plan.changes:
        if change.action in plan_text.SYMBOLS:
            style = plan_text.STYLES[change.action]
            lines += [Text(row, style=style) for row in plan_text.change_lines(change, width)]
    unchanged = [c for c in plan.changes if c.action not in plan_text.SYMBOLS]
    if unchanged:
        lines += [Text(row, style="dim") for row in plan_text.unchanged_lines(unchanged, width)]
    lines += [Text(""), *_cfn_lines(adoption, width)]
    for note in plan.notes:
        rows = plan_text.wrap(_words(inert(note)), width, "  note: ", "        ")
        lines += [Text(row) for row in rows]
    if plan.settings:
        lines += [Text(""), *plan_text.settings_lines(plan.settings, width)]
    lines += [Text(""), Text(_summary(adoption, dry_run), style="bold")]
    if adopted is not None:
        table = adopted.table
        key = table.sample_key
        kept = f"table {inert(table.name)} survived: same TableId, {inert(table.status)}"
        if key:
            kept += f", item {inert(key['ticker'])} {inert(key['last_refreshed'])} still there"
        lines += [Text(""), Text(kept), Text(""), *plan_text.output_lines(adopted.outputs, width)]
    return Text("\n").join(lines)
