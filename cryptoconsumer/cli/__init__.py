"""The `cryptoconsumer` command. Heavy imports (boto3, moto) stay inside the commands."""

import typer

from cryptoconsumer import __version__


def _version(value: bool) -> None:
    if value:
        print(f"cryptoconsumer {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="cryptoconsumer",
    help="Stand up and run a Kinesis -> Lambda -> DynamoDB crypto-price consumer on AWS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Exit codes: 0 ok, 1 AWS or runtime failure, 2 invalid input or refused confirmation,
    3 `status`/`check`/`demo` found the stack missing, unhealthy, drifted or incorrect."""


def _register() -> None:
    from cryptoconsumer.cli import stack_cmds

    stack_cmds.register(app)
    try:
        from cryptoconsumer.cli import ops_cmds
    except ImportError:
        pass
    else:
        ops_cmds.register(app)
    try:
        from cryptoconsumer.cli import local_cmds
    except ImportError:
        return
    local_cmds.register(app)


_register()


def main() -> None:
    app()
