"""`status` as text a person reads at 80 columns as well as at 200, like `plan`'s text.

    stack crypto in us-east-1: NOT healthy, no drift

      ok       table      crypto_intraday  ACTIVE
      problem  queue      crypto_data_consumer-dlq  2 message(s)
                 problem: 2 message(s) waiting: see `cryptoconsumer dlq list`
      ok       mapping    531f0c3c-bde7-4bdb-899f-afd64bb08c35  Enabled

    alarms:
      ALARM  crypto-errors
               Threshold Crossed: 1 datapoint [2.0] was greater than the threshold (0.0).
      OK     crypto-iterator-age

    last 15m, one block a minute, oldest first:
      invocations   ▁▁▂▃█▅▃▂▁▁▁▁▂▂▁  total 120, min 0, max 40, last 3
      iterator age  ▁▁▁▂▂▃▂▁▁▁▁▁▁▁▁  max 850 ms, last 200 ms

One line per resource with its condition (ok, drift, problem, missing), its kind, name and
state, then one indented line per drift or problem. Lines are wrapped only between words (the
wrapping of cli/plan_text): a name, an ARN or a reason's word is never broken. Every value from
outside goes through `inert`. Pure: a StackStatus and a width in, rich Text out; colour is
only a style on top of words that say the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text

from cryptoconsumer.cli.inert import inert
from cryptoconsumer.cli.plan_text import KIND_WIDTH, _words, wrap

if TYPE_CHECKING:
    from cryptoconsumer.status import ResourceStatus, StackStatus

MARK_WIDTH = len("missing")
ROW = " " * 2
ROW_HANG = " " * (2 + MARK_WIDTH + 1 + KIND_WIDTH + 1)
DETAIL = " " * (2 + MARK_WIDTH + 1 + 2)
DETAIL_HANG = DETAIL + "    "
STYLES = {"ok": "green", "drift": "yellow", "problem": "red", "missing": "red"}
ALARM_STYLES = {"OK": "green", "ALARM": "bold red", "INSUFFICIENT_DATA": "yellow"}
ALARM_WIDTH = len("INSUFFICIENT_DATA")
# (series key, label, how a value is shown)
SPARKLINES = (
    ("invocations", "invocations", "count"),
    ("errors", "errors", "count"),
    ("iterator_age", "iterator age", "ms"),
    ("dead_letters", "dead letters", "count"),
)
LABEL_WIDTH = len("iterator age")
SPARK_START = len(ROW) + LABEL_WIDTH + 2
# Below this many blocks a sparkline says too little: the figures go on a line of their own.
MIN_BLOCKS = 8
MAPPING_EVENTS = (
    ("polled", "polled"),
    ("invoked", "invoked"),
    ("failed_invoke", "failed invoke"),
    ("filtered_out", "filtered out"),
    ("dropped", "dropped"),
    ("on_failure_delivered", "sent to the on-failure destination"),
)


def condition(row: ResourceStatus) -> str:
    if not row.exists:
        return "missing"
    if row.problems:
        return "problem"
    return "drift" if row.drift else "ok"


def row_lines(row: ResourceStatus, width: int) -> list[Text]:
    mark = condition(row)
    first = f"{ROW}{mark:<{MARK_WIDTH}} {row.resource:<{KIND_WIDTH}} "
    words = _words(inert(row.name))
    if mark != "missing":
        state = _words(inert(row.state))
        # Two spaces between the name and its state: a name may hold spaces of its own.
        words += [" " + state[0], *state[1:]]
    lines = [Text(line, style=STYLES[mark]) for line in wrap(words, width, first, ROW_HANG)]
    for label, items in (("drift", row.drift), ("problem", row.problems)):
        for item in items:
            text = f"{label}: {inert(item)}"
            lines += [Text(line) for line in wrap(_words(text), width, DETAIL, DETAIL_HANG)]
    return lines


def alarm_lines(alarms: Sequence[dict[str, Any]], width: int) -> list[Text]:
    if not alarms:
        return []
    lines = [Text("alarms:", style="bold")]
    state_width = max(len(inert(a["state"])) for a in alarms)
    for alarm in alarms:
        state = inert(alarm["state"])
        first = f"{ROW}{state:<{state_width}}  "
        hang = " " * len(first)
        style = ALARM_STYLES.get(alarm["state"])
        lines += [
            Text(line, style=style) for line in wrap([inert(alarm["name"])], width, first, hang)
        ]
        if alarm.get("reason"):
            reason_start = hang + "  "
            lines += [
                Text(line)
                for line in wrap(_words(inert(alarm["reason"])), width, reason_start, reason_start)
            ]
    return lines


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "ms":
        return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"
    return f"{value:g}" if value != int(value) else str(int(value))


def figures(values: Sequence[float | None], unit: str) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "no data"
    last = values[-1] if values else None
    if unit == "ms":
        return f"max {_shown(max(present), unit)}, last {_shown(last, unit)}"
    return (
        f"total {_shown(sum(present), unit)}, min {_shown(min(present), unit)}, "
        f"max {_shown(max(present), unit)}, last {_shown(last, unit)}"
    )


def sparkline_lines(
    label: str, values: Sequence[float | None], unit: str, blocks: int, width: int
) -> list[str]:
    """The label, the last `blocks` values as blocks, then the figures of the whole window;
    the figures move to the next line when they do not fit after the blocks."""
    from cryptoconsumer.ops.sparkline import bars

    start = f"{ROW}{label:<{LABEL_WIDTH}}  "
    hang = " " * len(start)
    if not any(v is not None for v in values):
        return [f"{start}no data"]
    drawn = bars(values[-blocks:])
    words = [drawn, *_words(figures(values, unit))]
    return wrap(words, width, start, hang)


def metrics_lines(metrics: dict[str, Any] | None, width: int) -> list[Text]:
    from cryptoconsumer.ops.durations import describe

    if not isinstance(metrics, dict):
        return []
    series: dict[str, Any] = metrics.get("series") or {}
    period = int(metrics.get("period_seconds") or 60)
    window = describe(int(metrics["window_seconds"]))
    points = max((len(s["values"]) for s in series.values()), default=0)
    blocks = max(MIN_BLOCKS, width - SPARK_START - 1)
    step = "a minute" if period == 60 else f"per {describe(period)}"
    shown = f"the last {min(points, blocks)} shown, " if points > blocks else ""
    lines = [Text(f"last {window}, one block {step}, {shown}oldest first:", style="bold")]
    for key, label, unit in SPARKLINES:
        if key in series:
            values = series[key]["values"]
            lines += [Text(line) for line in sparkline_lines(label, values, unit, blocks, width)]
    if metrics.get("throttles"):
        lines.append(Text(f"{ROW}{metrics['throttles']} throttle(s) in the window"))
    for mapping in metrics.get("mappings") or []:
        lines += mapping_lines(mapping, window, width)
    return lines


def mapping_lines(mapping: dict[str, Any], window: str, width: int) -> list[Text]:
    """The mapping's event counts, with what never reached the function called out."""
    events: dict[str, int | None] = mapping.get("events") or {}
    title = f"mapping {inert(mapping['uuid'])}, records in the last {window}:"
    lines = [Text(line, style="bold") for line in wrap(_words(title), width, "", "  ")]
    if all(events.get(key) is None for key, _ in MAPPING_EVENTS):
        note = "no event counts published (the mapping's MetricsConfig EventCount is off)"
        return lines + [Text(line) for line in wrap(_words(note), width, ROW, ROW + "  ")]
    counted = [
        f"{events[key]} {label}," for key, label in MAPPING_EVENTS if events.get(key) is not None
    ]
    counted[-1] = counted[-1].rstrip(",")
    lines += [Text(line) for line in wrap(counted, width, ROW, ROW)]
    for key, meaning in (
        ("filtered_out", "matched no filter: never reached the function"),
        ("dropped", "discarded (too old or out of retries) and not in the dead-letter queue"),
    ):
        if events.get(key):
            note = f"{events[key]} record(s) {meaning}"
            lines += [
                Text(line, style="yellow") for line in wrap(_words(note), width, ROW, ROW + "  ")
            ]
    return lines


