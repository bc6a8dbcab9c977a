"""Invoke against the emulator runs the function through the poller's runner, as Lambda would."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

from tests.local.conftest import Harness, handler_zip, wait_for

HANDLER = """
import json, os, time

def handler(event, context):
    print("handling", json.dumps(event))
    if event.get("fail"):
        raise ValueError("asked to fail: " + str(event["fail"]))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("touch"):
        open(event["touch"], "w").close()
    if event.get("shout"):
        print("x" * 6000)
    return {"echo": event, "request_id": context.aws_request_id}
"""


def invoke(harness: Harness, name: str, payload: object, **kwargs: object) -> dict:
    return harness.clients.lambda_.invoke(
        FunctionName=name, Payload=json.dumps(payload).encode(), **kwargs
    )


def function(harness: Harness, timeout: int = 5) -> str:
    return harness.function(
        zip_bytes=handler_zip(HANDLER), handler="test_handler.handler", timeout=timeout
    ).name


def test_request_response_returns_the_functions_payload(harness: Harness) -> None:
    name = function(harness)

    answer = invoke(harness, name, {"n": 1}, LogType="Tail")

    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    body = json.loads(answer["Payload"].read())
    assert body["echo"] == {"n": 1}
    log = base64.b64decode(answer["LogResult"]).decode()
    assert f"START RequestId: {body['request_id']}" in log
    assert 'handling {"n": 1}' in log
    assert f"REPORT RequestId: {body['request_id']}" in log


def test_a_function_error_is_unhandled_with_the_error_as_payload(harness: Harness) -> None:
    name = function(harness)

    answer = invoke(harness, name, {"fail": "now"}, LogType="Tail")

    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "asked to fail: now"
    assert any("raise ValueError" in line for line in error["stackTrace"])
    assert "ValueError: asked to fail: now" in base64.b64decode(answer["LogResult"]).decode()


def test_a_timeout_is_an_unhandled_error(harness: Harness) -> None:
    name = function(harness, timeout=1)

    answer = invoke(harness, name, {"sleep": 5})

    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "Sandbox.Timedout"


def test_the_log_tail_is_the_last_4_kb(harness: Harness) -> None:
    name = function(harness)

    answer = invoke(harness, name, {"shout": True}, LogType="Tail")

    log = base64.b64decode(answer["LogResult"])
    assert len(log) == 4096
    assert b"REPORT RequestId:" in log
    assert "LogResult" not in invoke(harness, name, {"n": 2})


def test_event_runs_in_the_background_and_dry_run_runs_nothing(harness: Harness) -> None:
    name = function(harness)
    marker = harness.tmp_path / "ran"

    dry = invoke(harness, name, {"touch": str(marker)}, InvocationType="DryRun")
    assert dry["StatusCode"] == 204

    queued = invoke(harness, name, {"touch": str(marker)}, InvocationType="Event")
    assert queued["StatusCode"] == 202
    wait_for("the asynchronous invocation", marker.exists)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"not json", "InvalidRequestContentException"),
        (b'"' + b"x" * (6 * 1024 * 1024) + b'"', "RequestEntityTooLargeException"),
    ],
)
def test_bad_payloads_are_refused_before_running(
    harness: Harness, payload: bytes, code: str
) -> None:
    name = function(harness)

    with pytest.raises(ClientError) as refused:
        harness.clients.lambda_.invoke(FunctionName=name, Payload=payload)

    assert refused.value.response["Error"]["Code"] == code


def test_an_unknown_function_is_not_found(harness: Harness) -> None:
    with pytest.raises(ClientError) as refused:
        invoke(harness, "no-such-function", {})

    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
