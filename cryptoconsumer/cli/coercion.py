"""Typer's value coercion, without pydantic for the plain values every command takes.

Typer (0.2x) turns each option's value into its type with a pydantic TypeAdapter that it
builds the first time the option is processed, even for an option left unset: importing
pydantic and building ~30 adapters was a fifth of `plan`'s start-up. Here the values whose
result is certain are taken as typer's adapters would return them (a str as itself, a plain
decimal as its int, an Enum member as itself, a choice by typer's own matching, a custom
parser's result); any other value, a bad one above all, goes through typer's own coercion,
so its result and its error message stay typer's. Without that machinery (another typer)
nothing is installed.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, get_args, get_origin

# What pydantic's int accepts from a str and int() reads the same: ASCII digits, no sign
# but "-", no spaces or underscores, not so long that a size limit could differ.
_DECIMAL = re.compile(r"-?[0-9]{1,18}")
_UNSURE = object()


class PlainFirst:
    """Stands for typer's runtime coercion of one parameter (its `coerce` is all typer uses)."""

    def __init__(self, descriptor: Any, build: Any) -> None:
        self._descriptor = descriptor
        self._build = build
        self._typer: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = param.multiple or param.nargs == -1
        if value is None:
            return () if multiple else None
        found = self._quick(value, multiple, ctx)
        if found is not _UNSURE:
            return found
        if self._typer is None:
            self._typer = self._build(self._descriptor)
        return self._typer.coerce(value, param=param, ctx=ctx)

    def _quick(self, value: Any, multiple: bool, ctx: Any) -> Any:
        annotation = self._descriptor.annotation
        if self._descriptor.file_annotation is not None:
            return _UNSURE
        if not multiple:
            return self._plain(value, annotation, ctx)
        if not isinstance(value, list | tuple) or get_origin(annotation) is not list:
            return _UNSURE
        (inner,) = get_args(annotation)
        items = [self._plain(item, inner, ctx) for item in value]
        return _UNSURE if any(item is _UNSURE for item in items) else items

    def _plain(self, value: Any, annotation: Any, ctx: Any) -> Any:
        info = self._descriptor.parameter_info
        if info.parser is not None:
            try:
                return info.parser(value)
            except Exception:
                return _UNSURE  # typer's own call says how it fails
        if annotation is str:
            return value if type(value) is str else _UNSURE
        if annotation is int:
            if info.min is not None or info.max is not None or info.clamp:
                return _UNSURE
            if type(value) is int:
                return value
            if type(value) is str and _DECIMAL.fullmatch(value):
                return int(value)
            return _UNSURE
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            return _choice(value, annotation, info.case_sensitive, ctx)
        return _UNSURE


def _choice(value: Any, annotation: type[Enum], case_sensitive: bool, ctx: Any) -> Any:
    try:
        from typer._param_types import coerce_cli_choice
    except ImportError:
        return _UNSURE
    try:
        return coerce_cli_choice(
            value, choices=tuple(annotation), case_sensitive=case_sensitive, ctx=ctx
        )
    except ValueError:
        return _UNSURE


def install() -> None:
    """Make `PlainFirst` typer's coercion of every parameter (a typer without it: nothing)."""
    try:
        from typer._coercion import build_runtime_param
        from typer.core import _TyperParameter
    except ImportError:
        return
    if not callable(getattr(_TyperParameter, "get_runtime_param", None)):
        return

    def get_runtime_param(param: Any) -> Any:
        if getattr(param, "_runtime_param", None) is None:
            param._runtime_param = PlainFirst(param.type_descriptor, build_runtime_param)
        return param._runtime_param

    _TyperParameter.get_runtime_param = get_runtime_param