def settings_lines(settings: Any, width: int) -> list[Text]:
    if not isinstance(settings, dict):
        return []
    if not settings["values"]:
        return [Text("settings: every option at its default")]
    words: list[str] = []
    for item in settings["values"]:
        value = item["value"]
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        words += _words(f"{item['option']}={inert(text)} ({item['origin']});")
    words[-1] = words[-1].rstrip(";")
    return [Text(line) for line in wrap(words, width, "settings: ", "  ")]


def summary(status: StackStatus) -> str:
    if not status.deployed:
        return "not deployed"
    words = ["healthy" if status.healthy else "NOT healthy"]
    words.append(
        "drifted: run `cryptoconsumer plan` to see what `up` would change"
        if status.drifted
        else "no drift"
    )
    return ", ".join(words)


def pending_lines(emails: list[str], width: int) -> list[Text]:
    """Addresses subscribed to the alarms topic that have not confirmed: they get no alarm."""
    return [
        Text(line, style="yellow")
        for email in emails
        for line in wrap(
            _words(
                f"pending: {inert(email)} has not confirmed its alarm subscription (see its mail)"
            ),
            width,
            "",
            "  ",
        )
    ]


def render_status(status: StackStatus, width: int) -> Text:
    """Everything `status` prints in text mode (redrawn by --watch)."""
    title = f"stack {inert(status.stack)} in {inert(status.region)}: {summary(status)}"
    lines: list[Text] = [Text(line, style="bold") for line in wrap(_words(title), width, "", "  ")]
    lines.append(Text(""))
    for row in status.resources:
        lines += row_lines(row, width)
    for problem in status.alarm_problems:
        lines += [
            Text(line, style="red")
            for line in wrap(_words(f"problem: {inert(problem)}"), width, ROW, ROW + "  ")
        ]
    for block in (
        pending_lines(status.extra.get("pending_subscriptions") or (), width),  # type: ignore[arg-type]
        alarm_lines(status.extra.get("alarms") or [], width),  # type: ignore[arg-type]
        metrics_lines(status.extra.get("metrics"), width),  # type: ignore[arg-type]
        settings_lines(status.extra.get("settings"), width),
    ):
        if block:
            lines += [Text(""), *block]
    lines += [Text(""), Text(summary(status), style="bold")]
    return Text("\n").join(lines)
