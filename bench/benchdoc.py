"""docs/benchmarks.md: each benchmark replaces its own section and leaves the others."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(
    heading: str, text: str, doc: Path = DOC, old_headings: tuple[str, ...] = ()
) -> None:
    """Replace the section that starts with `heading` or one of its `old_headings` (up to the
    next `## `), or append it."""
    current = doc.read_text() if doc.exists() else "# Benchmarks\n"
    headings = "|".join(re.escape(h) for h in (heading, *old_headings))
    pattern = re.compile(rf"^(?:{headings})\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip() + "\n\n", current)
    else:
        updated = current.rstrip() + "\n\n" + text
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(updated.rstrip() + "\n")
