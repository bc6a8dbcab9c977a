"""`adopt`: take over a running CloudFormation (CDK) deployment of this consumer. Parse, call,
render."""

import sys
from typing import Annotated, Any

import typer

from cryptoconsumer.cli.options import COMMON, DESIRED, NAMES, Output, with_options
from cryptoconsumer.cli.sources import sourced
from cryptoconsumer.cli.terminal import TerminalReporter, err, guarded, out, print_json


@guarded
@sourced
@with_options(DESIRED, NAMES, COMMON)
def adopt(
    cloudformation_stack: Annotated[
        str | None,
        typer.Option(
            "--cloudformation-stack",
            envvar="CRYPTOCONSUMER_CLOUDFORMATION_STACK",
            help="The CloudFormation stack (name or ID) that runs the consumer now.",
        ),
    ] = None,
    force_unknown: Annotated[
        bool,
        typer.Option(
            "--force-unknown",
            help="Accept that other resources of the CloudFormation stack are deleted with it.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    **options: Any,
) -> None:
    """Take over a CloudFormation (CDK) deployment of this consumer without losing a record:
    our stack is stood up beside it on the same stream and table, then the CloudFormation
    stack is deleted (its table is kept). Options of `up` apply."""
    from cryptoconsumer import adopt as adoption
    from cryptoconsumer.adopt.cloudformation import check_name
    from cryptoconsumer.aws import Clients
    from cryptoconsumer.cli import adopt_render
    from cryptoconsumer.cli.stack_cmds import stack_options
    from cryptoconsumer.config import recorded_fields
    from cryptoconsumer.errors import InputError

    if cloudformation_stack is None:
        raise InputError(
            "--cloudformation-stack is required: the name of the CloudFormation stack to adopt"
        )
    name = check_name(cloudformation_stack)
    if not yes and not dry_run and not sys.stdin.isatty():
        raise InputError("adopt needs --yes when there is no terminal to confirm on")
    forget = recorded_fields(options.get("reset") or ())
    layers, target = stack_options(options)
    output: Output = options["output"]
    reporter = TerminalReporter()
    planned = adoption.prepare(
        layers,
        Clients(target),
        name,
        force_unknown=force_unknown,
        forget=forget,
        reporter=reporter,
    )

    def show(dry: bool, adopted: Any = None) -> None:
        if output is Output.json:
            print_json(adopt_render.document(planned, dry, adopted))
        else:
            out.print(adopt_render.text(planned, dry_run=dry, width=out.width, adopted=adopted))

    if dry_run:
        show(True)
        return
    if not yes and planned.mutating:
        err.print(adopt_render.text(planned, dry_run=True, width=err.width), soft_wrap=True)
        if not typer.confirm(
            f"Adopt and then delete CloudFormation stack {name}?", default=False, err=True
        ):
            raise InputError("not confirmed; nothing was changed")
    show(False, adoption.execute(planned, reporter))


def register(app: typer.Typer) -> None:
    app.command()(adopt)
