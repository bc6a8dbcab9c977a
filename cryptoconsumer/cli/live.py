"""Redraw-in-place loops (`status --watch`), ended by Ctrl-C.

Text output redraws one rich Live view; JSON output prints one compact document per round
(JSON lines), so a script can follow it line by line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from cryptoconsumer.cli.inert import inert
from cryptoconsumer.cli.terminal import err, out, print_json_line

T = TypeVar("T")

# Module-level so tests can replace the wait between rounds.
sleep = time.sleep


def watch(
    read: Callable[[], T],
    view: Callable[[T], Any],
    document: Callable[[T], Any] | None,
    interval: float,
) -> T | None:
    """Read and redraw every `interval` seconds until Ctrl-C; returns the last reading.

    An AWS error in one round is shown and the next round tries again: a watch outlives a
    throttled call or a dropped connection.
    """
    from rich.live import Live
    from rich.text import Text

    from cryptoconsumer.errors import AwsError

    last: T | None = None
    try:
        if document is not None:
            while True:
                try:
                    last = read()
                    print_json_line(document(last))
                except AwsError as error:
                    print_json_line({"error": str(error)})
                sleep(interval)
        with Live(console=out.real, auto_refresh=False, redirect_stderr=False) as live:
            while True:
                try:
                    last = read()
                    live.update(view(last), refresh=True)
                except AwsError as error:
                    shown = inert(str(error))
                    live.update(Text(f"error: {shown} (retrying in {interval:g} s)"), refresh=True)
                sleep(interval)
    except KeyboardInterrupt:
        err.print("stopped watching")
    return last
