"""The lifecycle commands: up, plan, status, destroy, package. Parse, call, render."""

import functools
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cryptoconsumer.cli.inert import inert
from cryptoconsumer.cli.options import COMMON, DESIRED, NAMES, Output, duration, with_options
from cryptoconsumer.cli.sources import ORIGINS, has_control, sourced
from cryptoconsumer.cli.terminal import (
    EXIT_CHANGES,
    DetailedExitCodeCommand,
    TerminalReporter,
    detailed_exit_codes,
    err,
    guarded,
    out,
    print_json,
)

EXIT_NOT_OK = 3


def given_layers(options: dict[str, Any]) -> list[Any]:
    """The stack options a command was given, one layer per source, strongest first."""
    from cryptoconsumer.config import (
        COMMAND_LINE,
        DEFAULT,
        ENVIRONMENT,
        OPTION_FIELDS,
        STACK_FILE,
        Layer,
        StackOptions,
    )

    origins = options.get(ORIGINS, {})
    by_origin: dict[str, dict[str, Any]] = {COMMAND_LINE: {}, ENVIRONMENT: {}, STACK_FILE: {}}
    for name, value in options.items():
        field = "managed_policies" if name == "managed_policy" else name
        origin = origins.get(name, DEFAULT)
        if field not in OPTION_FIELDS or origin not in by_origin or value is None:
            continue
        by_origin[origin][field] = tuple(value) if isinstance(value, list) else value
    return [Layer(origin, StackOptions(**values)) for origin, values in by_origin.items()]


def stack_options(options: dict[str, Any]) -> tuple[list[Any], Any]:
    """The given layers, each value checked, and the AWS target; no AWS call yet."""
    from cryptoconsumer.aws import AwsTarget, check_target
    from cryptoconsumer.config import check_fields, layered, parse_stream_arn

    layers = given_layers(options)
    given, _ = layered(*layers)
    check_fields(given)
    region = given.region or (
        parse_stream_arn(given.stream_arn).region if given.stream_arn else None
    )
    target = AwsTarget(
        region=region,
        profile=options.get("profile"),
        endpoint_url=options.get("endpoint_url"),
    )
    check_target(target)
    return layers, target


def configured(options: dict[str, Any], clients_for: Any = None) -> tuple[Any, Any]:
    """The desired stack (given > recorded > default) and the clients to reach it."""
    from cryptoconsumer import stack
    from cryptoconsumer.config import recorded_fields

    forget = recorded_fields(options.get("reset") or ())
    layers, target = stack_options(options)
    clients = (clients_for or _clients)(target)
    return stack.configure(layers, clients, forget), clients


def _clients(target: Any) -> Any:
    from cryptoconsumer.aws import Clients

    return Clients(target)


def _show_plan(plan: Any, output: Output, dry_run: bool, outputs: Any = None) -> None:
    from cryptoconsumer.cli import plan_text, render

    if output is Output.json:
        print_json(render.plan_document(plan, dry_run, outputs))
        return
    out.print(plan_text.render_plan(plan, dry_run=dry_run, width=out.width, outputs=outputs))


def _up(options: dict[str, Any], dry_run: bool, replace_mapping: bool) -> Any:
    from cryptoconsumer import stack

    output: Output = options["output"]
    setup, clients = configured(options)
    reporter = TerminalReporter()
    prepared = stack.plan_up(
        setup.config,
        clients,
        replace_mapping=replace_mapping,
        reporter=reporter,
        recorded=setup.recorded,
    )
    if dry_run:
        _show_plan(prepared.plan, output, dry_run=True)
        return prepared.plan
    if not prepared.plan.mutating and not prepared.plan.settling:
        err.print("up to date: nothing to change")
        _show_plan(prepared.plan, output, dry_run=False, outputs=dict(prepared.plan.outputs))
        return prepared.plan
    outputs = stack.execute(prepared, reporter)
    _show_plan(prepared.plan, output, dry_run=False, outputs=outputs)
    return prepared.plan


@guarded
@sourced
@with_options(DESIRED, NAMES, COMMON)
def up(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    replace_mapping: Annotated[
        bool,
        typer.Option(
            "--replace-mapping",
            help="Allow replacing the mapping (new source or starting position); the new "
            "one starts where the old one may be behind.",
        ),
    ] = False,
    **options: Any,
) -> None:
    """Create or update the stack so it matches the options; only the differences change."""
    _up(options, dry_run, replace_mapping)


