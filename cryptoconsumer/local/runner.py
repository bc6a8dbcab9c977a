"""Runs a function's deployed zip in warm worker processes, as Lambda would run it.

Each worker is a separate Python process (`_worker.py`) with the function's code unpacked as
its task root, the function's environment, and AWS_ENDPOINT_URL pointing back at the emulator.
Workers are kept warm per function and code version; one that times out or crashes is killed
and replaced, as Lambda replaces an execution environment.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptoconsumer.local.logs import LogShipper

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
# Lambda gives the init phase 10 s, apart from the function's own timeout.
INIT_SECONDS = 10.0
# Invoke with LogType Tail answers the last 4 KB of the invocation's log.
LOG_TAIL_BYTES = 4096
# How long an answer waits for the rest of its log lines (they come on another pipe).
LOG_SETTLE_SECONDS = 1.0
# Variables a Python process needs to start at all; nothing else leaks from the host (an
# AWS_PROFILE there would send the function's boto3 to a profile that may not exist).
HOST_VARIABLES = ("PATH", "SYSTEMROOT", "LANG", "LC_ALL", "TMPDIR", "TEMP", "TMP", "HOME")


@dataclass(frozen=True)
class FunctionCode:
    """What running one version of a function takes; equal values share warm workers."""

    arn: str
    name: str
    handler: str
    timeout: int
    memory: int
    code_sha256: str
    environment: tuple[tuple[str, str], ...] = ()
    zip_bytes: bytes = field(default=b"", compare=False, repr=False)

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]


@dataclass(frozen=True)
class Invocation:
    """One invocation's outcome; `error_type` is None when the handler returned normally."""

    request_id: str
    payload: Any = None
    error_type: str | None = None
    error_message: str = ""
    seconds: float = 0.0
    stack_trace: tuple[str, ...] = ()
    log_tail: str = ""

    @property
    def error_payload(self) -> dict[str, Any]:
        """What Lambda answers for a function error, as the invocation's payload."""
        return {
            "errorMessage": self.error_message,
            "errorType": self.error_type,
            "requestId": self.request_id,
            "stackTrace": list(self.stack_trace),
        }

    @property
    def failed(self) -> bool:
        return self.error_type is not None


