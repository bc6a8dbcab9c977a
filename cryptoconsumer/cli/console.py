"""The rich consoles, made on first use: `cryptoconsumer --help` never imports rich's console.

Markup is off on both: AWS names and messages must never be read as rich markup. Both are a
`GuardedConsole`: whatever a renderer hands them, no control character of the content reaches
the terminal (see `inert`), and styling is emitted only on a terminal without NO_COLOR.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from rich.console import Console
from rich.segment import Segment

from cryptoconsumer.cli.inert import guard


class GuardedConsole(Console):
    """A rich Console whose output can carry no escape sequence of its content.

    Every renderable ends as segments; this is the one place they become the written string,
    so guarding here cannot be forgotten by a renderer. Segments rich marks as control (the
    spinner's cursor movements) are its own and stay. Renderers still pass outside text
    through `inert` first: only they can tell a value's newline from the layout's.
    """

    def colour(self) -> bool:
        """Styles only on a terminal, and never with NO_COLOR (no-color.org): read per write,
        so the environment of the moment decides. Without styles nothing is lost: every
        symbol and word is in the text itself."""
        return (
            self.is_terminal
            and not self.is_dumb_terminal
            and not os.environ.get("NO_COLOR")
            and self.color_system is not None
        )

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        styled = self.colour()
        safe = [
            segment
            if segment.control
            else Segment(guard(segment.text), segment.style if styled else None)
            for segment in buffer
        ]
        return super()._render_buffer(safe)


def make(stderr: bool) -> GuardedConsole:
    # No wrapping by rich: a result or progress line stays one line (the terminal folds it on
    # screen), so logs, scripts and copy-paste get whole lines; renderers wrap where they choose.
    return GuardedConsole(stderr=stderr, markup=False, highlight=False, soft_wrap=True)
