"""The runner: the deployed zip in a separate, warm worker process, as Lambda runs it."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator

import pytest

from cryptoconsumer.local.runner import FunctionCode, Runner
from tests.local.conftest import wait_for

PROBE = """
import os, sys

STARTED_IN = os.getpid()

def handler(event, context):
    if event.get("raise"):
        raise KeyError(event["raise"])
    if event.get("exit"):
        os._exit(3)
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    if event.get("unserializable"):
        return {1, 2}
    print("a line the handler prints")
    return {
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
        "memory": context.memory_limit_in_mb,
        "path0": sys.path[0],
        "event": event,
    }
"""
ARN = "arn:aws:lambda:us-east-1:123456789012:function:probe"


def code(source: str = PROBE, timeout: int = 2, handler: str = "probe.handler") -> FunctionCode:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("probe.py", source)
    return FunctionCode(
        arn=ARN,
        name="probe",
        handler=handler,
        timeout=timeout,
        memory=256,
        code_sha256=str(hash(source)),
        environment=(("TABLE", "t1"),),
        zip_bytes=buffer.getvalue(),
    )


@pytest.fixture
def runner(tmp_path: os.PathLike[str]) -> Iterator[Runner]:
    log = open(os.path.join(tmp_path, "function.log"), "w")  # noqa: SIM115
    runner = Runner("http://127.0.0.1:4566", log)
    yield runner
    runner.close()
    log.close()


def test_the_handler_runs_in_its_own_process_with_lambdas_environment(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-elses")

    result = runner.invoke(code(), {"n": 1})

    assert not result.failed, result
    answer = result.payload
    assert answer["pid"] != os.getpid()
    assert answer["event"] == {"n": 1}
    env = answer["env"]
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "probe"
    assert env["TABLE"] == "t1"
    assert "AWS_PROFILE" not in env
    assert answer["cwd"] == env["LAMBDA_TASK_ROOT"] == answer["path0"]
    assert 0 < answer["remaining_ms"] <= 2000
    assert (answer["function_name"], answer["arn"], answer["memory"]) == ("probe", ARN, 256)
    assert answer["request_id"] == result.request_id


def test_a_warm_worker_is_reused_and_replaced_when_the_code_changes(runner: Runner) -> None:
    first = runner.invoke(code(), {}).payload["pid"]
    second = runner.invoke(code(), {}).payload["pid"]
    changed = runner.invoke(code(PROBE + "\n# v2\n"), {}).payload["pid"]

    assert first == second
    assert changed != first
    assert runner.started_workers == 2


def test_an_exception_is_a_function_error_and_the_worker_stays_warm(runner: Runner) -> None:
    failed = runner.invoke(code(), {"raise": "boom"})
    after = runner.invoke(code(), {})

    assert (failed.error_type, failed.error_message) == ("KeyError", "'boom'")
    assert not after.failed
    assert runner.started_workers == 1


def test_a_timeout_kills_the_worker(runner: Runner) -> None:
    timed_out = runner.invoke(code(timeout=1), {"sleep": 30})
    after = runner.invoke(code(timeout=1), {})

    assert timed_out.error_type == "Sandbox.Timedout"
    assert 1.0 <= timed_out.seconds < 5
    assert not after.failed
    assert runner.started_workers == 2


def test_a_crash_is_a_function_error(runner: Runner) -> None:
    crashed = runner.invoke(code(), {"exit": True})

    assert crashed.error_type == "Runtime.ExitError"
    assert not runner.invoke(code(), {}).failed


def test_an_answer_that_is_not_json_is_a_function_error(runner: Runner) -> None:
    assert runner.invoke(code(), {"unserializable": True}).error_type == "Runtime.MarshalError"


def test_a_handler_that_cannot_be_imported_is_a_function_error(runner: Runner) -> None:
    broken = runner.invoke(code("import nothing_called_this\n"), {})
    missing = runner.invoke(code(handler="probe.absent"), {})

    assert broken.error_type == "Runtime.ImportModuleError"
    assert "nothing_called_this" in broken.error_message
    assert missing.error_type == "Runtime.HandlerNotFound"


def test_the_handlers_prints_go_to_the_log_not_the_protocol(runner: Runner) -> None:
    result = runner.invoke(code(), {})

    assert not result.failed
    log_file = runner.log
    assert log_file is not None

    def printed() -> bool:
        # The prints come on the worker's stderr, read by its own thread: after the answer.
        log_file.flush()
        with open(log_file.name) as log:
            return "a line the handler prints" in log.read()

    wait_for("the handler's print in the log", printed)
