"""Text from outside (AWS answers, records, log events) made inert before it reaches a terminal.

A record's payload, a log message, an AWS name or error message is data. Printed raw, an
escape sequence in it could clear the screen (ESC [ 2 J), set the window title (ESC ] 0;...
BEL), move the cursor over earlier lines (CR, BS, 8-bit CSI \\x9b), reorder what is shown
(bidi overrides such as U+202E) or, with a newline, add a line that looks like ours. So every
such character is shown as a Python-style escape instead: `\\x1b`, `\\r`, `\\n`, `\\u202e`.

What is escaped: every control character (Unicode category Cc: C0, DEL and C1), every format
character (Cf: bidi controls, zero-width characters, BOM, tag characters), line and paragraph
separators (Zl, Zp) and lone surrogates (Cs, which could not even be encoded for the terminal).
Backslashes are not doubled: the escapes are for reading; JSON output holds the exact value.
"""

from __future__ import annotations

import unicodedata

ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_char(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _escaped(text: str, keep: str) -> str:
    if text.isprintable():  # the common case: nothing to look at (isprintable is False for all)
        return text
    return "".join(
        escape_char(char)
        if char not in keep and unicodedata.category(char) in ESCAPED_CATEGORIES
        else char
        for char in text
    )


def inert(value: object, *, keep_tabs: bool = False) -> str:
    """`value` as one line of plain text that cannot drive a terminal.

    Newlines are escaped too, so outside text can never start a line of its own. Tabs are kept
    only where asked (log lines, whose fields Lambda's runtime separates with tabs).
    """
    text = value if isinstance(value, str) else str(value)
    return _escaped(text, "\t" if keep_tabs else "")


def guard(text: str) -> str:
    """The terminal's last line of defence: like `inert`, but the layout's own newlines and
    tabs stay (it sees rendered text, where a newline may be the renderer's)."""
    return _escaped(text, "\n\t")
