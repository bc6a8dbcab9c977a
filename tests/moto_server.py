"""A moto server on a free loopback port that logs every AWS request it answers.

The log is the proof of what a command did: which operations, how many, and whether any of
them changed something. The same wrapper can kill the client right after the N-th mutating
request has been processed, to reproduce an interrupted run whose last call happened although
the client never saw the answer.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

READ_PREFIXES = ("Describe", "Get", "List", "Query", "Scan", "BatchGet", "Head")
AUTH_SERVICE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Request:
    service: str
    operation: str
    mutating: bool

    def __str__(self) -> str:
        return f"{self.service}:{self.operation}"


Route = tuple[str, re.Pattern[str], str, str]


def _rest_routes(service: str) -> list[Route]:
    """(method, path pattern, query key, operation) for a REST service, from botocore's own
    model; S3 tells most bucket operations apart only by a query key (PUT /b?tagging)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(service)
    routes = []
    for name in model.operation_names:
        if model.operation_model(name).deprecated:
            continue  # PutBucketLifecycle shares its route with PutBucketLifecycleConfiguration
        http = model.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        uri = path.rstrip("/")
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.escape(uri))
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        key = query.split("&", 1)[0].split("=", 1)[0]
        routes.append((http["method"], re.compile(f"^{pattern}/?$"), key, name))
    # Literal paths before templated ones: GET /functions is ListFunctions, not GetFunction;
    # and a route that needs a query key before the same path without one.
    routes.sort(
        key=lambda route: (
            route[1].pattern.count("[^/]+") + route[1].pattern.count(".+"),
            not route[2],
        )
    )
    return routes


_ROUTES: dict[str, list[Route]] = {}


def identify(environ: dict[str, Any], body: bytes) -> Request:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    found = AUTH_SERVICE.search(auth)
    service = found.group(1) if found else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET")
    method = environ.get("REQUEST_METHOD", "GET")
    if target:
        operation = target.rsplit(".", 1)[-1]
    elif b"Action=" in body:
        operation = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
    else:
        path = environ.get("PATH_INFO", "")
        if service not in _ROUTES:
            try:
                _ROUTES[service] = _rest_routes(service)
            except Exception:
                _ROUTES[service] = []
        routes = _ROUTES[service]
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        operation = next(
            (
                name
                for verb, regex, key, name in routes
                if verb == method and regex.match(path) and (not key or key in query)
            ),
            f"{method} {path}",
        )
        return Request(service, operation, method not in ("GET", "HEAD"))
    return Request(service, operation, not operation.startswith(READ_PREFIXES))


class RecordingApp:
    """WSGI middleware: logs each AWS request; optionally SIGKILLs a client after one."""

    def __init__(self, inner: Callable[..., Iterable[bytes]]) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.mutations = 0
        self.kill_pid: int | None = None
        self.kill_at = 0
        # Or: the first mutating request of this operation ("s3:CreateBucket").
        self.kill_at_operation: str | None = None
        self.killed_after: Request | None = None
        self.before: Callable[[Request], None] | None = None
        self.in_flight = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.inner(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        request = identify(environ, body)
        with self.lock:
            self.in_flight += 1
        try:
            return self._handle(request, environ, start_response)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _handle(
        self, request: Request, environ: dict[str, Any], start_response: Any
    ) -> Iterable[bytes]:
        if self.before is not None:
            self.before(request)
        with self.lock:
            self.requests.append(request)
            if request.mutating:
                self.mutations += 1
            kill = (
                request.mutating
                and self.kill_pid is not None
                and (
                    self.mutations == self.kill_at
                    if self.kill_at_operation is None
                    else str(request) == self.kill_at_operation
                )
                and self.killed_after is None
            )
        # Flask dispatches the whole request inside this call: moto's state has changed
        # before the response goes back, which is exactly the window a crash can hit.
        response = self.inner(environ, start_response)
        if kill:
            assert self.kill_pid is not None
            self.killed_after = request
            os.kill(self.kill_pid, signal.SIGKILL)
        return response


class MotoServer:
    """moto's WSGI app behind werkzeug on 127.0.0.1:<free port>, in a daemon thread."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        self.app = RecordingApp(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def reset(self) -> None:
        """Empty every moto backend, the request log and any pending kill."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        self.clear_log()
        self.disarm()

    # -- the request log -------------------------------------------------------------------

    def clear_log(self) -> None:
        with self.app.lock:
            self.app.requests.clear()
            self.app.mutations = 0

    @property
    def requests(self) -> list[Request]:
        with self.app.lock:
            return list(self.app.requests)

    def operations(self) -> Counter[str]:
        return Counter(str(request) for request in self.requests)

    def mutating(self) -> list[str]:
        return [str(request) for request in self.requests if request.mutating]

    def reads(self) -> list[str]:
        return [str(request) for request in self.requests if not request.mutating]

    # -- crashes -----------------------------------------------------------------------------

    def kill_client_after(self, n: int | str, pid: int) -> None:
        """SIGKILL `pid` once the n-th mutating request (or the first of operation `n`, such as
        "s3:CreateBucket") has been processed, before it answers."""
        with self.app.lock:
            self.app.kill_pid = pid
            self.app.kill_at, self.app.kill_at_operation = (
                (0, n) if isinstance(n, str) else (n, None)
            )
            self.app.killed_after = None

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until no request is being handled: a killed client's last calls may still run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.app.lock:
                if self.app.in_flight == 0:
                    return
            time.sleep(0.01)
        raise TimeoutError("the moto server is still handling requests")

    def disarm(self) -> None:
        with self.app.lock:
            self.app.kill_pid = None
            self.app.kill_at = 0
            self.app.kill_at_operation = None
            self.app.killed_after = None
        self.app.before = None

    @property
    def killed_after(self) -> Request | None:
        return self.app.killed_after
