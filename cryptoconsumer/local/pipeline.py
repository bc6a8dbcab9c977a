"""The emulator and the poller together: what `local start` and `demo` run."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cryptoconsumer.aws import AwsTarget, Clients, call
from cryptoconsumer.errors import AwsError
from cryptoconsumer.local.emulator import (
    FAKE_CREDENTIALS,
    Emulator,
    deployed_zip,
    fake_session,
    is_loopback,
    regions_with_functions,
    start_emulator,
)
from cryptoconsumer.local.poller import Poller

CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


@dataclass
class LocalPipeline:
    emulator: Emulator
    poller: Poller

    @property
    def endpoint_url(self) -> str:
        return self.emulator.endpoint_url

    def clients(self, region: str) -> Clients:
        """Clients for the emulator with fake credentials: the user's own are never used."""
        target = AwsTarget(region=region, endpoint_url=self.endpoint_url)
        return Clients(target, session=fake_session(region))


@contextlib.contextmanager
def running(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log: Callable[[str], None] | None = None,
    function_log: IO[str] | None = None,
) -> Iterator[LocalPipeline]:
    """Start the emulator and the poller; stop both (and drop the emulator's state) on exit."""
    emulator = start_emulator(host, port)
    try:
        poller = Poller(
            emulator.endpoint_url,
            regions=regions_with_functions,
            read_zip=deployed_zip,
            session_factory=fake_session,
            function_log=function_log,
            log=log,
        )
        poller.start()
        try:
            yield LocalPipeline(emulator, poller)
        finally:
            poller.stop()
    finally:
        emulator.stop()


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


def use_fake_credentials_if_needed(endpoint_url: str | None) -> bool:
    """For a loopback emulator on a machine without credentials, set test ones (this process)."""
    if not is_loopback(endpoint_url) or credentials_configured():
        return False
    os.environ.update(FAKE_CREDENTIALS)
    return True


def create_stream(clients: Clients, name: str, shards: int) -> str:
    """Create a stream (or reuse one of that name) and wait until it is ACTIVE; its ARN."""
    client = clients.kinesis
    try:
        call(f"creating stream {name}", client.create_stream, StreamName=name, ShardCount=shards)
    except AwsError as err:
        if err.code != "ResourceInUseException":
            raise
    call(
        f"waiting for stream {name}",
        client.get_waiter("stream_exists").wait,
        StreamName=name,
        WaiterConfig={"Delay": 1, "MaxAttempts": 60},
    )
    summary = call(f"reading stream {name}", client.describe_stream_summary, StreamName=name)
    return str(summary["StreamDescriptionSummary"]["StreamARN"])
