"""The `cryptoconsumer` command. Heavy imports (boto3, moto) stay inside the commands."""

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from cryptoconsumer import __version__
from cryptoconsumer.cli import coercion
from cryptoconsumer.cli.inert import inert
from cryptoconsumer.errors import CryptoConsumerError

coercion.install()


class OneLineErrors(TyperGroup):
    """A usage error (unknown option, a value of the wrong type) is one line on stderr and
    exit 2, like every other bad input: scripts and CI logs read it."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except CryptoConsumerError as error:
            # Raised while a value is parsed (a duration, say), before the command's own guard.
            print("error: " + inert(" ".join(str(error).split())), file=sys.stderr)
            code = error.exit_code
        except typer.Abort:
            print("error: aborted", file=sys.stderr)
            code = 1
        except typer.TyperException as error:
            shown = getattr(error, "format_message", None)
            message = str(shown() if callable(shown) else error)
            if type(error).__name__ == "NoArgsIsHelpError":
                print(message, file=sys.stderr)  # a group called alone: its help
            else:
                print("error: " + inert(" ".join(message.split())), file=sys.stderr)
            code = getattr(error, "exit_code", 2)
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _version(value: bool) -> None:
    if value:
        print(f"cryptoconsumer {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="cryptoconsumer",
    cls=OneLineErrors,
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
    from cryptoconsumer.cli import adopt_cmd, stack_cmds

    stack_cmds.register(app)
    adopt_cmd.register(app)
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
