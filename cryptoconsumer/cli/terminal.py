"""The terminal: one stdout console for results, one stderr console for progress and errors.

Markup is off on both: AWS names and messages must never be read as rich markup.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

out = Console(markup=False, highlight=False, soft_wrap=True)
err = Console(stderr=True, markup=False, highlight=False)


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
    one_line = " ".join(message.split())
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


class TerminalReporter:
    """Progress on stderr: finished steps as lines, current waits in one spinner.

    Steps run in threads; rich allows one live display, so every wait shares one status line.
    """

    def __init__(self, quiet: bool = False) -> None:
        self._lock = threading.Lock()
        self._waits: list[str] = []
        self._status: Any = None
        self._quiet = quiet

    def info(self, message: str) -> None:
        if not self._quiet:
            err.print(f"  {message}", style="dim")

    @contextlib.contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        if self._quiet:
            yield
            return
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
