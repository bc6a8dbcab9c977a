"""Every option of every command, given a hostile value: one line, exit 2, no AWS request.

The commands and options are read from the CLI itself, so a new option is covered the day
it is added. A hostile value that an option genuinely takes (a filter pattern may hold any
text, -1 means "forever" for --max-retries) is listed in ACCEPTED with why; for those the
test only asks that nothing crashes.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer

from cryptoconsumer.cli.sources import command_tree
from cryptoconsumer.config import FUNCTION_NAME, QUEUE_NAME, ROLE_NAME, STACK_NAME, TABLE_NAME
from cryptoconsumer.ops.prices import TICKER

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/ticks"
HOSTILE = {
    "empty": "",
    "blank": "   ",
    "huge": "x" * 5000,
    "huge digits": "9" * 5000,
    "non-ascii": "éß中１５",
    "control": "\x1b[2J\x1b]0;owned\x07",
    "newline": "ok\nerror: spoofed",
    "markup": "[bold red]x[/bold red]",
    "wrong-service arn": "arn:aws:sqs:us-east-1:123456789012:queue",
    "negative": "-1",
    "nan": "nan",
    "infinite": "inf",
    "zero": "0",
}
# (command, option, hostile kind): taken, with the reason.
ACCEPTED = {
    # A CloudWatch Logs filter pattern is free text, brackets and ARNs included.
    ("logs", "--filter", "huge"): "a pattern (CloudWatch answers if it is too long)",
    ("logs", "--filter", "huge digits"): "a pattern",
    ("logs", "--filter", "non-ascii"): "a pattern",
    ("logs", "--filter", "markup"): "a pattern ([a, b] is CloudWatch's syntax)",
    ("logs", "--filter", "wrong-service arn"): "a pattern",
    ("logs", "--filter", "negative"): "a pattern",
    ("logs", "--filter", "nan"): "a pattern",
    ("logs", "--filter", "infinite"): "a pattern",
    ("logs", "--filter", "zero"): "a pattern",
    # -1 is Lambda's "forever"; 0 is a count these options take.
    **{
        (c, "--max-retries", "negative"): "-1: retry until the record expires"
        for c in ("up", "plan", "status")
    },
    **{(c, "--max-retries", "zero"): "no retries" for c in ("up", "plan", "status")},
    **{(c, "--max-record-age", "negative"): "-1: no age limit" for c in ("up", "plan", "status")},
    **{(c, "--batch-window", "zero"): "no batching window" for c in ("up", "plan", "status")},
    ("demo", "--bad-records", "zero"): "a demo without malformed records",
    ("local start", "--port", "zero"): "any free port",
}
# A name that follows AWS's own rule for that name is a name, whatever it looks like ("nan"
# is a valid function name): those hostile texts are taken, by the rule itself.
NAME_RULES = {
    "--stack": STACK_NAME,
    "--table-name": TABLE_NAME,
    "--function-name": FUNCTION_NAME,
    "--role-name": ROLE_NAME,
    "--queue-name": QUEUE_NAME,
}
KINESIS_STREAM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
# Files these write may have any name the file system takes (the folder is the test's own).
FILE_OPTIONS = {
    ("init", "--output-file"),
    ("package", "--output-file"),
    ("dlq redrive", "--export"),
}
TICKER_OPTIONS = {("latest", "--ticker"), ("history", "--ticker")}


def _taken_by_rule(name: str, option: str, kind: str) -> bool:
    text = HOSTILE[kind]
    if option in NAME_RULES:
        return NAME_RULES[option].fullmatch(text) is not None
    if (name, option) == ("local start", "--create-stream"):
        return KINESIS_STREAM_NAME.fullmatch(text) is not None
    if (name, option) in FILE_OPTIONS:
        return bool(text.strip()) and text.isprintable() and len(text.encode()) <= 255
    if (name, option) in TICKER_OPTIONS:
        return text.isascii() and TICKER.fullmatch(text.upper()) is not None
    return False


# What a command needs besides the option under test, as valid values.
REQUIRED = {
    "history": ["--ticker", "BTCUSD"],
    "init": ["--stream-arn", ARN],
    "produce": ["--stream-arn", ARN],
}
# Commands that would run for minutes when their input is good: only refusals are expected.
LONG_RUNNING = {"demo", "local start"}
STARTED = 99  # the exit code of such a command once its input has been accepted


def _commands() -> list[tuple[str, Any]]:
    from typer.main import get_command

    from cryptoconsumer.cli import app

    return [(" ".join(path), command) for path, command in command_tree(get_command(app))]


def _valued_options(command: Any) -> list[str]:
    return [
        next(opt for opt in param.opts if opt.startswith("--"))
        for param in command.params
        if getattr(param, "opts", None) and not getattr(param, "is_flag", False)
    ]


CASES = [
    (name, option, kind)
    for name, command in _commands()
    for option in _valued_options(command)
    for kind in HOSTILE
]


@pytest.fixture
def no_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """An input `demo` or `local start` accepted would start them: fail at once instead."""
    from cryptoconsumer.local import pipeline

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise typer.Exit(STARTED)

    monkeypatch.setattr(pipeline, "running", refuse)


@pytest.mark.parametrize(("name", "kind"), [(n, k) for n, _ in _commands() for k in HOSTILE])
def test_every_option_refuses_hostile_values_before_any_request(
    run, moto, api_calls, tmp_path, monkeypatch, no_emulator, name, kind
):
    monkeypatch.chdir(tmp_path)  # no stack file, and files named by values land here
    command = dict(_commands())[name]
    options = _valued_options(command)
    accepted: list[tuple[str, str, str]] = []
    failures: list[str] = []
    for option in options:
        args = [*name.split(), *REQUIRED.get(name, [])]
        if option in args:
            args[args.index(option) + 1] = HOSTILE[kind]
        else:
            args += [option, HOSTILE[kind]]
        if option != "--endpoint-url" and "--endpoint-url" in options:
            args += ["--endpoint-url", moto.url]
        moto.clear_log()
        api_calls.clear()
        case = (name, option, kind)
        try:
            result = run(*args, endpoint=False)
        except AssertionError as crash:  # the harness refuses tracebacks
            failures.append(f"{case}: crashed: {str(crash)[-300:]!r}")
            continue
        if case in ACCEPTED or _taken_by_rule(*case):
            accepted.append(case)
            continue
        problem = _refusal_problem(result, moto, api_calls)
        if problem:
            failures.append(f"{case}: {problem}: {result.stderr.strip()[:300]!r}")
    assert failures == [], "\n".join(failures)
    assert {c for c in ACCEPTED if c[0] == name and c[2] == kind} <= set(accepted)


def _refusal_problem(result: Any, moto: Any, api_calls: Any) -> str:
    """What is wrong with how a hostile value was refused; "" when it was refused right."""
    if result.exit_code != 2:
        return f"exit {result.exit_code}, not refused"
    if len(result.error_lines) != 1 or not result.error_lines[0].startswith("error: "):
        return "not one error line"
    if "\x1b" in result.stderr or "\x07" in result.stderr or result.stdout:
        return "raw control characters, or output on stdout"
    if moto.requests:
        return f"requests reached AWS: {[str(r) for r in moto.requests]}"
    if api_calls.calls:
        return f"botocore was asked to call AWS: {api_calls.calls}"
    return ""


def test_the_table_covers_every_command_and_option():
    names = {name for name, _ in _commands()}
    assert {"up", "plan", "status", "destroy", "check", "logs", "produce", "demo"} <= names
    assert len(CASES) > 1000
    # Every exception listed is a real option of a real command.
    for name, option, kind in ACCEPTED:
        assert option in _valued_options(dict(_commands())[name]), (name, option)
        assert kind in HOSTILE
