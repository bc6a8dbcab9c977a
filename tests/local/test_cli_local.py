"""`demo` and `local start` through the CLI: as a newcomer runs them, and their failures."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cryptoconsumer.cli import app
from cryptoconsumer.local import demo as demo_module
from cryptoconsumer.local.emulator import LOCAL_EXTRA_MISSING
from cryptoconsumer.produce import OutgoingRecord
from tests.local.conftest import wait_for

REPO = Path(__file__).resolve().parents[2]
CLI = (sys.executable, "-m", "cryptoconsumer")
DEMO_KEYS = {"produced", "bad_produced", "table_items", "dead_lettered", "seconds"}


def fresh_machine_env(home: Path) -> dict[str, str]:
    """No credentials, no profile, no config: what a newcomer's shell has."""
    keep = ("PATH", "LANG", "SYSTEMROOT", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(HOME=str(home), PYTHONPATH=str(REPO), NO_COLOR="1", AWS_EC2_METADATA_DISABLED="true")
    return env


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


def test_demo_runs_the_whole_pipeline_on_a_fresh_machine(tmp_path: Path) -> None:
    completed = subprocess.run(
        [*CLI, "demo", "--records", "20", "--bad-records", "3", "--output", "json"],
        cwd=tmp_path,
        env=fresh_machine_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    document = json.loads(completed.stdout)
    assert set(document) == DEMO_KEYS
    assert document["produced"] == document["table_items"] == 20
    assert document["bad_produced"] == document["dead_lettered"] == 3
    assert 0 < document["seconds"] < 120
    assert "Traceback" not in completed.stderr
    assert "deleted table demo_intraday" in completed.stderr


def test_demo_exits_3_when_the_counts_do_not_match(monkeypatch: pytest.MonkeyPatch) -> None:
    # "Malformed" records that are in fact good ticks: the table gets them, the queue does not.
    def good_after_all(index: int) -> OutgoingRecord:
        tick = (
            '{"from_currency_code":"XYZ","to_currency_code":"USD","exchange_rate":1.5,'
            f'"last_refreshed":"2001-01-01 00:00:{index:02d}"}}'
        )
        return OutgoingRecord(tick.encode(), f"good-{index}")

    monkeypatch.setattr(demo_module, "malformed_record", good_after_all)

    result = invoke("demo", "--records", "6", "--bad-records", "2", "--output", "json")

    assert result.exit_code == 3, result.output
    document = json.loads(result.stdout)
    assert (document["table_items"], document["dead_lettered"]) == (8, 0)
    assert "not correct" in result.stderr


BAD_LOCAL_ARGUMENTS = [
    ["demo", "--records", "0"],
    ["demo", "--records", "-1"],
    ["demo", "--records", "100000000"],
    ["demo", "--bad-records", "-1"],
    ["demo", "--bad-records", "100000000"],
    ["demo", "--timeout", "nan"],
    ["demo", "--timeout", "inf"],
    ["demo", "--timeout", "0"],
    ["demo", "--timeout", "-1"],
    ["local", "start", "--port", "99999"],
    ["local", "start", "--port", "-1"],
    ["local", "start", "--port", "65536"],
    ["local", "start", "--host", ""],
    ["local", "start", "--host", "0.0.0.0"],
    ["local", "start", "--host", "::"],
    ["local", "start", "--host", "\x1b]0;owned\x07"],
    ["local", "start", "--shards", "0", "--create-stream", "s"],
    ["local", "start", "--shards", "501", "--create-stream", "s"],
    ["local", "start", "--create-stream", ""],
    ["local", "start", "--create-stream", "bad name"],
    ["local", "start", "--create-stream", "s", "--region", "us-east-1\n"],
]


@pytest.mark.parametrize("arguments", BAD_LOCAL_ARGUMENTS, ids=" ".join)
def test_bad_values_end_in_one_line_before_anything_starts(
    arguments: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptoconsumer.local import pipeline

    def must_not_start(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the emulator was started for bad input")

    monkeypatch.setattr(pipeline, "running", must_not_start)

    result = invoke(*arguments)

    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: --")
    assert "Traceback" not in result.output


def test_allow_remote_warns_what_it_means(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptoconsumer.local import pipeline
    from cryptoconsumer.local.emulator import EmulatorError

    asked: list[str] = []

    def stop_here(host: str, port: int, **kwargs: Any) -> None:
        asked.append(host)
        raise EmulatorError("stopped by the test before binding")

    monkeypatch.setattr(pipeline, "running", stop_here)

    result = invoke("local", "start", "--host", "0.0.0.0", "--allow-remote", "--port", "4566")

    assert asked == ["0.0.0.0"]
    warning, error = result.stderr.strip().splitlines()
    assert warning.startswith("warning: --allow-remote: the emulator listens on 0.0.0.0")
    assert "no authentication" in warning
    assert "anyone who can reach port 4566" in warning
    assert "run code on this machine as the current user" in warning
    assert error == "error: stopped by the test before binding"


@pytest.mark.parametrize("command", [["local", "start"], ["demo"]])
def test_without_moto_the_local_commands_say_which_extra_to_install(
    command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "moto.server", None)

    result = invoke(*command)

    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {LOCAL_EXTRA_MISSING}"


def test_local_start_on_a_taken_port_fails_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = invoke("local", "start", "--port", str(port))

    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}")


@dataclass
class LocalStart:
    process: subprocess.Popen[str]
    stdout: list[str]
    stderr: list[str]

    @property
    def endpoint(self) -> str:
        return endpoint_in(self.stdout)


def endpoint_in(lines: list[str]) -> str:
    """The URL in the "... on http://127.0.0.1:PORT ..." line both commands print."""
    banner = next(line for line in lines if " on http" in line)
    return banner.split(" on ", 1)[1].split()[0]


def start_in_background(tmp_path: Path, *args: str) -> LocalStart:
    process = subprocess.Popen(
        [*CLI, *args],
        cwd=tmp_path,
        env=fresh_machine_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = LocalStart(process, [], [])
    # Both pipes are drained all along, so the server can never block on a full pipe.
    for pipe, lines in ((process.stdout, started.stdout), (process.stderr, started.stderr)):
        threading.Thread(target=lines.extend, args=(pipe,), daemon=True).start()
    return started


@pytest.fixture
def local_start(tmp_path: Path) -> Iterator[LocalStart]:
    """`cryptoconsumer local start --port 0 --create-stream ticks` in its own process."""
    started = start_in_background(
        tmp_path, "local", "start", "--port", "0", "--create-stream", "ticks"
    )
    try:
        wait_for("the endpoint banner", lambda: any(" on http" in x for x in started.stdout))
        yield started
    finally:
        if started.process.poll() is None:
            started.process.kill()
        started.process.wait(timeout=60)


def test_demo_keep_leaves_everything_up_until_interrupted(tmp_path: Path) -> None:
    import boto3

    demo = start_in_background(
        tmp_path, "demo", "--records", "6", "--bad-records", "1", "--keep", "--output", "json"
    )
    try:
        wait_for("the instructions", lambda: any(" on http" in x for x in demo.stderr), 60)
        document = json.loads("".join(demo.stdout))
        assert (document["table_items"], document["dead_lettered"]) == (6, 1)
        endpoint = endpoint_in(demo.stderr)
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        assert dynamodb.scan(TableName="demo_intraday", Select="COUNT")["Count"] == 6

        demo.process.send_signal(signal.SIGTERM)
        assert demo.process.wait(timeout=60) == 0
    finally:
        if demo.process.poll() is None:
            demo.process.kill()


def test_every_command_works_against_local_start(local_start: LocalStart) -> None:
    import boto3

    endpoint = local_start.endpoint
    stream = "arn:aws:kinesis:us-east-1:123456789012:stream/ticks"
    assert any(stream in line for line in local_start.stdout)
    common = ["--stack", "loc", "--endpoint-url", endpoint]
    desired = ["--stream-arn", stream, "--starting-position", "TRIM_HORIZON", *common]

    up = invoke("up", *desired)
    assert up.exit_code == 0, up.output
    produced = invoke(
        "produce",
        "--stream-arn",
        stream,
        "--count",
        "30",
        "--endpoint-url",
        endpoint,
        "--output",
        "json",
    )
    assert produced.exit_code == 0, produced.output
    assert json.loads(produced.stdout)["produced"] == 30

    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    wait_for(
        "30 items in the table",
        lambda: dynamodb.scan(TableName="loc_intraday", Select="COUNT")["Count"] == 30,
    )

    def status() -> dict[str, Any]:
        result = invoke("status", *desired, "--output", "json")
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    # CloudWatch (and moto) show a datapoint once its second has passed.
    wait_for("the poller's metrics", lambda: status()["metrics"]["invocations"])
    metrics = status()["metrics"]
    assert metrics["errors"] == 0
    assert metrics["max_iterator_age_ms"] is not None
    destroyed = invoke("destroy", "--delete-table", "--yes", *common, "--region", "us-east-1")
    assert destroyed.exit_code == 0, destroyed.output

    local_start.process.send_signal(signal.SIGTERM)
    assert local_start.process.wait(timeout=60) == 0
    wait_for("the summary", lambda: any("invocation(s)" in x for x in local_start.stderr))
    assert "Traceback" not in "".join(local_start.stderr)
