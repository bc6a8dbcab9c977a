"""The stack file: environments, precedence, and errors that name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/ticks"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, text: str, name: str = "cryptoconsumer.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def settings_of(result) -> dict[str, tuple[object, str]]:
    return {s["option"]: (s["value"], s["origin"]) for s in result.json()["settings"]}


STACK_FILE = f"""
[default]
stream-arn = "{ARN}"
batch-size = 200
max-retries = 5

[default.plan]
memory = 512

[prod]
stack = "prod"
batch-size = 500
"""


def test_the_file_in_this_folder_feeds_every_command_and_an_environment_overrides(
    run, here, make_stream
):
    make_stream("ticks")
    write(here, STACK_FILE)

    default = run("plan", "--output", "json")
    prod = run("plan", "--env", "prod", "--output", "json")

    assert default.exit_code == 0, str(default)
    assert default.json()["stack"] == "crypto"
    assert settings_of(default)["batch-size"] == (200, "stack file")
    assert settings_of(default)["memory"] == (512, "stack file")  # [default.plan]
    assert prod.exit_code == 0, str(prod)
    assert prod.json()["stack"] == "prod"
    assert settings_of(prod)["batch-size"] == (500, "stack file")
    assert settings_of(prod)["max-retries"] == (5, "stack file")  # inherited from [default]


def test_precedence_command_line_then_environment_then_file(run, here, make_stream, monkeypatch):
    make_stream("ticks")
    write(here, STACK_FILE)
    monkeypatch.setenv("CRYPTOCONSUMER_MAX_RETRIES", "7")

    result = run("plan", "--batch-size", "300", "--output", "json")

    assert result.exit_code == 0, str(result)
    found = settings_of(result)
    assert found["batch-size"] == (300, "command line")
    assert found["max-retries"] == (7, "environment")
    assert found["stream-arn"] == (ARN, "stack file")


def test_recorded_settings_come_after_the_file_and_before_the_defaults(run, here, make_stream):
    make_stream("ticks")
    assert run("up", "--stream-arn", ARN, "--timeout", "30", "--batch-size", "250").exit_code == 0
    write(here, "[default]\nbatch-size = 400\n")

    result = run("plan", "--output", "json")

    assert result.exit_code == 0, str(result)
    found = settings_of(result)
    assert found["batch-size"] == (400, "stack file")
    assert found["timeout"] == (30, "recorded")
    assert found["stream-arn"] == (ARN, "recorded")
    assert "memory" not in found  # a default: not a setting anyone chose


def test_an_explicit_config_path_and_the_variable(run, tmp_path, make_stream, monkeypatch):
    make_stream("ticks")
    path = write(tmp_path, STACK_FILE, "stacks.toml")

    by_option = run("plan", "--config", str(path), "--output", "json")
    monkeypatch.setenv("CRYPTOCONSUMER_CONFIG", str(path))
    monkeypatch.setenv("CRYPTOCONSUMER_ENV", "prod")
    by_variables = run("plan", "--output", "json")

    assert by_option.exit_code == 0 and by_option.json()["stack"] == "crypto", str(by_option)
    assert by_variables.exit_code == 0 and by_variables.json()["stack"] == "prod"


BAD_FILES = [
    ("[default]\nbatch-sise = 3\n", ":2: [default] batch-sise", "did you mean batch-size"),
    ("[default]\nbatch-size = 0\n", ":2: [default] batch-size", "--batch-size 0 is out of range"),
    ('[default]\nbatch-size = "many"\n', ":2: [default] batch-size", "valid integer"),
    ('[default]\nstack = ""\n', ":2: [default] stack", "is empty"),
    ('[default]\n\n\nregion = "eu-west-1\\n"\n', ":4: [default] region", "control character"),
    ('[default.status]\nwindow = "1x"\n', ":2: [default.status] window", "not a duration"),
    (
        "[default.logs]\nbatch-size = 2\n",
        ":2: [default.logs] batch-size",
        "not an option of `logs`",
    ),
    ("[default.nope]\nx = 1\n", "[default.nope]", "is not a command"),
    ("[default.up]\nyes = true\n", ":2: [default.up] yes", "consent"),
    ("[default]\ndelete-table = true\n", "delete-table", "consent"),
    ('stack = "x"\n', "", "top level of a stack file holds environments only"),
    ("[default\n", "not valid TOML", "line 1"),
]


@pytest.mark.parametrize(("text", "where", "fragment"), BAD_FILES, ids=lambda v: str(v)[:30])
def test_a_bad_file_is_one_line_naming_file_line_and_key_and_no_call(
    run, here, moto, api_calls, text, where, fragment
):
    write(here, text)

    result = run("status", "--output", "json")

    assert result.exit_code == 2, str(result)
    assert len(result.error_lines) == 1, str(result)
    line = result.error_lines[0]
    assert "cryptoconsumer.toml" in line and where in line and fragment in line, line
    assert moto.requests == [] and api_calls.calls == []


def test_an_unknown_environment_and_an_env_without_a_file(run, here, moto):
    write(here, STACK_FILE)
    assert "has no [nope] (environments: default, prod)" in run("plan", "--env", "nope").stderr
    missing = run("plan", "--config", str(here / "other.toml"))
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    (here / "cryptoconsumer.toml").unlink()
    lonely = run("plan", "--env", "prod")
    assert lonely.exit_code == 2 and "needs a stack file" in lonely.stderr
    assert moto.requests == []


def test_init_writes_a_starter_that_plan_reads_and_never_overwrites(run, here, make_stream):
    make_stream("ticks")

    written = run("init", "--stream-arn", ARN, "--stack", "blue")
    again = run("init", "--stream-arn", ARN)
    planned = run("plan", "--output", "json")

    assert written.exit_code == 0, str(written)
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert planned.exit_code == 0, str(planned)
    assert planned.json()["stack"] == "blue"
    assert settings_of(planned)["stream-arn"] == (ARN, "stack file")