class WorkerGone(Exception):
    """The worker process ended, timed out or could not start; it must be replaced."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def function_environment(
    code: FunctionCode, endpoint_url: str, task_root: str, log_stream: str
) -> dict[str, str]:
    env = {name: os.environ[name] for name in HOST_VARIABLES if name in os.environ}
    env.update(dict(code.environment))
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": code.region,
            "AWS_DEFAULT_REGION": code.region,
            "AWS_LAMBDA_FUNCTION_NAME": code.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(code.memory),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(code.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{code.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
            "LAMBDA_TASK_ROOT": task_root,
            "_HANDLER": code.handler,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


class Worker:
    """One warm execution environment: a process running `_worker.py` for one code version."""

    def __init__(
        self,
        code: FunctionCode,
        endpoint_url: str,
        log: IO[str] | None,
        shipper: LogShipper | None = None,
    ) -> None:
        self.code = code
        self.log = log
        self.shipper = shipper
        # Lambda's own stream naming: one stream per execution environment.
        self.log_stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
        self.task_root = tempfile.mkdtemp(prefix=f"cryptoconsumer-{code.name}-")
        with zipfile.ZipFile(io.BytesIO(code.zip_bytes)) as archive:
            archive.extractall(self.task_root)
        self.process = subprocess.Popen(
            [sys.executable, "-u", str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=function_environment(code, endpoint_url, self.task_root, self.log_stream),
            cwd=self.task_root,
            text=True,
            encoding="utf-8",
        )
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._output: dict[str, list[str]] = {}
        self._output_done: dict[str, threading.Event] = {}
        self._output_lock = threading.Lock()
        threading.Thread(target=self._read_answers, daemon=True, name="worker-reader").start()
        threading.Thread(target=self._read_output, daemon=True, name="worker-output").start()
        try:
            ready = self._next_answer(INIT_SECONDS, "Runtime.InitTimeout")
        except WorkerGone:
            self.stop()
            raise
        if not ready.get("ready"):
            self.stop()
            raise WorkerGone(str(ready.get("errorType")), str(ready.get("errorMessage")))

    def _read_answers(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self._answers.put(json.loads(line))
        self._answers.put(None)

    def _read_output(self) -> None:
        """What the function prints: to the local log, to CloudWatch Logs, and to the current
        invocation's log tail (from its START line to its REPORT line)."""
        assert self.process.stderr is not None
        target = self.log or sys.stderr
        group = f"/aws/lambda/{self.code.name}"
        current: str | None = None
        for line in self.process.stderr:
            if line.startswith("START RequestId: "):
                current = line.split()[2]
            with self._output_lock:
                if current in self._output:
                    self._output[current].append(line)
            with contextlib.suppress(OSError, ValueError):
                target.write(line)
                target.flush()
            if self.shipper is not None:
                self.shipper.write(self.code.region, group, self.log_stream, line)
            if current and line.startswith(f"REPORT RequestId: {current}"):
                with self._output_lock:
                    done = self._output_done.get(current)
                if done is not None:
                    done.set()
                current = None

    def _log_tail(self, request_id: str, done: threading.Event) -> str:
        done.wait(LOG_SETTLE_SECONDS)
        with self._output_lock:
            lines = self._output.pop(request_id, [])
            self._output_done.pop(request_id, None)
        return "".join(lines).encode("utf-8")[-LOG_TAIL_BYTES:].decode("utf-8", "ignore")

    def _next_answer(self, seconds: float, timeout_type: str) -> dict[str, Any]:
        try:
            message = self._answers.get(timeout=seconds)
        except queue.Empty:
            raise WorkerGone(timeout_type, f"Task timed out after {seconds:.2f} seconds") from None
        if message is None:
            code = self.process.wait(timeout=5)
            raise WorkerGone("Runtime.ExitError", f"Runtime exited with error: exit status {code}")
        return message

    def invoke(self, event: dict[str, Any], request_id: str, want_tail: bool = False) -> Invocation:
        assert self.process.stdin is not None
        started = time.monotonic()
        request = {
            "event": event,
            "request_id": request_id,
            "function_arn": self.code.arn,
            "timeout_ms": self.code.timeout * 1000,
            "memory_mb": self.code.memory,
        }
        done = threading.Event()
        if want_tail:
            with self._output_lock:
                self._output[request_id] = []
                self._output_done[request_id] = done
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            raise WorkerGone("Runtime.ExitError", "Runtime exited before the invocation") from None
        message = self._next_answer(float(self.code.timeout), "Sandbox.Timedout")
        seconds = time.monotonic() - started
        tail = self._log_tail(request_id, done) if want_tail else ""
        if message.get("ok"):
            return Invocation(
                request_id, payload=message.get("result"), seconds=seconds, log_tail=tail
            )
        return Invocation(
            request_id,
            error_type=str(message.get("errorType") or "Unhandled"),
            error_message=str(message.get("errorMessage") or ""),
            seconds=seconds,
            stack_trace=tuple(str(line) for line in message.get("stackTrace") or ()),
            log_tail=tail,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            with contextlib.suppress(OSError):
                stream and stream.close()
        shutil.rmtree(self.task_root, ignore_errors=True)


class Runner:
    """Warm workers per code version; concurrent invocations each get their own worker."""

    def __init__(
        self, endpoint_url: str, log: IO[str] | None = None, shipper: LogShipper | None = None
    ) -> None:
        self.endpoint_url = endpoint_url
        self.log = log
        self.shipper = shipper
        self._idle: dict[FunctionCode, list[Worker]] = {}
        self._live: set[Worker] = set()
        self._lock = threading.Lock()
        self.started_workers = 0

    def _checkout(self, code: FunctionCode) -> Worker:
        with self._lock:
            stale = [key for key in self._idle if key.arn == code.arn and key != code]
            retired = [worker for key in stale for worker in self._idle.pop(key)]
            pool = self._idle.get(code)
            worker = pool.pop() if pool else None
        for old in retired:
            self._retire(old)
        if worker is not None:
            return worker
        worker = Worker(code, self.endpoint_url, self.log, self.shipper)
        with self._lock:
            self._live.add(worker)
            self.started_workers += 1
        return worker

    def _retire(self, worker: Worker) -> None:
        with self._lock:
            self._live.discard(worker)
        worker.stop()

    def invoke(
        self, code: FunctionCode, event: dict[str, Any], *, log_tail: bool = False
    ) -> Invocation:
        """Run the handler once; a timeout, crash or failed init is a function error.

        With `log_tail`, the answer carries the last 4 KB of the invocation's log."""
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        worker: Worker | None = None
        try:
            worker = self._checkout(code)
            result = worker.invoke(event, request_id, log_tail)
        except WorkerGone as gone:
            if worker is not None:
                self._retire(worker)
            self._log_line(f"{request_id} {gone.error_type}: {gone.message}")
            return Invocation(
                request_id,
                error_type=gone.error_type,
                error_message=gone.message,
                seconds=time.monotonic() - started,
            )
        with self._lock:
            if worker in self._live:
                self._idle.setdefault(code, []).append(worker)
        return result

    def _log_line(self, line: str) -> None:
        target = self.log or sys.stderr
        with contextlib.suppress(OSError, ValueError):
            target.write(line + "\n")
            target.flush()

    def close(self) -> None:
        with self._lock:
            workers = list(self._live)
            self._live.clear()
            self._idle.clear()
        for worker in workers:
            worker.stop()
