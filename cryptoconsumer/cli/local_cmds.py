"""The local commands: `local start`, `produce`, `demo`. Parse, call the core, render."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cryptoconsumer.cli.inert import inert
from cryptoconsumer.cli.options import (
    EndpointOpt,
    Output,
    OutputOpt,
    ProfileOpt,
    RegionOpt,
    StreamArnOpt,
)
from cryptoconsumer.cli.sources import sourced
from cryptoconsumer.cli.terminal import TerminalReporter, err, guarded, out, print_json

if TYPE_CHECKING:
    from cryptoconsumer.local.demo import DemoResult
    from cryptoconsumer.local.pipeline import LocalPipeline

EXIT_NOT_CORRECT = 3
EXIT_FAILED = 1
DEFAULT_PORT = 4566
LOCAL_REGION = "us-east-1"

local_app = typer.Typer(
    name="local",
    help="The embedded AWS emulator with a real Kinesis -> Lambda poller.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve_until_interrupted() -> None:
    """Block the foreground until Ctrl-C or SIGTERM; the emulator and poller run in threads."""
    import signal

    # A background job ignores SIGINT; SIGTERM must stop it just as cleanly (workers included).
    # Only the main thread may set a handler (an embedding caller may run us elsewhere).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    forever = threading.Event()
    try:
        while not forever.wait(3600):
            pass
    except KeyboardInterrupt:
        err.print("stopping")


def _usage(pipeline: LocalPipeline, stream_arn: str | None) -> str:
    endpoint = pipeline.endpoint_url
    stream = stream_arn or "arn:aws:kinesis:us-east-1:123456789012:stream/ticks"
    create = (
        ""
        if stream_arn
        else (
            "  # make a stream first:\n"
            f"  aws --endpoint-url {endpoint} kinesis create-stream "
            "--stream-name ticks --shard-count 2\n"
        )
    )
    return (
        f"AWS emulator listening on {endpoint} (Ctrl-C stops it and forgets everything)\n"
        "\nIn another shell:\n"
        f"  export AWS_ENDPOINT_URL={endpoint}\n"
        "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing\n"
        f"  export AWS_DEFAULT_REGION={LOCAL_REGION}\n"
        f"{create}"
        f"  cryptoconsumer init --stream-arn {stream}\n"
        "  cryptoconsumer up --starting-position TRIM_HORIZON\n"
        "  cryptoconsumer produce --count 100\n"
        "  cryptoconsumer status\n"
        "  cryptoconsumer destroy --delete-table --yes\n"
    )


@local_app.command("start")
@guarded
@sourced
def local_start(
    host: Annotated[
        str, typer.Option("--host", help="Loopback address to listen on (see --allow-remote).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port, 0-65535 (0 = any free port).")
    ] = DEFAULT_PORT,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Accept a --host other machines can reach. The emulator has no authentication:"
            " anyone who can reach the port runs code on this machine as you.",
        ),
    ] = False,
    create_stream: Annotated[
        str | None,
        typer.Option("--create-stream", metavar="NAME", help="Also create this Kinesis stream."),
    ] = None,
    shards: Annotated[int, typer.Option("--shards", help="Shards of --create-stream (1-500).")] = 2,
    region: Annotated[
        str, typer.Option("--region", help="Region of --create-stream.")
    ] = LOCAL_REGION,
) -> None:
    """Run an AWS emulator and the event source mapping poller in the foreground until Ctrl-C.

    Every command works against it with --endpoint-url (or AWS_ENDPOINT_URL); mapped functions
    run for real, in worker processes, with their deployed code.
    """
    from cryptoconsumer.local import pipeline
    from cryptoconsumer.local.listen import (
        REMOTE_WARNING,
        check_listen_address,
        check_shards,
        check_stream,
    )

    address = check_listen_address(host, port, allow_remote=allow_remote)
    check_shards(shards)
    check_stream(create_stream, region)
    if address.remote:
        err.print(REMOTE_WARNING.format(host=host, port=port or "(any)"), soft_wrap=True)
    with pipeline.running(host, port, log=lambda line: err.print(inert(line))) as running:
        stream_arn = None
        if create_stream:
            clients = running.clients(region)
            stream_arn = pipeline.create_stream(clients, create_stream, shards)
        out.print(_usage(running, stream_arn))
        _serve_until_interrupted()
        err.print(running.poller.stats.summary())


@guarded
@sourced
def produce(
    stream_arn: StreamArnOpt = None,
    count: Annotated[
        int | None, typer.Option("--count", help="Synthetic ticks to send (default 100).")
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="At most this many records per second.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Send this JSON-lines file's ticks, one object a line."),
    ] = None,
    tickers: Annotated[
        str | None,
        typer.Option("--tickers", help="Synthetic tickers (default BTCUSD,ETHUSD,DOGEUSD)."),
    ] = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Put crypto ticks on a stream: a random walk per ticker, or a file's lines as written."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from cryptoconsumer.aws import AwsTarget, Clients
    from cryptoconsumer.errors import InputError
    from cryptoconsumer.produce import ProduceRequest, target_region
    from cryptoconsumer.produce import produce as produce_ticks

    if not stream_arn:
        raise InputError("--stream-arn is required (or set CRYPTOCONSUMER_STREAM_ARN)")
    request = ProduceRequest(stream_arn, count, rate, file, tickers)
    request.validate()
    clients = Clients(AwsTarget(target_region(stream_arn, region), profile, endpoint_url))
    columns = (TextColumn("producing"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err.real, transient=True) as progress:
        task = progress.add_task("produce", total=None)
        result = produce_ticks(
            clients,
            request,
            on_start=lambda total: progress.update(task, total=total),
            on_progress=lambda sent: progress.update(task, completed=sent),
        )
    if output is Output.json:
        print_json(result.document())
    else:
        failed = f", {result.failed} failed" if result.failed else ""
        out.print(
            f"produced {result.produced} records to {inert(result.stream_arn)} "
            f"in {result.seconds:.2f} s{failed}"
        )
    if result.failed:
        raise typer.Exit(EXIT_FAILED)


def _render_demo(result: DemoResult) -> None:
    from rich.table import Table

    table = Table(title="latest price per ticker")
    for column in ("ticker", "last refreshed (UTC)", "exchange rate"):
        table.add_column(column)
    for ticker, latest in result.latest.items():
        table.add_row(
            inert(ticker), inert(latest["last_refreshed"]), inert(latest["exchange_rate"])
        )
    out.print(table)
    if result.only_tickers:
        out.print(
            f"filter {', '.join(result.only_tickers)}: table items: {result.table_items} of "
            f"{result.expected_items} ticks of those tickers; {result.filtered_out} records "
            f"dropped by the filter (the other tickers and all {result.bad_produced} malformed); "
            f"dead-letter queue: {result.dead_lettered} messages; {result.seconds:.1f} s"
        )
    else:
        out.print(
            f"table items: {result.table_items} of {result.produced}; "
            f"dead-letter queue: {result.dead_lettered} messages for {result.bad_produced} "
            f"malformed records; {result.seconds:.1f} s"
        )
    out.print("correct" if result.correct else "NOT correct")


def _keep_instructions(result: DemoResult, endpoint: str) -> str:
    return (
        f"\nkept running on {endpoint} until Ctrl-C; in another shell:\n"
        f"  export AWS_ENDPOINT_URL={endpoint}\n"
        "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing\n"
        f"  export AWS_DEFAULT_REGION={LOCAL_REGION}\n"
        "  cryptoconsumer status --stack demo\n"
        f"  cryptoconsumer produce --stream-arn {result.stream_arn} --count 50\n"
        "  cryptoconsumer dlq list --stack demo\n"
        "  cryptoconsumer destroy --stack demo --delete-table --yes\n"
    )


@guarded
@sourced
def demo(
    records: Annotated[int, typer.Option("--records", help="Valid ticks to produce.")] = 300,
    bad_records: Annotated[
        int, typer.Option("--bad-records", help="Malformed records to produce.")
    ] = 5,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Leave everything up and the emulator running until Ctrl-C."),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the records to be processed.")
    ] = 120.0,
    only_tickers: Annotated[
        str | None,
        typer.Option(
            "--only-tickers",
            help="`up --only-tickers`: filter the mapping to these of BTCUSD,ETHUSD,DOGEUSD.",
        ),
    ] = None,
    output: OutputOpt = Output.text,
) -> None:
    """Run the whole pipeline on this machine and check it: exit 0 correct, 3 not correct.

    Starts the emulator and poller, creates a 2-shard stream, runs `up`, produces the ticks and
    malformed records, waits until the table and the dead-letter queue hold them, shows the
    latest prices, then runs `destroy --delete-table` (unless --keep).
    """
    import tempfile

    from cryptoconsumer.local.demo import DemoOptions, run_demo
    from cryptoconsumer.local.emulator import use_fake_credentials_if_missing
    from cryptoconsumer.local.pipeline import running

    options = DemoOptions(
        records=records,
        bad_records=bad_records,
        timeout=timeout,
        keep=keep,
        only_tickers=only_tickers,
    )
    options.validate()
    reporter = TerminalReporter()
    function_log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept past this block on failure
        "w", prefix="cryptoconsumer-demo-", suffix=".log", delete=False, encoding="utf-8"
    )
    use_fake_credentials_if_missing()
    result = None
    try:
        with running(function_log=function_log) as pipeline:
            result = run_demo(pipeline, options, reporter, _processing_bar)
            if output is Output.json:
                print_json(result.document())
            else:
                _render_demo(result)
            if keep:
                err.print(_keep_instructions(result, pipeline.endpoint_url))
                _serve_until_interrupted()
    finally:
        function_log.close()
        if result is None or result.correct:
            Path(function_log.name).unlink(missing_ok=True)
    if not result.correct:
        err.print(f"not correct; the function's output is in {function_log.name}")
        raise typer.Exit(EXIT_NOT_CORRECT)


@contextlib.contextmanager
def _processing_bar(total: int) -> Iterator[Callable[[int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("processed"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err.real, transient=True) as bar:
        task = bar.add_task("processed", total=total)
        yield lambda processed: bar.update(task, completed=processed)


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local")
    app.command("produce")(produce)
    app.command("demo")(demo)
