"""The plain-value coercion gives what typer's own gives, value for value and error for error."""

from __future__ import annotations

import subprocess
import sys
from enum import Enum
from typing import Any

import pytest
import typer
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param, resolve_type_descriptor
from typer.core import TyperCommand
from typer.models import OptionInfo

from cryptoconsumer.cli.coercion import PlainFirst


class Colour(str, Enum):
    red = "red"
    blue = "blue"


def _seconds(text: Any) -> int:
    if str(text).endswith("m"):
        return int(str(text)[:-1]) * 60
    raise ValueError(f"not minutes: {text!r}")


class _Param:
    def __init__(self, multiple: bool) -> None:
        self.multiple = multiple
        self.nargs = 1


def _both(annotation: Any, value: Any, multiple: bool = False, **info: Any) -> tuple[Any, Any]:
    descriptor = resolve_type_descriptor(annotation, OptionInfo(**info))
    ctx = typer.Context(TyperCommand("plan"))
    param = _Param(multiple)
    results = []
    for coercion in (PlainFirst(descriptor, build_runtime_param), build_runtime_param(descriptor)):
        try:
            results.append(("ok", coercion.coerce(value, param=param, ctx=ctx)))
        except BadParameter as err:
            results.append(("bad", err.message))
    return results[0], results[1]


@pytest.mark.parametrize(
    "value", ["crypto", "", " spaced ", "\udcff", 5, 2.5, True, None, b"bytes"]
)
def test_str(value):
    ours, typers = _both(str, value)
    assert ours == typers


@pytest.mark.parametrize(
    "value",
    [
        *("0", "007", "-5", "+5", " 5", "1_000", "5.0", "1e3", "\u0663", "x", ""),
        *(30, True, 2.5, None, "9" * 18, "9" * 19, "-" + "9" * 18),
    ],
)
def test_int(value):
    ours, typers = _both(int, value)
    assert ours == typers
    assert type(ours[1]) is type(typers[1])


@pytest.mark.parametrize("value", [Colour.red, "blue", "BLUE", "green", 1])
@pytest.mark.parametrize("case_sensitive", [True, False])
def test_enum(value, case_sensitive):
    ours, typers = _both(Colour, value, case_sensitive=case_sensitive)
    assert ours == typers


@pytest.mark.parametrize("value", [("a", "b"), [], ("a", 5), "a", None, ("",)])
def test_list_of_str(value):
    ours, typers = _both(list[str], value, multiple=True)
    assert ours == typers


@pytest.mark.parametrize("value", [("1", "2"), ("1", "x"), (3,)])
def test_list_of_int(value):
    ours, typers = _both(list[int], value, multiple=True)
    assert ours == typers


@pytest.mark.parametrize("value", ["15m", "15", 900])
def test_parser(value):
    ours, typers = _both(int, value, parser=_seconds)
    assert ours == typers


@pytest.mark.parametrize("value", ["5", "50", "x"])
def test_ranged_int(value):
    ours, typers = _both(int, value, min=1, max=10)
    assert ours == typers


def test_plan_with_plain_values_does_not_import_pydantic(tmp_path):
    code = (
        "import sys\n"
        "sys.argv = ['cryptoconsumer', 'plan', '--stream-arn', 'nonsense', '--timeout', '30']\n"
        "from cryptoconsumer.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('pydantic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert "stream" in done.stderr  # refused as bad input, after every option was parsed
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout + done.stderr
