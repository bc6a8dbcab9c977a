"""The operations commands: check, logs, latest, history, dlq list|redrive. Parse, call, render.

(No `from __future__ import annotations` here: Typer reads the annotations at runtime.)
"""

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cryptoconsumer.cli.inert import inert
from cryptoconsumer.cli.options import COMMON, NAMES, Output, duration, with_options
from cryptoconsumer.cli.sources import sourced
from cryptoconsumer.cli.stack_cmds import EXIT_NOT_OK, check_new_file, configured
from cryptoconsumer.cli.terminal import (
    TerminalReporter,
    err,
    guarded,
    out,
    print_json,
    print_json_line,
)


def _clients(target: Any) -> Any:
    """The one place commands get clients; tests replace it to hand in a hooked session."""
    from cryptoconsumer.aws import Clients

    return Clients(target)


def _setup(options: dict[str, Any]) -> tuple[Any, Any, bool]:
    """The stack's configuration (given > recorded > default), clients, and JSON or not."""
    setup, clients = configured(options, _clients)
    return setup.config, clients, options["output"] is Output.json


@guarded
@sourced
@with_options(NAMES, COMMON)
def check(
    timeout: Annotated[
        int, duration("--timeout", "How long to wait for the canary, e.g. 60, 2m.", maximum=3600)
    ] = "60",  # type: ignore[assignment]
    **options: Any,
) -> None:
    """End-to-end canary: CANARYTEST ticks onto the mapped stream (a fresh one every few
    seconds until one arrives), timed until it is in the table, then deleted. Exit 0 arrived;
    3 not in time (with what `status` knows)."""
    from cryptoconsumer.cli import ops_render
    from cryptoconsumer.ops import canary
    from cryptoconsumer.ops.health import read_health

    seconds = timeout
    config, clients, as_json = _setup(options)
    result = canary.run(config, clients, seconds, reporter=TerminalReporter(quiet=as_json))
    reasons: list[str] = []
    if not result.arrived:
        reasons = read_health(config, clients).problems
    if as_json:
        print_json(
            {
                "stack": config.stack,
                "region": clients.region,
                "ok": result.arrived,
                **result.as_json(),
                "reasons": reasons,
            }
        )
    else:
        out.print(ops_render.canary_line(result))
        if result.canaries_put > 1:
            out.print(
                f"{result.canaries_put} canaries put, {result.canaries_deleted} arrived and "
                "deleted; any other may still arrive and stay in the table under CANARYTEST"
            )
        for reason in reasons:
            out.print(f"reason: {inert(reason)}")
        if not result.arrived and not reasons:
            out.print(
                "status sees no problem: the mapping may still be starting or catching up; "
                "see `cryptoconsumer logs`"
            )
    if not result.arrived:
        raise typer.Exit(EXIT_NOT_OK)


@guarded
@sourced
@with_options(NAMES, COMMON)
def logs(
    since: Annotated[
        int, duration("--since", "How far back, e.g. 10m, 1h, 2d.", maximum=365 * 86400)
    ] = "10m",  # type: ignore[assignment]
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")
    ] = False,
    filter_text: Annotated[
        str | None,
        typer.Option("--filter", help="A CloudWatch Logs filter pattern, e.g. ERROR."),
    ] = None,
    **options: Any,
) -> None:
    """The function's CloudWatch Logs, time-stamped (UTC); batch summaries shown readably.
    JSON: a list of events, or with --follow one event per line (JSON lines)."""
    from cryptoconsumer.cli import ops_render
    from cryptoconsumer.ops import logs as function_logs
    from cryptoconsumer.ops.durations import describe

    seconds = since
    config, clients, as_json = _setup(options)
    group = config.log_group.name
    start_ms = int((time.time() - seconds) * 1000)
    if not follow:
        events = function_logs.fetch(clients, group, start_ms, filter_text)
        if as_json:
            print_json([event.as_json() for event in events])
            return
        for event in events:
            out.print(ops_render.log_line(event))
        if not events:
            err.print(f"no events in {group} in the last {describe(since)}")
        return
    err.print(f"following {group} (Ctrl-C to stop)")
    try:
        for batch in function_logs.follow(clients, group, start_ms, filter_text):
            for event in batch:
                if as_json:
                    print_json_line(event.as_json())
                else:
                    out.print(ops_render.log_line(event))
    except KeyboardInterrupt:
        err.print("stopped following")


TickerOpt = Annotated[
    list[str] | None,
    typer.Option("--ticker", help="Ticker, e.g. BTCUSD (repeatable; default BTC/ETH/DOGE-USD)."),
]


@guarded
@sourced
@with_options(NAMES, COMMON)
def latest(ticker: TickerOpt = None, **options: Any) -> None:
    """The newest item of each ticker in the table."""
    from cryptoconsumer.cli import ops_render
    from cryptoconsumer.ops import prices

    tickers = tuple(dict.fromkeys(prices.check_ticker(t) for t in ticker or prices.DEFAULT_TICKERS))
    config, clients, as_json = _setup(options)
    table = config.table.name
    found = prices.latest(clients, table, tickers)
    if as_json:
        print_json(
            {
                "stack": config.stack,
                "region": clients.region,
                "table": table,
                "items": [tick.as_json() for _, tick in found if tick is not None],
                "missing": [name for name, tick in found if tick is None],
            }
        )
        return
    out.print(ops_render.latest_table(found, f"newest items in {table}"))