def _detailed_errors(command: Any) -> Any:
    """Around everything `plan` does (reading the stack file included): with
    --detailed-exitcode, bad input ends with 1, since 2 means "changes"."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        with detailed_exit_codes(bool(kwargs.get("detailed_exitcode"))):
            return command(*args, **kwargs)

    return run


@guarded
@_detailed_errors
@sourced
@with_options(DESIRED, NAMES, COMMON)
def plan(
    replace_mapping: Annotated[
        bool, typer.Option("--replace-mapping", help="Plan a mapping replacement if needed.")
    ] = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            envvar="CRYPTOCONSUMER_DETAILED_EXITCODE",
            help="Exit 0 no changes, 2 changes, 1 any error (bad input too), like Terraform.",
        ),
    ] = False,
    **options: Any,
) -> None:
    """Show what `up` would change; makes no mutating call (same as `up --dry-run`)."""
    planned = _up(options, dry_run=True, replace_mapping=replace_mapping)
    if detailed_exitcode and planned.mutating:
        raise typer.Exit(EXIT_CHANGES)


@guarded
@sourced
@with_options(DESIRED, NAMES, COMMON)
def status(
    window: Annotated[
        int,
        duration(
            "--window",
            "Metrics window, e.g. 15m, 1h, 900s (whole minutes, at most 15d).",
            minimum=60,
            maximum=15 * 86400,
            whole_minutes=True,
        ),
    ] = "15m",  # type: ignore[assignment]
    max_iterator_age: Annotated[
        int,
        duration(
            "--max-iterator-age",
            "Unhealthy when IteratorAge exceeds this (60s).",
            maximum=7 * 86400,
        ),
    ] = "60s",  # type: ignore[assignment]
    watch: Annotated[
        bool, typer.Option("--watch", help="Redraw in place until Ctrl-C (JSON: one per line).")
    ] = False,
    interval: Annotated[
        int, typer.Option("--interval", min=1, help="Seconds between redraws with --watch.")
    ] = 10,
    **options: Any,
) -> None:
    """What exists, its state, drift and health. Exit 0 deployed, healthy, no drift; 3 otherwise."""
    from cryptoconsumer.cli import render
    from cryptoconsumer.ops.health import Thresholds, read_health

    thresholds = Thresholds(window_seconds=window, max_iterator_age_seconds=max_iterator_age)
    setup, clients = configured(options)
    config = setup.config
    as_json = options["output"] is Output.json
    if watch:
        from cryptoconsumer.cli.live import watch as watch_loop

        found = watch_loop(
            lambda: read_health(config, clients, thresholds, recorded=setup.recorded),
            render.status_view,
            render.status_document if as_json else None,
            interval,
        )
    else:
        found = read_health(config, clients, thresholds, recorded=setup.recorded)
        if as_json:
            print_json(render.status_document(found))
        else:
            out.print(render.status_view(found, out.width))
    if found is None or not found.ok:
        raise typer.Exit(EXIT_NOT_OK)


@guarded
@sourced
@with_options(NAMES, COMMON)
def destroy(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    delete_table: Annotated[
        bool, typer.Option("--delete-table", help="Also delete the table and all its data.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; delete nothing.")
    ] = False,
    delete_failed_batches: Annotated[
        bool,
        typer.Option(
            "--delete-failed-batches",
            help="Also empty and delete the failed-batches bucket (--failure-destination s3).",
        ),
    ] = False,
    **options: Any,
) -> None:
    """Remove what `up` made. The table and its data stay unless --delete-table, the
    failed-batches bucket unless --delete-failed-batches."""
    from cryptoconsumer import stack
    from cryptoconsumer.cli import plan_text, render
    from cryptoconsumer.errors import InputError
    from cryptoconsumer.plan import PartialFailure

    output: Output = options["output"]
    if not yes and not dry_run and not sys.stdin.isatty():
        # Refused before anything is read: a runbook without --yes learns it at once.
        raise InputError("destroy needs --yes when there is no terminal to confirm on")
    setup, clients = configured(options)
    reporter = TerminalReporter()
    prepared = stack.plan_destroy(
        setup.config,
        clients,
        delete_table=delete_table,
        reporter=reporter,
        recorded=setup.recorded,
        delete_failed_batches=delete_failed_batches,
    )
    plan = prepared.plan
    if dry_run:
        _show_plan(plan, output, dry_run=True)
        return
    if not plan.mutating:
        err.print("nothing to destroy")
        for change in plan.for_resource("table") + plan.for_resource("bucket"):
            if change.action == "retain":
                err.print(
                    f"{change.resource} {inert(change.name)} kept: {inert(change.details[0])}"
                )
        _show_plan(plan, output, dry_run=False, outputs={})
        return
    if not yes:
        err.print(plan_text.render_plan(plan, dry_run=True, width=err.width), soft_wrap=True)
        if not typer.confirm("Delete these resources?", default=False, err=True):
            raise InputError("not confirmed; nothing was deleted")
    try:
        stack.execute(prepared, reporter)
    except PartialFailure as incomplete:
        for failure in incomplete.failures:
            err.print(f"error: {failure.line}", style="red", soft_wrap=True)
        if output is Output.json:
            failures = [failure.as_json() for failure in incomplete.failures]
            print_json({**render.plan_document(plan, False, {}), "failures": failures})
        raise
    _show_plan(plan, output, dry_run=False, outputs={})
    for change in plan.for_resource("table"):
        if change.action == "retain":
            err.print(
                f"table {inert(change.name)} kept with its data; "
                f"delete it with: cryptoconsumer destroy --stack {plan.stack} --delete-table"
            )
    for change in plan.for_resource("bucket"):
        if change.action == "retain":
            err.print(
                f"bucket {inert(change.name)} kept with its failed batches; delete it with: "
                f"cryptoconsumer destroy --stack {plan.stack} --delete-failed-batches"
            )


@guarded
@sourced
def package(
    output_path: Annotated[
        Path, typer.Option("--output-file", "-o", help="Where to write the zip.")
    ] = Path("consumer.zip"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite a different file.")] = False,
    output: Annotated[Output, typer.Option("--output", help="text or json.")] = Output.text,
) -> None:
    """Build the function's deterministic zip and print its CodeSha256."""
    from cryptoconsumer import package as packaging
    from cryptoconsumer.errors import InputError

    _check_writable(output_path, "--output-file")
    built = packaging.build()
    if output_path.exists() and not force and output_path.read_bytes() != built.zip_bytes:
        raise InputError(f"{output_path} exists and differs; pass --force to overwrite it")
    try:
        output_path.write_bytes(built.zip_bytes)
    except OSError as error:
        raise InputError(f"--output-file {str(output_path)!r}: {error.strerror}") from None
    if output is Output.json:
        print_json(
            {
                "path": str(output_path),
                "size": built.size,
                "code_sha256": built.code_sha256,
                "files": list(built.files),
            }
        )
    else:
        out.print(f"{output_path}  {built.size} bytes  CodeSha256 {built.code_sha256}")


