"""A plan as text a person reviews in a terminal or a pull request, like `terraform plan`.

    stack crypto in us-east-1: would change

      ~   function  crypto_data_consumer
            timeout: 20 -> 30
      -/+ mapping   531f0c3c-bde7-4bdb-899f-afd64bb08c35
            source: arn:aws:kinesis:us-east-1:123456789012:stream/ticks
              -> arn:aws:kinesis:us-east-1:123456789012:stream/ticks-2
            create the new mapping first, wait until it is Enabled, then delete the
                old one: never a moment without a mapping
      unchanged: table crypto_intraday, queue crypto_data_consumer-dlq

    Plan: 0 to create, 1 to update, 1 to replace, 0 to delete; 2 unchanged.

One line per changed resource with its symbol, then one indented line per detail; a detail of
the shape `field: old -> new` is kept on one line when it fits, else split before `->`.
Unchanged resources (action `none`) get no symbol: they are listed together on one wrapped
line, with their note in brackets when they carry one. Lines are wrapped only between words:
a value (an ARN, a hash, a URL) is never broken, and one too long for any line overflows
whole rather than being folded. Every value is passed through `inert` first.

Pure: a Plan (and the width) in, rich Text out; colour is only a style on top of the text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.text import Text

from cryptoconsumer.cli.inert import inert

if TYPE_CHECKING:
    from cryptoconsumer.config import Setting
    from cryptoconsumer.plan import Plan
    from cryptoconsumer.resources.base import Change

SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "retain": "="}
STYLES = {
    "create": "green",
    "update": "yellow",
    "replace": "magenta",
    "delete": "red",
    "retain": "cyan",
}
# Counted in this order in the summary; replace and retain only when there are any.
COUNTED = (
    ("create", "to create", "created", True),
    ("update", "to update", "updated", True),
    ("replace", "to replace", "replaced", False),
    ("delete", "to delete", "deleted", True),
    ("retain", "to retain", "retained", False),
)
OUTPUT_KEYS = (
    "stream_arn",
    "table_arn",
    "queue_url",
    "role_arn",
    "function_arn",
    "mapping_uuid",
    # S3 on-failure destination (issue 11)
    "bucket",
    # dashboard
    "dashboard_url",
)

KIND_WIDTH = len("log_group")
HEADER = " " * (2 + 3 + 1)  # "  " + the symbol column ("-/+") + a space
NAME_HANG = " " * (len(HEADER) + KIND_WIDTH + 1)
DETAIL = " " * (len(HEADER) + 2)
DETAIL_HANG = DETAIL + "    "
ARROW = DETAIL + "  "
ARROW_HANG = ARROW + "   "
# The widest continuation indent of any line: a word longer than the width less this cannot
# fit on any line, and only such a word makes a line overflow.
MAX_HANG = len(NAME_HANG)
# A word that fits no line stays after a short label ("source:", "->") instead of leaving the
# label alone on a line of its own: the line overflows either way.
SHORT_LEAD = 16

_DIFF = re.compile(r"(?P<label>[^:]+?): (?P<old>.*) -> (?P<new>.*)")


def wrap(words: Sequence[str], width: int, first: str, hang: str) -> list[str]:
    """Greedy wrap between words, never inside one; continuation lines start with `hang`."""
    lines: list[str] = []
    line, empty = first, True
    for word in words:
        fits = len(line) + 1 + len(word) <= width
        fits_nowhere = len(hang) + len(word) > width
        short_lead = len(line) <= min(width, len(hang) + SHORT_LEAD)
        if empty:
            line, empty = line + word, False
        elif fits or (fits_nowhere and short_lead):
            line += " " + word
        else:
            lines.append(line)
            line = hang + word
    lines.append(line)
    return lines


def _words(text: str) -> list[str]:
    return text.split(" ") if text else [""]


def title(plan: Plan, dry_run: bool) -> str:
    if not plan.mutating:
        verb = "no changes"
    else:
        verb = "would change" if dry_run else "changed"
    return f"stack {inert(plan.stack)} in {inert(plan.region)}: {verb}"


def summary(plan: Plan, dry_run: bool) -> str:
    counts = Counter(change.action for change in plan.changes)
    parts = [
        f"{counts[action]} {planned if dry_run else done}"
        for action, planned, done, always in COUNTED
        if always or counts[action]
    ]
    unchanged = f"; {counts['none']} unchanged" if counts["none"] else ""
    return f"{'Plan' if dry_run else 'Done'}: {', '.join(parts)}{unchanged}."


def detail_lines(detail: str, width: int) -> list[str]:
    text = inert(detail)
    one_line = DETAIL + text
    diff = _DIFF.fullmatch(text)
    if len(one_line) <= width or diff is None:
        return wrap(_words(text), width, DETAIL, DETAIL_HANG)
    old = f"{diff['label']}: {diff['old']}"
    return wrap(_words(old), width, DETAIL, DETAIL_HANG) + wrap(
        ["->", *_words(diff["new"])], width, ARROW, ARROW_HANG
    )


def change_lines(change: Change, width: int) -> list[str]:
    symbol = SYMBOLS[change.action]
    first = f"  {symbol:<3} {change.resource:<{KIND_WIDTH}} "
    lines = wrap(_words(inert(change.name)), width, first, NAME_HANG)
    details = [*change.details, *([f"blocked: {change.blocked}"] if change.blocked else [])]
    for detail in details:
        lines += detail_lines(detail, width)
    return lines


def unchanged_lines(changes: Sequence[Change], width: int) -> list[str]:
    words: list[str] = []
    for index, change in enumerate(changes):
        last = index == len(changes) - 1
        unit = f"{change.resource} {inert(change.name)}"
        if change.details:
            words.append(unit)
            note = "; ".join(inert(detail) for detail in change.details)
            words += _words(f"({note})" + ("" if last else ","))
        else:
            words.append(unit + ("" if last else ","))
    return wrap(words, width, "  unchanged: ", "      ")


def render_plan(
    plan: Plan, *, dry_run: bool, width: int, outputs: Mapping[str, object] | None = None
) -> Text:
    """Everything `plan`, `up` and `destroy` print about a plan, as one styled Text."""
    lines: list[Text] = [Text(title(plan, dry_run), style="bold"), Text("")]
    for change in plan.changes:
        if change.action in SYMBOLS:
            style = STYLES[change.action]
            lines += [Text(line, style=style) for line in change_lines(change, width)]
    unchanged = [change for change in plan.changes if change.action not in SYMBOLS]
    if unchanged:
        lines += [Text(line, style="dim") for line in unchanged_lines(unchanged, width)]
    for note in plan.notes:
        lines += [Text(line) for line in wrap(_words(inert(note)), width, "  note: ", "        ")]
    if plan.settings:
        lines += [Text(""), *settings_lines(plan.settings, width)]
    lines += [Text(""), Text(summary(plan, dry_run), style="bold")]
    if outputs:
        lines += [Text(""), *output_lines(outputs, width)]
    return Text("\n").join(lines)


def settings_lines(settings: Sequence[Setting], width: int) -> list[Text]:
    """The options that are not defaults, each with where it came from (command line,
    environment, stack file, recorded)."""
    lines = [Text("settings (not defaults):", style="bold")]
    for setting in settings:
        value = setting.value
        shown = ", ".join(map(str, value)) if isinstance(value, tuple | list) else str(value)
        words = _words(f"{inert(shown)} ({setting.origin})")
        first = f"  {setting.option} = "
        lines += [Text(line) for line in wrap(words, width, first, " " * len(first))]
    return lines


def output_lines(outputs: Mapping[str, object], width: int) -> list[Text]:
    """What `up` made, one value a line, never folded: ARNs, the queue URL, the mapping."""
    key_width = max(len(key) for key in OUTPUT_KEYS)
    lines = [Text("outputs:", style="bold")]
    for key in OUTPUT_KEYS:
        value = outputs.get(key)
        shown = "-" if value is None or value == "" else inert(value)
        first = f"  {key:<{key_width}}  "
        lines += [Text(line) for line in wrap(_words(shown), width, first, " " * len(first))]
    return lines