@guarded
@sourced
@with_options(NAMES, COMMON)
def history(
    ticker: Annotated[str, typer.Option("--ticker", help="The ticker, e.g. BTCUSD.")],
    since: Annotated[
        int, duration("--since", "How far back, e.g. 1h, 30m, 2d.", maximum=3650 * 86400)
    ] = "1h",  # type: ignore[assignment]
    **options: Any,
) -> None:
    """One ticker's rows over a window, with a sparkline of the rate (JSON: the rows)."""
    from cryptoconsumer.cli import ops_render
    from cryptoconsumer.ops import prices, sparkline

    name = prices.check_ticker(ticker)
    seconds = since
    config, clients, as_json = _setup(options)
    table = config.table.name
    bound = prices.since_bound(seconds)
    rows = prices.history(clients, table, name, bound)
    if as_json:
        print_json(
            {
                "stack": config.stack,
                "region": clients.region,
                "table": table,
                "ticker": name,
                "since": bound,
                "count": len(rows),
                "rows": [tick.as_json() for tick in rows],
            }
        )
        return
    rates = [tick.exchange_rate for tick in rows]
    out.print(
        ops_render.history_view(
            name, bound, rows, sparkline.sparkline(rates), sparkline.summarise(rates)
        )
    )


dlq_app = typer.Typer(
    help="The dead-letter queue: bad records and failed batches.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@dlq_app.command("list")
@guarded
@sourced
@with_options(NAMES, COMMON)
def dlq_list(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="At most this many messages.")
    ] = 100,
    **options: Any,
) -> None:
    """What the dead-letter queue holds, without consuming it (VisibilityTimeout=0; each look
    still counts as a receive), and the failed batches in the stack's bucket, if it has one."""
    from cryptoconsumer.cli import ops_render
    from cryptoconsumer.ops import dlq

    config, clients, as_json = _setup(options)
    url = dlq.queue_url(config, clients)
    depth = dlq.approximate_depth(clients, url)
    letters = dlq.peek(clients, url, limit) if depth else []
    bucket = dlq.find_bucket(config, clients)
    listed = dlq.object_keys(clients, bucket, limit + 1) if bucket else []
    objects = dlq.read_objects(clients, bucket, listed[:limit]) if bucket else []
    if as_json:
        print_json(
            {
                "stack": config.stack,
                "region": clients.region,
                "queue_url": url,
                "approximate_messages": depth,
                "messages": [letter.as_json() for letter in letters],
                "bucket": bucket,
                "more_objects": len(listed) > limit,
                "objects": [found.as_json() for found in objects],
            }
        )
        return
    title = f"queue {inert(url.rsplit('/', 1)[-1])}: ~{depth} message(s), {len(letters)} shown"
    out.print(ops_render.dead_letters_table(letters, title))
    if bucket:
        more = "+" if len(listed) > limit else ""
        title = f"bucket {inert(bucket)}: {len(objects)}{more} failed batch(es), records included"
        out.print(ops_render.failed_objects_table(objects, title))


@dlq_app.command("redrive")
@guarded
@sourced
@with_options(NAMES, COMMON)
def dlq_redrive(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and report; invoke and delete nothing.")
    ] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Write bad records, and the bucket's failed-batch objects, to this new "
            "JSON-lines file.",
        ),
    ] = None,
    purge_bad: Annotated[
        bool, typer.Option("--purge-bad", help="Delete bad records (after --export, if given).")
    ] = False,
    **options: Any,
) -> None:
    """Replay failed batches through the function (from the stream, or from the bucket's
    objects, which hold the records); delete each message or object only after the function
    took every record. Bad records are never re-sent. Exit 3 if any failed."""
    from cryptoconsumer.cli import ops_render
    from cryptoconsumer.ops import redrive

    if export is not None:
        check_new_file(export, "--export")
    config, clients, as_json = _setup(options)

    def progress(outcome: Any) -> None:
        if not as_json:
            err.print(
                inert(f"  {outcome.action}: {outcome.kind} {outcome.message_id} {outcome.detail}")
            )

    report = redrive.redrive(
        config,
        clients,
        dry_run=dry_run,
        export_path=export,
        purge_bad=purge_bad,
        progress=progress,
    )
    if as_json:
        print_json(
            {
                "stack": config.stack,
                "region": clients.region,
                "dry_run": report.dry_run,
                "counts": report.counts,
                "messages": [outcome.as_json() for outcome in report.outcomes],
            }
        )
    else:
        out.print(ops_render.redrive_table(report))
    if report.count("failed"):
        raise typer.Exit(EXIT_NOT_OK)


def register(app: typer.Typer) -> None:
    for command in (check, logs, latest, history):
        app.command()(command)
    app.add_typer(dlq_app, name="dlq")