@guarded
def init(
    stream_arn: Annotated[
        str, typer.Option("--stream-arn", help="The existing Kinesis stream the stack reads.")
    ],
    stack: Annotated[str, typer.Option("--stack", help="Stack name; prefixes every name.")] = (
        "crypto"
    ),
    output_path: Annotated[
        Path, typer.Option("--output-file", "-o", help="Where to write the stack file.")
    ] = Path("cryptoconsumer.toml"),
) -> None:
    """Write a commented starter stack file (cryptoconsumer.toml) for one stream; never
    overwrites an existing file."""
    from cryptoconsumer import stackfile
    from cryptoconsumer.config import StackOptions, check_fields, parse_stream_arn

    if has_control(stream_arn) or has_control(stack):
        from cryptoconsumer.errors import InputError

        raise InputError("init: --stream-arn and --stack take no control characters")
    check_fields(StackOptions(stack=stack, stream_arn=stream_arn))
    stream = parse_stream_arn(stream_arn)
    check_new_file(output_path, "--output-file")
    output_path.write_text(stackfile.starter(stream.arn, stack, stream.region), encoding="utf-8")
    out.print(f"wrote {inert(str(output_path))}: try `cryptoconsumer plan`")


def _check_writable(path: Path, option: str) -> None:
    """A file this command may write: a file name (not a folder) in a folder that exists."""
    import os

    from cryptoconsumer.errors import InputError

    if not str(path).strip() or str(path) in (".", "..") or has_control(str(path)):
        raise InputError(f"{option} {str(path)!r}: give a file name (no control characters)")
    try:
        if path.is_dir():
            raise InputError(f"{option} {str(path)!r} is a folder: give a file name")
        if not path.parent.is_dir():
            raise InputError(f"{option} {str(path)!r}: folder {str(path.parent)!r} does not exist")
        too_long = len(os.fsencode(path.name)) > os.pathconf(path.parent, "PC_NAME_MAX")
    except OSError as error:
        raise InputError(f"{option}: cannot use that path ({error.strerror})") from None
    if too_long:
        raise InputError(f"{option}: the file name is longer than this file system allows")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{option} {str(path)!r} cannot be written (permission denied)")


def check_new_file(path: Path, option: str) -> None:
    """A file this command may create: not there yet, in a folder that exists."""
    from cryptoconsumer.errors import InputError

    _check_writable(path, option)
    if path.exists():
        raise InputError(f"{option} {str(path)!r} already exists; refusing to overwrite it")


def register(app: typer.Typer) -> None:
    for command in (init, up, plan, status, destroy, package):
        app.command(cls=DetailedExitCodeCommand if command is plan else None)(command)
