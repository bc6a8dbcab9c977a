"""Lambda Invoke played in-process: moto cannot run a function without Docker.

`InProcessLambda.install(session)` hooks `before-call.lambda.Invoke` on a boto3 session: the
real handler module (lambda_handler/data_consumer_lambda.py) runs with the deployed function's
environment, against the same in-process moto, and its answer comes back as Invoke's response.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from botocore.response import StreamingBody

HANDLER_DIR = Path(__file__).resolve().parents[2] / "lambda_handler"


def handler_module() -> ModuleType:
    if str(HANDLER_DIR) not in sys.path:
        sys.path.insert(0, str(HANDLER_DIR))
    import data_consumer_lambda

    return data_consumer_lambda


_environment_lock = threading.Lock()


@contextmanager
def function_environment(function_name: str, region: str) -> Iterator[None]:
    """The deployed function's environment variables, set for the handler's duration."""
    configuration = boto3.client("lambda", region_name=region).get_function_configuration(
        FunctionName=function_name
    )
    variables = (configuration.get("Environment") or {}).get("Variables") or {}
    with _environment_lock:
        saved = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


class _Http:
    status_code = 200
    headers: dict[str, str] = {}  # noqa: RUF012


@dataclass
class InProcessLambda:
    """Runs the handler for each Invoke; `events` keeps what it was sent."""

    region: str
    function_error: str | None = None  # answer every Invoke with this FunctionError
    report_failures: bool = False  # answer with every record as a batch item failure
    events: list[dict[str, Any]] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)

    def install(self, session: boto3.Session) -> boto3.Session:
        session.events.register("before-parameter-build.lambda.Invoke", self._keep_params)
        session.events.register("before-call.lambda.Invoke", self._invoke)
        return session

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["invoke_params"] = dict(params)

    def _invoke(self, context: dict[str, Any], **_: Any) -> tuple[_Http, dict[str, Any]]:
        params = context["invoke_params"]
        event = json.loads(params["Payload"])
        self.events.append(event)
        parsed: dict[str, Any] = {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
        if self.function_error:
            parsed["FunctionError"] = self.function_error
            answer: Any = {"errorType": "RuntimeError", "errorMessage": "boom"}
        elif self.report_failures:
            answer = {
                "batchItemFailures": [
                    {"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in event["Records"]
                ]
            }
        else:
            answer = self.run(params["FunctionName"], event)
        body = json.dumps(answer).encode()
        parsed["Payload"] = StreamingBody(io.BytesIO(body), len(body))
        return _Http(), parsed

    def run(self, function_name: str, event: dict[str, Any]) -> Any:
        """The handler's answer; what it prints (its summary line) goes to `printed`."""
        consumer = handler_module()
        consumer.reset_clients()
        printed = io.StringIO()
        with function_environment(function_name, self.region), redirect_stdout(printed):
            answer = consumer.handler(event, None)
        self.printed.extend(printed.getvalue().splitlines())
        return answer
