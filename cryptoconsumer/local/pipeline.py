"""The emulator and the poller together: what `local start` and `demo` run."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from cryptoconsumer.aws import Clients, call
from cryptoconsumer.errors import AwsError
from cryptoconsumer.local import moto_patches
from cryptoconsumer.local.emulator import (
    Emulator,
    deployed_zip,
    fake_session,
    regions_with_functions,
    start_emulator,
)
from cryptoconsumer.local.invoke import Invoker
from cryptoconsumer.local.poller import SCAN_SECONDS, Poller


@dataclass
class LocalPipeline:
    emulator: Emulator
    poller: Poller

    @property
    def endpoint_url(self) -> str:
        return self.emulator.endpoint_url

    def clients(self, region: str) -> Clients:
        """Clients for the emulator with fake credentials: the user's own are never used.

        The poller's own (thread-safe) clients: one set per region in the process."""
        return self.poller.clients(region)


@contextlib.contextmanager
def running(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log: Callable[[str], None] | None = None,
    function_log: IO[str] | None = None,
    clock: Callable[[], float] = time.time,
    scan_seconds: float = SCAN_SECONDS,
) -> Iterator[LocalPipeline]:
    """Start the emulator and the poller; stop both (and drop the emulator's state) on exit.

    `clock` and `scan_seconds` are the poller's; tests move its clock and scan faster.
    """
    emulator = start_emulator(host, port)
    try:
        poller = Poller(
            emulator.endpoint_url,
            regions=regions_with_functions,
            read_zip=deployed_zip,
            session_factory=fake_session,
            put_generation=moto_patches.put_generation,
            wait_for_put=moto_patches.wait_for_records,
            function_log=function_log,
            log=log,
            clock=clock,
            scan_seconds=scan_seconds,
        )
        unsubscribe = moto_patches.on_mapping_change(poller.wake)
        stop_invoking = moto_patches.set_invoker(
            Invoker(poller.runner, poller.function, poller.record_invocation)
        )
        poller.start()
        try:
            yield LocalPipeline(emulator, poller)
        finally:
            stop_invoking()
            unsubscribe()
            poller.stop()
    finally:
        emulator.stop()


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
