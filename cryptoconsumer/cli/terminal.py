"""The terminal: one stdout console for results, one stderr console for progress and errors
(both `GuardedConsole`s from cli/console.py, made on first use), the error guard, JSON output,
and progress."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer
from typer.core import TyperCommand

from cryptoconsumer.cli.inert import inert

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 1
# `plan --detailed-exitcode`, as Terraform's -detailed-exitcode: 0 no changes, 2 changes, and
# every error 1, bad input included (bad input is 2 everywhere else, which would read as
# "changes" to a CI gate).
EXIT_CHANGES = 2
DETAILED_FLAG = "--detailed-exitcode"
DETAILED_ENV = "CRYPTOCONSUMER_DETAILED_EXITCODE"
_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})


class LazyConsole:
    """Stands for a `GuardedConsole` (cli/console.py), made on first use; `real` is that
    console, for rich objects that need one (Live, Progress)."""

    def __init__(self, stderr: bool) -> None:
        object.__setattr__(self, "_stderr", stderr)
        object.__setattr__(self, "_console", None)

    @property
    def real(self) -> Any:
        if self._console is None:
            from cryptoconsumer.cli.console import make

            object.__setattr__(self, "_console", make(self._stderr))
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.real, name, value)


out = LazyConsole(stderr=False)
err = LazyConsole(stderr=True)


def print_json(document: Any) -> None:
    """Exactly one JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_json_line(document: Any) -> None:
    """One compact JSON document per line, for commands that follow or watch."""
    sys.stdout.write(json.dumps(document, default=str) + "\n")
    sys.stdout.flush()


def abort(message: str, code: int) -> typer.Exit:
    # One line whatever the width: scripts and CI logs read it; rich would wrap it at 80.
    # The message may quote AWS or a record: its control characters (newlines included) are
    # shown escaped, so it stays one line and cannot drive the terminal.
    one_line = " ".join(inert(message).split())
    err.print(f"error: {one_line}", style="red", soft_wrap=True)
    return typer.Exit(code)


def guarded(command: F) -> F:
    """Expected failures end as one line on stderr and a documented exit code."""
    from cryptoconsumer.errors import CryptoConsumerError

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CryptoConsumerError as error:
            raise abort(str(error), error.exit_code) from None
        except KeyboardInterrupt:
            raise abort("interrupted; run the same command again to converge", 130) from None
        except Exception as error:
            from botocore.exceptions import BotoCoreError, ClientError

            from cryptoconsumer.aws import translate

            if isinstance(error, BotoCoreError | ClientError):
                translated = translate(error, "AWS call")
                raise abort(str(translated), translated.exit_code) from None
            raise

    return run  # type: ignore[return-value]


@contextlib.contextmanager
def detailed_exit_codes(enabled: bool) -> Iterator[None]:
    """Inside, with `enabled`, an error that would end with exit 2 (bad input) ends with 1."""
    from cryptoconsumer.errors import CryptoConsumerError

    try:
        yield
    except CryptoConsumerError as error:
        if enabled and error.exit_code == EXIT_CHANGES:
            raise abort(str(error), EXIT_ERROR) from None
        raise


class DetailedExitCodeCommand(TyperCommand):
    """`plan`'s command class: click ends a usage error (a bad option value) with exit 2,
    before the command runs; with --detailed-exitcode that must be 1, since 2 means changes."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        requested = DETAILED_FLAG in args or (
            os.environ.get(DETAILED_ENV, "").strip().lower() in _TRUE_WORDS
        )
        try:
            return super().parse_args(ctx, args)
        except Exception as error:
            # Typer vendors its own click, so match click's usage errors by their exit code.
            if requested and getattr(error, "exit_code", None) == EXIT_CHANGES:
                error.exit_code = EXIT_ERROR  # type: ignore[attr-defined]
            raise


class TerminalReporter:
    """Progress on stderr: finished steps as lines, current waits in one spinner.

    Steps run in threads; rich allows one live display, so every wait shares one status line.
    """

    def __init__(self, quiet: bool = False) -> None:
        self._lock = threading.Lock()
        self._waits: list[str] = []
        self._status: Any = None
        self._quiet = quiet

    # Progress messages name AWS resources: each is shown as one inert line.
    def info(self, message: str) -> None:
        if not self._quiet:
            err.print(f"  {inert(message)}", style="dim")

    @contextlib.contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        if self._quiet:
            yield
            return
        message = inert(message)
        with self._lock:
            self._waits.append(message)
            if not err.is_terminal:
                err.print(f"  {message}...", style="dim")
            self._refresh()
        try:
            yield
        finally:
            with self._lock:
                self._waits.remove(message)
                self._refresh()

    def _refresh(self) -> None:
        if not err.is_terminal:
            return
        if self._waits and self._status is None:
            self._status = err.status(self._text())
            self._status.start()
        elif self._waits:
            self._status.update(self._text())
        elif self._status is not None:
            self._status.stop()
            self._status = None

    def _text(self) -> str:
        more = f" (+{len(self._waits) - 1} more)" if len(self._waits) > 1 else ""
        return self._waits[-1] + more
