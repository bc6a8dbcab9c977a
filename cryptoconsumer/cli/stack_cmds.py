"""The lifecycle commands: up, plan, status, destroy, package. Parse, call, render."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cryptoconsumer.cli import render
from cryptoconsumer.cli.options import COMMON, DESIRED, NAMES, Output, with_options
from cryptoconsumer.cli.terminal import TerminalReporter, err, guarded, out, print_json

EXIT_NOT_OK = 3


def stack_options(options: dict[str, Any]) -> Any:
    """The validated desired stack and the AWS target, from the command's options."""
    from cryptoconsumer.aws import AwsTarget
    from cryptoconsumer.config import StackOptions, build_config

    fields = set(StackOptions.__dataclass_fields__)
    values = {key: value for key, value in options.items() if key in fields and value is not None}
    if options.get("managed_policy"):
        values["managed_policies"] = tuple(options["managed_policy"])
    config = build_config(StackOptions(**values))
    target = AwsTarget(
        region=config.region,
        profile=options.get("profile"),
        endpoint_url=options.get("endpoint_url"),
    )
    return config, target


def _clients(target: Any) -> Any:
    from cryptoconsumer.aws import Clients

    return Clients(target)


def _show_plan(plan: Any, output: Output, dry_run: bool, outputs: Any = None) -> None:
    if output is Output.json:
        print_json(render.plan_document(plan, dry_run, outputs))
        return
    verb = "would change" if dry_run else "changed"
    out.print(render.plan_table(plan, f"stack {plan.stack} in {plan.region}: {verb}"))
    if outputs:
        out.print(render.outputs_table(outputs))


def _up(options: dict[str, Any], dry_run: bool, replace_mapping: bool) -> None:
    from cryptoconsumer import stack

    output: Output = options["output"]
    config, target = stack_options(options)
    reporter = TerminalReporter()
    prepared = stack.plan_up(
        config, _clients(target), replace_mapping=replace_mapping, reporter=reporter
    )
    if dry_run:
        _show_plan(prepared.plan, output, dry_run=True)
        return
    if not prepared.plan.mutating and not prepared.plan.settling:
        err.print("up to date: nothing to change")
        _show_plan(prepared.plan, output, dry_run=False, outputs=dict(prepared.plan.outputs))
        return
    outputs = stack.execute(prepared, reporter)
    _show_plan(prepared.plan, output, dry_run=False, outputs=outputs)


@guarded
@with_options(DESIRED, NAMES, COMMON)
def up(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    replace_mapping: Annotated[
        bool,
        typer.Option(
            "--replace-mapping",
            help="Allow replacing the mapping (new stream or starting position).",
        ),
    ] = False,
    **options: Any,
) -> None:
    """Create or update the stack so it matches the options; only the differences change."""
    _up(options, dry_run, replace_mapping)


@guarded
@with_options(DESIRED, NAMES, COMMON)
def plan(
    replace_mapping: Annotated[
        bool, typer.Option("--replace-mapping", help="Plan a mapping replacement if needed.")
    ] = False,
    **options: Any,
) -> None:
    """Show what `up` would change; makes no mutating call (same as `up --dry-run`)."""
    _up(options, dry_run=True, replace_mapping=replace_mapping)


@guarded
@with_options(DESIRED, NAMES, COMMON)
def status(
    window: Annotated[
        str, typer.Option("--window", help="Metrics window, e.g. 15m, 1h, 900s (whole minutes).")
    ] = "15m",
    max_iterator_age: Annotated[
        str,
        typer.Option("--max-iterator-age", help="Unhealthy when IteratorAge exceeds this (60s)."),
    ] = "60s",
    watch: Annotated[
        bool, typer.Option("--watch", help="Redraw in place until Ctrl-C (JSON: one per line).")
    ] = False,
    interval: Annotated[
        int, typer.Option("--interval", min=1, help="Seconds between redraws with --watch.")
    ] = 10,
    **options: Any,
) -> None:
    """What exists, its state, drift and health. Exit 0 deployed, healthy, no drift; 3 otherwise."""
    from cryptoconsumer.ops.durations import parse_duration
    from cryptoconsumer.ops.health import Thresholds, read_health

    thresholds = Thresholds(
        window_seconds=_whole_minutes(
            parse_duration(window, "--window", minimum=60, maximum=15 * 86400)
        ),
        max_iterator_age_seconds=parse_duration(max_iterator_age, "--max-iterator-age"),
    )
    config, target = stack_options(options)
    clients = _clients(target)
    as_json = options["output"] is Output.json
    if watch:
        from cryptoconsumer.cli.live import watch as watch_loop

        found = watch_loop(
            lambda: read_health(config, clients, thresholds),
            render.status_view,
            render.status_document if as_json else None,
            interval,
        )
    else:
        found = read_health(config, clients, thresholds)
        if as_json:
            print_json(render.status_document(found))
        else:
            out.print(render.status_view(found))
    if found is None or not found.ok:
        raise typer.Exit(EXIT_NOT_OK)


def _whole_minutes(seconds: int) -> int:
    from cryptoconsumer.errors import InputError

    # The window is GetMetricData's Period, which CloudWatch takes in multiples of 60 s.
    if seconds % 60:
        raise InputError(f"--window must be whole minutes (got {seconds} s)")
    return seconds


@guarded
@with_options(NAMES, COMMON)
def destroy(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    delete_table: Annotated[
        bool, typer.Option("--delete-table", help="Also delete the table and all its data.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; delete nothing.")
    ] = False,
    **options: Any,
) -> None:
    """Remove what `up` made. The table and its data stay unless --delete-table."""
    from cryptoconsumer import stack
    from cryptoconsumer.errors import InputError
    from cryptoconsumer.plan import PartialFailure

    output: Output = options["output"]
    config, target = stack_options(options)
    reporter = TerminalReporter()
    prepared = stack.plan_destroy(
        config, _clients(target), delete_table=delete_table, reporter=reporter
    )
    plan = prepared.plan
    if dry_run:
        _show_plan(plan, output, dry_run=True)
        return
    if not plan.mutating:
        err.print("nothing to destroy")
        for change in plan.for_resource("table"):
            if change.action == "retain":
                err.print(f"table {change.name} kept: {change.details[0]}")
        _show_plan(plan, output, dry_run=False, outputs={})
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("destroy needs --yes when there is no terminal to confirm on")
        err.print(render.plan_table(plan, f"stack {plan.stack} in {plan.region}: would change"))
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
                f"table {change.name} kept with its data; "
                f"delete it with: cryptoconsumer destroy --stack {plan.stack} --delete-table"
            )


@guarded
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

    built = packaging.build()
    if output_path.exists() and not force and output_path.read_bytes() != built.zip_bytes:
        raise InputError(f"{output_path} exists and differs; pass --force to overwrite it")
    output_path.write_bytes(built.zip_bytes)
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


def register(app: typer.Typer) -> None:
    for command in (up, plan, status, destroy, package):
        app.command()(command)
