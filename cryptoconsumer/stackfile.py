"""The stack file: `cryptoconsumer.toml`, checked in, holding the options of one or more stacks.

    [default]                 # every environment starts from these
    region = "eu-west-1"
    stream-arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/ticks"

    [default.status]          # options of one command only
    window = "30m"

    [prod]                    # an environment: `cryptoconsumer up --env prod`
    stack = "crypto-prod"
    batch-size = 500

Keys are option names without their dashes. An environment's values override `[default]`'s,
a command's table overrides its environment's. What the file says is weaker than the command
line and CRYPTOCONSUMER_* variables, and stronger than what is recorded on the stack.

This module reads the file and says where each key is (file and line) for error messages; which
keys are options of which command is the CLI's knowledge (cli/sources.py).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptoconsumer.errors import InputError

FILE_NAME = "cryptoconsumer.toml"
DEFAULT_ENV = "default"
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_PART = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_PART}(?:\s*\.\s*{_PART})*)\s*=")


@dataclass(frozen=True)
class Entry:
    """One option's value in the file, and where it is."""

    key: str
    value: Any
    table: tuple[str, ...]
    path: Path
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}: [{'.'.join(self.table)}] {self.key}"


def _split_dotted(text: str) -> tuple[str, ...]:
    parts = re.findall(_PART, text)
    return tuple(part.strip("\"'") for part in parts)


def _line_numbers(text: str) -> dict[tuple[str, ...], int]:
    """Where each table and key starts: (table..., key) -> line number (1-based)."""
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            lines.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault((*table, *_split_dotted(key.group(1))), number)
    return lines


@dataclass(frozen=True)
class StackFile:
    path: Path
    tables: dict[str, Any]
    lines: dict[tuple[str, ...], int]

    def line_of(self, *path: str) -> int:
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1

    def entry(self, table: tuple[str, ...], key: str, value: Any) -> Entry:
        return Entry(key, value, table, self.path, self.line_of(*table, key))

    @property
    def environments(self) -> list[str]:
        return sorted(self.tables)

    def walk(self) -> Iterator[tuple[tuple[str, ...], str, Any]]:
        """Every (table path, key, value) in the file, tables given by their full path."""

        def visit(path: tuple[str, ...], table: dict[str, Any]) -> Iterator[Any]:
            for key, value in table.items():
                if isinstance(value, dict):
                    yield from visit((*path, key), value)
                else:
                    yield path, key, value

        for name, table in self.tables.items():
            if not isinstance(table, dict):
                raise InputError(
                    f"{self.path}:{self.line_of(name)}: {name} must be a table ([{name}]): the "
                    "top level of a stack file holds environments only"
                )
            yield from visit((name,), table)

    def _scalars(self, path: tuple[str, ...], table: dict[str, Any]) -> dict[str, Entry]:
        return {
            key: self.entry(path, key, value)
            for key, value in table.items()
            if not isinstance(value, dict)
        }

    def entries(self, env: str, command: tuple[str, ...]) -> dict[str, Entry]:
        """What the file says for one command in one environment; later scopes win."""
        if env != DEFAULT_ENV and env not in self.tables:
            known = ", ".join(self.environments) or "none"
            raise InputError(f"--env {env!r}: {self.path} has no [{env}] (environments: {known})")
        chosen: dict[str, Entry] = {}
        for name in dict.fromkeys((DEFAULT_ENV, env)):
            table = self.tables.get(name) or {}
            chosen.update(self._scalars((name,), table))
            node: Any = table
            for part in command:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and command:
                chosen.update(self._scalars((name, *command), node))
        return chosen


def _tomllib() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def load(path: Path) -> StackFile:
    """Read and parse the file; a syntax error names the file and line (exit 2)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the stack file {path}: {err}") from None
    tomllib = _tomllib()
    try:
        tables = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{path}: not valid TOML: {err}") from None
    return StackFile(path, tables, _line_numbers(text))


def find(explicit: str | None, cwd: Path | None = None) -> Path | None:
    """--config / CRYPTOCONSUMER_CONFIG when given (it must exist), else ./cryptoconsumer.toml."""
    if explicit is not None:
        path = Path(explicit)
        try:
            found = path.is_file()
        except OSError as err:  # a name too long for the file system, say
            raise InputError(f"--config: cannot use that path ({err.strerror})") from None
        if not found:
            raise InputError(f"--config {explicit!r}: no such file")
        return path
    candidate = (cwd or Path.cwd()) / FILE_NAME
    return candidate if candidate.is_file() else None


STARTER = """\
# {file_name}: the options of this consumer's stacks, checked in and reviewed like code.
# Every key is a command-line option without its dashes (see `cryptoconsumer up --help`).
# Which value wins: the command line > CRYPTOCONSUMER_* variables > this file > the settings
# `up` recorded on the stack > the built-in defaults. Consent to destructive steps (--yes,
# --delete-table, --replace-mapping, ...) is never read from here: give it on the command line.

[default]                       # every environment starts from these
stack = "{stack}"
region = "{region}"
stream-arn = "{stream_arn}"
# starting-position = "LATEST"  # LATEST, TRIM_HORIZON, or AT_TIMESTAMP + starting-timestamp
# batch-size = 100              # records per invocation, 1-10000
# batch-window = 0              # seconds to gather a batch, 0-300
# parallelization-factor = 1    # concurrent batches per shard, 1-10
# max-retries = 3               # -1 = until the record expires
# max-record-age = 3600         # seconds; -1 = the stream's retention
# enhanced-fan-out = false      # a registered consumer of its own: 2 MB/s per shard
# memory = 256                  # MB
# timeout = 20                  # seconds
# log-retention-days = 30

[default.status]                # options of one command only
# window = "15m"
# max-iterator-age = "60s"

# Another environment, used with `--env prod`; its values override [default]'s.
# [prod]
# stack = "{stack}-prod"
# stream-arn = "arn:aws:kinesis:{region}:ACCOUNT:stream/NAME"
"""


def starter(stream_arn: str, stack: str, region: str) -> str:
    """A commented stack file for one stream (`cryptoconsumer init`)."""
    return STARTER.format(file_name=FILE_NAME, stack=stack, region=region, stream_arn=stream_arn)
