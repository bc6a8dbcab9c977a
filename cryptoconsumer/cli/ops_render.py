"""Rendering for the operations commands: pure functions from results to text and tables.

Everything here that came from AWS or from a record (shard ids, sequence numbers, item fields,
log messages, dead-letter bodies, reasons) is shown through `inert`: escaped, one line.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from cryptoconsumer.cli.inert import inert

if TYPE_CHECKING:
    from cryptoconsumer.ops.canary import CanaryResult
    from cryptoconsumer.ops.dlq import DeadLetter, FailedBatchObject
    from cryptoconsumer.ops.logs import LogEvent
    from cryptoconsumer.ops.prices import Tick
    from cryptoconsumer.ops.redrive import RedriveReport

HISTORY_TABLE_ROWS = 10


def _text(value: object) -> str:
    return "-" if value is None else inert(value)


def canary_line(result: CanaryResult) -> str:
    where = f"{inert(result.shard_id)} at {inert(result.sequence_number)}"
    if result.arrived:
        cleanup = "deleted" if result.deleted else "NOT deleted (overwritten by another canary?)"
        return (
            f"canary arrived in {result.latency_ms:.0f} ms "
            f"({where}, item {inert(result.tick.last_refreshed)}); {cleanup}"
        )
    return f"canary did NOT arrive within {result.timeout_seconds:g} s ({where})"


def latest_table(found: list[tuple[str, Tick | None]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("ticker", "last refreshed (UTC)", "rate", "bid", "ask"):
        table.add_column(column, justify="right" if column in ("rate", "bid", "ask") else "left")
    for ticker, tick in found:
        if tick is None:
            table.add_row(inert(ticker), "no items", "-", "-", "-", style="yellow")
        else:
            table.add_row(
                inert(ticker),
                inert(tick.last_refreshed),
                _text(tick.exchange_rate),
                _text(tick.bid_price),
                _text(tick.ask_price),
            )
    return table


def history_view(ticker: str, since: str, rows: list[Tick], chart: str, summary: Any) -> Group:
    if not rows:
        return Group(Text(f"{inert(ticker)}: no rows since {inert(since)} UTC"))
    shown = rows[-HISTORY_TABLE_ROWS:]
    more = f", newest {len(shown)} shown (--output json for all)" if len(shown) < len(rows) else ""
    table = Table(
        title=f"{inert(ticker)} since {inert(since)} UTC: {len(rows)} row(s){more}",
        title_justify="left",
    )
    for column in ("last refreshed (UTC)", "rate", "bid", "ask"):
        table.add_column(column, justify="left" if column.startswith("last") else "right")
    for tick in shown:
        table.add_row(
            inert(tick.last_refreshed),
            _text(tick.exchange_rate),
            _text(tick.bid_price),
            _text(tick.ask_price),
        )
    stats = (
        f"min {summary.low}  max {summary.high}  last {summary.last}  "
        f"({summary.change_percent:+}% since {inert(rows[0].last_refreshed)})"
    )
    return Group(table, Text(f"{inert(ticker)} {chart}"), Text(stats))


def log_line(event: LogEvent) -> str:
    from cryptoconsumer.ops.logs import describe, iso_millis

    # Lambda's runtime separates a log line's fields with tabs: those stay whitespace.
    return f"{iso_millis(event.timestamp_ms)}  {inert(describe(event), keep_tabs=True)}"


def _ms_time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def dead_letter_detail(letter: DeadLetter) -> str:
    if letter.batch is not None:
        batch = letter.batch
        error = f", function error {batch.function_error}" if batch.function_error else ""
        return inert(
            f"{batch.shard_id} {batch.start_sequence_number}..{batch.end_sequence_number} "
            f"({batch.batch_size} record(s)): {batch.condition}{error}, "
            f"{batch.approximate_invoke_count} invocation(s)"
        )
    if letter.bad is not None:
        bad = letter.bad
        return inert(f"{bad.reason} (seq {_text(bad.sequence_number)}): {bad.preview}")
    return inert(letter.body[:120])


def dead_letters_table(letters: list[DeadLetter], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("kind")
    table.add_column("sent (UTC)")
    table.add_column("receives", justify="right")
    table.add_column("detail", overflow="fold")
    for letter in letters:
        table.add_row(
            inert(letter.kind),
            _ms_time(letter.sent_at_ms),
            str(letter.receive_count),
            dead_letter_detail(letter),
        )
    return table


def failed_objects_table(objects: list[FailedBatchObject], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("written (UTC)")
    table.add_column("object")
    table.add_column("detail", overflow="fold")
    for found in objects:
        if found.batch is not None and found.problem is None:
            batch = found.batch
            error = f", function error {batch.function_error}" if batch.function_error else ""
            detail = (
                f"{batch.shard_id} {batch.start_sequence_number}..{batch.end_sequence_number} "
                f"({len(found.records)} record(s) stored): {batch.condition}{error}"
            )
        else:
            detail = f"unusable, kept: {found.problem}"
        table.add_row(_ms_time(found.last_modified_ms), inert(found.key), inert(detail))
    return table


def redrive_table(report: RedriveReport) -> Table:
    verb = "would be" if report.dry_run else "were"
    table = Table(title=f"dead-letter messages that {verb}:", title_justify="left")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for name, count in report.counts.items():
        table.add_row(inert(name.replace("_", " ")), str(count))
    return table
