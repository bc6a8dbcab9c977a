"""The function's runtime: run as a script in its own process, one invocation at a time.

Protocol: one JSON line per message. The parent writes invocations on stdin; this process
answers on the file descriptor that was stdout at start-up. The function's own prints and logs
go to stderr instead, so they can never corrupt an answer. Standard library only: this file is
not imported as part of the package, and the function's zip must not see the package.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any, TextIO


class LambdaContext:
    """The attributes and method Lambda's Python runtime gives a handler."""

    def __init__(self, request: dict[str, Any], deadline: float) -> None:
        self.function_name: str = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version: str = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn: str = request["function_arn"]
        self.memory_limit_in_mb: int = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id: str = request["request_id"]
        self.log_group_name: str = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name: str = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_answer(error_type: str, err: BaseException | None, message: str = "") -> dict[str, Any]:
    stack = traceback.format_exception(err) if err is not None else []
    return {
        "ok": False,
        "errorType": error_type,
        "errorMessage": message or (str(err) if err is not None else ""),
        "stackTrace": [line.rstrip("\n") for line in stack],
    }


def load_handler(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    if not module_name or not function_name:
        raise ValueError(f"Bad handler '{spec}': expected 'module.function'")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)


def answer(protocol: TextIO, message: dict[str, Any]) -> None:
    protocol.write(json.dumps(message) + "\n")
    protocol.flush()


def serve(protocol: TextIO) -> None:
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [task_root] + [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except AttributeError as err:
        answer(protocol, error_answer("Runtime.HandlerNotFound", err))
        return
    except Exception as err:
        traceback.print_exc()
        answer(protocol, error_answer("Runtime.ImportModuleError", err))
        return
    answer(protocol, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        request_id = request["request_id"]
        started = time.monotonic()
        deadline = started + request["timeout_ms"] / 1000
        context = LambdaContext(request, deadline)
        # Lambda's own lines around each invocation's output; the parent cuts the log tail
        # (Invoke with LogType Tail) from START to REPORT.
        log_line(f"START RequestId: {request_id} Version: $LATEST")
        try:
            result = handler(request["event"], context)
        except Exception as err:
            traceback.print_exc()
            message = error_answer(type(err).__name__, err)
        else:
            try:
                json.dumps(result)
                message = {"ok": True, "result": result}
            except (TypeError, ValueError) as err:
                message = error_answer("Runtime.MarshalError", err)
        report(request_id, started, request.get("memory_mb", 128))
        answer(protocol, message)


def log_line(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def report(request_id: str, started: float, memory_mb: int) -> None:
    duration_ms = (time.monotonic() - started) * 1000
    log_line(f"END RequestId: {request_id}")
    log_line(
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {int(duration_ms) + 1} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {peak_memory_mb()} MB"
    )


def peak_memory_mb() -> int:
    """This process's peak resident memory (VmHWM; ru_maxrss would count the parent's before
    the exec that started this process)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)
    serve(protocol)


if __name__ == "__main__":
    main()
