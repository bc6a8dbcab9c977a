"""Lambda's Invoke on the emulator: the function runs through the poller's runner.

moto answers Invoke by starting the function in Docker (or with a canned answer). The emulator
answers it the way Lambda does, with the same warm workers that run the function for its
mappings:
- `RequestResponse` (the default): runs the handler and answers 200 with its return value as
  JSON; a function error (an exception, a timeout, a crash) answers 200 with
  `X-Amz-Function-Error: Unhandled` and `{"errorMessage", "errorType", "requestId",
  "stackTrace"}`; `LogType: Tail` adds `X-Amz-Log-Result`, the base64 of the last 4 KB of the
  invocation's log (its START, output, END and REPORT lines).
- `Event`: answers 202 at once and runs the handler once in the background (Lambda's two
  retries of a failed asynchronous invocation and its async destinations are not emulated).
- `DryRun`: answers 204 without running anything (on AWS it only checks permissions).
A body that is not JSON is `InvalidRequestContentException` (400); one over 6 MB
(RequestResponse) or 1 MB (Event) is `RequestEntityTooLargeException` (413), as on AWS.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

from cryptoconsumer.local.runner import FunctionCode, Invocation, Runner

MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024


class InvokeRefused(Exception):
    """Lambda refuses the request before running anything: code, message, HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class Invoker:
    def __init__(
        self,
        runner: Runner,
        function: Callable[[str], tuple[FunctionCode, str] | None],
        record: Callable[[FunctionCode, Invocation], None],
    ) -> None:
        self._runner = runner
        self._function = function
        self._record = record

    def __call__(
        self,
        function_arn: str,
        body: str | bytes | None,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        raw = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        limit = MAX_ASYNC_PAYLOAD_BYTES if invocation_type == "Event" else MAX_SYNC_PAYLOAD_BYTES
        if len(raw) > limit:
            raise InvokeRefused(
                "RequestEntityTooLargeException",
                f"{len(raw)} byte payload is too large for the {invocation_type} invocation "
                f"type (limit {limit} bytes)",
                413,
            )
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError as err:
            raise InvokeRefused(
                "InvalidRequestContentException",
                f"Could not parse request body into json: {err}",
                400,
            ) from None
        if invocation_type == "DryRun":
            return b""
        found = self._function(function_arn)
        if found is None:
            raise InvokeRefused(
                "ResourceNotFoundException", f"Function not found: {function_arn}", 404
            )
        code, _ = found
        if invocation_type == "Event":
            threading.Thread(
                target=self._run, args=(code, event, False), daemon=True, name="invoke-event"
            ).start()
            return b""
        invocation = self._run(code, event, True)
        response_headers["x-amz-executed-version"] = "$LATEST"
        if headers.get("X-Amz-Log-Type") == "Tail":
            tail = invocation.log_tail.encode("utf-8")
            response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
        if invocation.failed:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(invocation.error_payload).encode("utf-8")
        return json.dumps(invocation.payload).encode("utf-8")

    def _run(self, code: FunctionCode, event: Any, log_tail: bool) -> Invocation:
        invocation = self._runner.invoke(code, event, log_tail=log_tail)
        self._record(code, invocation)
        return invocation
