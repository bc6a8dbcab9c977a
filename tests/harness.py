"""Run the CLI in-process with CliRunner against the worker's moto server.

Two independent witnesses count AWS calls: the server's request log (what reached "AWS") and
`api_calls`, a wrapper around botocore's one entry point for every operation of every client
in this process (what the code tried, even towards another endpoint).

tests/conftest.py offers the fixtures `run` and `api_calls` to every test.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.moto_server import READ_PREFIXES, MotoServer

AWS_COMMANDS = ("up", "plan", "status", "destroy")


@dataclass
class Result:
    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def json(self) -> Any:
        """The one JSON document on stdout (json.loads fails if there is anything else)."""
        return json.loads(self.stdout)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __str__(self) -> str:
        return (
            f"cryptoconsumer {' '.join(self.args)} -> exit {self.exit_code}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}\n"
            f"--- exception ---\n{self.exception!r}"
        )


def assert_no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), str(result)
    assert "Traceback" not in result.stdout + result.stderr, str(result)


@pytest.fixture
def run(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`run("up", "--stream-arn", arn)`: the endpoint is added for AWS commands."""
    from cryptoconsumer.cli import app, terminal

    # A wide fixed width: rich reads COLUMNS once at import when it is set, so pin it here.
    for console in (terminal.out.real, terminal.err.real):
        monkeypatch.setattr(console, "_width", 250)
    monkeypatch.setenv("NO_COLOR", "1")
    runner = CliRunner()

    def invoke(*args: str, endpoint: bool = True, input: str | None = None) -> Result:
        argv = list(args)
        if endpoint and argv and argv[0] in AWS_COMMANDS and "--endpoint-url" not in argv:
            argv += ["--endpoint-url", moto.url]
        outcome = runner.invoke(app, argv, input=input, catch_exceptions=True)
        result = Result(
            tuple(argv), outcome.exit_code, outcome.stdout, outcome.stderr, outcome.exception
        )
        assert_no_traceback(result)
        return result

    return invoke


@dataclass
class ApiCalls:
    calls: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, service: str, operation: str) -> None:
        with self.lock:
            self.calls.append((service, operation))

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()

    def operations(self) -> Counter[str]:
        return Counter(f"{service}:{operation}" for service, operation in self.calls)

    def mutating(self) -> list[str]:
        return [f"{s}:{o}" for s, o in self.calls if not o.startswith(READ_PREFIXES)]

    def reads(self) -> list[str]:
        return [f"{s}:{o}" for s, o in self.calls if o.startswith(READ_PREFIXES)]


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiCalls]:
    """Every botocore operation any client in this process makes, by service and name."""
    from botocore.client import BaseClient

    recorder = ApiCalls()
    original = BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        recorder.record(self.meta.service_model.service_name, operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    yield recorder
