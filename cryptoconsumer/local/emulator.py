"""The embedded AWS emulator: moto's server app on a loopback port, in this process.

moto keeps its state in process-global backends, so one process runs one emulator; stopping it
drops that state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptoconsumer.errors import CryptoConsumerError

LOCAL_EXTRA_MISSING = (
    "the local emulator needs the 'local' extra: pip install 'cryptoconsumer[local]'"
)
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")
# glibc's mallopt parameter (malloc.h) and the emulator's arena count.
M_ARENA_MAX = -8
MALLOC_ARENAS = 2


class LocalExtraMissing(CryptoConsumerError):
    """moto (the 'local' extra) is not installed; exit 1."""


class EmulatorError(CryptoConsumerError):
    """The emulator could not start, e.g. its port is taken; exit 1."""


def require_moto() -> None:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise LocalExtraMissing(LOCAL_EXTRA_MISSING) from None


@dataclass
class Emulator:
    """A running moto server; `endpoint_url` is what every client and command points at."""

    host: str
    port: int
    _server: Any
    _thread: threading.Thread
    _deactivate_patches: Callable[[], None]

    @property
    def endpoint_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend

        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        moto_api_backend.reset()
        self._deactivate_patches()


def _no_delay_handler() -> Any:
    """werkzeug's request handler with Nagle's algorithm off on each connection.

    werkzeug writes a response's headers and body in separate sends; with Nagle on, the body
    waits for the client's (delayed) ACK of the headers, adding milliseconds to every request.
    """
    from werkzeug.serving import WSGIRequestHandler

    class NoDelayHandler(WSGIRequestHandler):
        def setup(self) -> None:
            super().setup()
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    return NoDelayHandler


def _fewer_malloc_arenas() -> None:
    """Two malloc arenas for this process instead of up to 8 per core (glibc only).

    glibc gives each new thread that allocates an arena of its own, and an arena keeps what
    was freed in it; the emulator runs a thread per request plus the poller's readers and
    lanes, so the same few megabytes of requests and answers end up resident many times over
    (~50 MB of a 10,000-record demo). The GIL serialises nearly all allocation anyway, so more
    arenas buy no speed. Set before the emulator's threads start; elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def start_emulator(host: str = "127.0.0.1", port: int = 0) -> Emulator:
    """Serve moto on host:port (port 0 = a free port chosen by the OS) in a daemon thread.

    The socket is bound here, where a failure can be reported: ThreadedMotoServer binds inside
    its thread and then waits forever, and werkzeug answers a taken port with sys.exit(1).
    """
    require_moto()
    from moto.moto_api._internal.models import moto_api_backend
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from cryptoconsumer.local import moto_patches

    # moto's state is process-global: a new emulator starts empty, whatever ran before it.
    moto_api_backend.reset()
    # werkzeug logs every request at INFO on stderr; the tool prints its own progress there.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host.strip("[]"), port), family=family)
    except (OSError, OverflowError) as err:
        reason = getattr(err, "strerror", None) or err
        raise EmulatorError(f"cannot listen on {host}:{port}: {reason}") from None
    _fewer_malloc_arenas()
    deactivate = moto_patches.activate()
    try:
        with listener:
            app = DomainDispatcherApplication(create_backend_app)
            bound_port = int(listener.getsockname()[1])
            server = make_server(
                host,
                bound_port,
                app,
                threaded=True,
                fd=listener.fileno(),
                request_handler=_no_delay_handler(),
            )
    except BaseException:
        deactivate()
        raise
    # shutdown() waits for the serving loop's next poll; 0.5 s by default is felt on every stop.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="moto-server", daemon=True
    )
    thread.start()
    return Emulator(
        host=host, port=bound_port, _server=server, _thread=thread, _deactivate_patches=deactivate
    )


def fake_session(region: str) -> Any:
    """A boto3 session with fake credentials, for talking to the emulator only."""
    import boto3

    from cryptoconsumer.local import moto_patches

    return boto3.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=region,
        botocore_session=moto_patches.session_on_shared_loader(),
    )


def regions_with_functions() -> list[str]:
    """Regions where the emulator holds Lambda state, read in-process (the API has no such list)."""
    from moto.awslambda.models import lambda_backends

    return sorted(
        {
            region
            for account_backends in list(lambda_backends.values())
            for region, backend in list(account_backends.items())
            if backend._lambdas.all()
        }
    )


def deployed_zip(function_arn: str) -> bytes | None:
    """The zip a function was created or updated with, read from moto's backend.

    GetFunction's Code.Location is a made-up S3 URL that moto does not serve.
    """
    from moto.awslambda.models import lambda_backends

    _, _, _, region, account, _, name = function_arn.split(":")[:7]
    backend = lambda_backends.get(account, {}).get(region)
    if backend is None:
        return None
    try:
        function = backend.get_function(name)
    except Exception:  # moto raises its own UnknownFunctionException
        return None
    return bytes(function.code_bytes) or None


def credentials_configured() -> bool:
    """Whether the usual places hold credentials; instance metadata is not asked (slow)."""
    if any(os.environ.get(name) for name in CREDENTIAL_VARIABLES):
        return True
    for variable, default in (
        ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        ("AWS_CONFIG_FILE", "~/.aws/config"),
    ):
        if Path(os.environ.get(variable, default)).expanduser().is_file():
            return True
    return False


def use_fake_credentials_if_missing() -> bool:
    """Set test credentials in this process's environment when none are configured."""
    if credentials_configured():
        return False
    os.environ.update(FAKE_CREDENTIALS)
    return True
