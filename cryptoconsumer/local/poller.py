"""The event source mapping poller: Lambda's Kinesis side, for the embedded emulator.

It lists the mappings (through the API, like any client) every second and whenever a mapping
is created, changed or deleted, and keeps one `ShardConsumer` per enabled Kinesis mapping and
shard; checkpoints survive a mapping being disabled and enabled again, and are dropped when it
is deleted. A change of ParallelizationFactor or of the filters restarts the mapping's readers
from their checkpoints. Shards that appear later (resharding) are read from their start once
their parents are read to the end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.local import destinations
from cryptoconsumer.local.consumer import ShardConsumer
from cryptoconsumer.local.events import StreamRecord, on_failure_message
from cryptoconsumer.local.logs import LogShipper
from cryptoconsumer.local.mapping import MappingConfig
from cryptoconsumer.local.metrics import MetricsPublisher
from cryptoconsumer.local.runner import FunctionCode, Invocation, Runner
from cryptoconsumer.local.stats import PollerStats
from cryptoconsumer.package import Package

SCAN_SECONDS = 1.0
# A function's configuration is read again after this long (or at once after a change).
FUNCTION_CACHE_SECONDS = 5.0
# Stop waits this long for a shard reader that is in the middle of an invocation.
STOP_SECONDS = 5.0


def _readers_change(before: MappingConfig, after: MappingConfig) -> bool:
    """Settings a running reader was built with: changing one restarts the mapping's readers."""
    return (
        before.parallelization_factor != after.parallelization_factor
        or before.filter_patterns != after.filter_patterns
    )


@dataclass
class _MappingState:
    config: MappingConfig
    initial_shards: set[str] = field(default_factory=set)
    finished_shards: set[str] = field(default_factory=set)
    consumers: dict[str, ShardConsumer] = field(default_factory=dict)


class Poller:
    """Reads every enabled Kinesis mapping's shards and invokes its function's code."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        regions: Callable[[], Iterable[str]],
        read_zip: Callable[[str], bytes | None],
        session_factory: Callable[[str], Any],
        put_generation: Callable[[str], int] = lambda stream_arn: 0,
        wait_for_put: Callable[[str, int, float], None] | None = None,
        function_log: IO[str] | None = None,
        log: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        scan_seconds: float = SCAN_SECONDS,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.stats = PollerStats()
        self._regions = regions
        self._read_zip = read_zip
        self._session_factory = session_factory
        self._put_generation = put_generation
        self._wait_for_put = wait_for_put
        self._log = log
        self._clock = clock
        self._scan_seconds = scan_seconds
        self._clients: dict[str, Clients] = {}
        self._mappings: dict[str, _MappingState] = {}
        self._checkpoints: dict[tuple[str, str], str] = {}
        self._zips: dict[str, bytes] = {}
        self._functions: dict[str, tuple[float, tuple[FunctionCode, str]]] = {}
        self._reported: dict[str, str] = {}
        self._stopping: list[ShardConsumer] = []
        self._lock = threading.RLock()
        self.shipper = LogShipper(self.clients)
        self.runner = Runner(endpoint_url, function_log, self.shipper)
        self.metrics = MetricsPublisher(
            lambda region: self.clients(region).cloudwatch, self.report, clock
        )
        self._stopped = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._scan_forever, daemon=True, name="poller")

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.scan_once()
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        with self._lock:
            consumers = [c for s in self._mappings.values() for c in s.consumers.values()]
            consumers += self._stopping
        for consumer in consumers:
            consumer.stop()
        self.runner.close()
        self.shipper.close()
        self.metrics.close()
        for consumer in consumers:
            consumer.join(timeout=STOP_SECONDS)
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_SECONDS)

    def polling(self, uuid: str) -> bool:
        """Whether every shard seen so far has a reader positioned in it (or read to its end)."""
        with self._lock:
            state = self._mappings.get(uuid)
            return bool(state and state.consumers) and all(
                (c.alive and c.positioned.is_set()) or c.finished for c in state.consumers.values()
            )

    def readers(self, uuid: str) -> list[threading.Thread]:
        """The mapping's reader threads still running (none once it is deleted or disabled)."""
        with self._lock:
            state = self._mappings.get(uuid)
            consumers = list(state.consumers.values()) if state else []
            stopped = list(self._stopping)
        return [
            thread
            for c in consumers + stopped
            if c.uuid == uuid
            for thread in [c.thread, *(lane.thread for lane in c.lanes)]
            if thread.is_alive()
        ]

    def wake(self) -> None:
        """Rescan now: a mapping or a function was created, changed or deleted."""
        with self._lock:
            self._functions.clear()
        self._wake.set()

    def _scan_forever(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self._scan_seconds)
            self._wake.clear()
            if not self._stopped.is_set():
                self.scan_once()

    # -- scanning --------------------------------------------------------------------------

    def clients(self, region: str) -> Clients:
        with self._lock:
            if region not in self._clients:
                target = AwsTarget(region=region, endpoint_url=self.endpoint_url)
                self._clients[region] = Clients(target, session=self._session_factory(region))
            return self._clients[region]

    def scan_once(self) -> None:
        seen: dict[str, MappingConfig] = {}
        for region in self._regions():
            try:
                client = self.clients(region).lambda_
                for page in client.get_paginator("list_event_source_mappings").paginate():
                    for mapping in page["EventSourceMappings"]:
                        config = MappingConfig.from_api(mapping)
                        if config.is_kinesis:
                            seen[config.uuid] = config
            except Exception as err:
                self.report(f"mappings/{region}", f"cannot list mappings in {region}: {err}")
                return
        with self._lock:
            for uuid in list(self._mappings):
                if uuid not in seen:
                    self._forget(uuid)
            for uuid, config in seen.items():
                state = self._mappings.setdefault(uuid, _MappingState(config))
                before, state.config = state.config, config
                if not config.enabled or _readers_change(before, config):
                    self._stop_consumers(state)
                if config.enabled and config.metrics_enabled:
                    self.metrics.track(uuid, config.region, bool(config.filter_patterns))
                else:
                    self.metrics.untrack(uuid)
        for uuid, config in seen.items():
            if config.enabled and not self._stopped.is_set():
                self._sync_shards(uuid, config)

    def _forget(self, uuid: str) -> None:
        state = self._mappings.pop(uuid)
        self._stop_consumers(state)
        self.metrics.untrack(uuid)
        for key in [key for key in self._checkpoints if key[0] == uuid]:
            del self._checkpoints[key]

    def _stop_consumers(self, state: _MappingState) -> None:
        # Readers still finishing an invocation stay visible (readers()) until they end.
        self._stopping = [c for c in self._stopping if c.alive]
        for consumer in state.consumers.values():
            consumer.stop()
            self._stopping.append(consumer)
        state.consumers.clear()
        state.finished_shards.clear()

    def _sync_shards(self, uuid: str, config: MappingConfig) -> None:
        region = config.stream_arn.split(":")[3]
        try:
            paginator = self.clients(region).kinesis.get_paginator("list_shards")
            shards = [
                shard
                for page in paginator.paginate(StreamARN=config.stream_arn)
                for shard in page["Shards"]
            ]
        except Exception as err:
            self.report(uuid, f"mapping {uuid}: cannot list shards of {config.stream_arn}: {err}")
            return
        self._reported.pop(uuid, None)
        with self._lock:
            state = self._mappings.get(uuid)
            if state is None:
                return
            known = {shard["ShardId"] for shard in shards}
            if not state.initial_shards:
                state.initial_shards = set(known)
            for shard in shards:
                self._sync_shard(uuid, config, state, shard, known)

    def _sync_shard(
        self,
        uuid: str,
        config: MappingConfig,
        state: _MappingState,
        shard: dict[str, Any],
        known: set[str],
    ) -> None:
        shard_id = shard["ShardId"]
        consumer = state.consumers.get(shard_id)
        if consumer is not None:
            if consumer.alive:
                return
            del state.consumers[shard_id]
            if consumer.finished:
                state.finished_shards.add(shard_id)
                return
        if shard_id in state.finished_shards:
            return
        # A stopped reader still finishing a batch: never two readers of one shard at once.
        if any(c.uuid == uuid and c.shard_id == shard_id and c.alive for c in self._stopping):
            return
        parents = {shard.get("ParentShardId"), shard.get("AdjacentParentShardId")} & known
        if not parents <= state.finished_shards:
            return
        # Shards present when the mapping was first seen start where the mapping says; a
        # child shard created later is read from its beginning, as Lambda does.
        start = config.starting_position if shard_id in state.initial_shards else "TRIM_HORIZON"
        consumer = ShardConsumer(self, uuid, shard_id, config.stream_arn, start)
        state.consumers[shard_id] = consumer
        consumer.begin()

    def report(self, key: str, line: str) -> None:
        # A broken mapping is rescanned every second; say what is wrong once, not every time.
        if self._reported.get(key) != line:
            self._reported[key] = line
            self.log(line)

    # -- what a ShardConsumer asks for (ShardHost) --------------------------------------------

    def mapping(self, uuid: str) -> MappingConfig | None:
        with self._lock:
            state = self._mappings.get(uuid)
            return state.config if state else None

    def kinesis(self, region: str) -> Any:
        return self.clients(region).kinesis

    def function(self, arn: str) -> tuple[FunctionCode, str] | None:
        """The function's current configuration and code, and its role (the event's identity).

        Kept for FUNCTION_CACHE_SECONDS, and forgotten at once when the emulator announces a
        change to a function (`wake`), so an update reaches the next invocation."""
        now = time.monotonic()
        with self._lock:
            cached = self._functions.get(arn)
        if cached is not None and now - cached[0] < FUNCTION_CACHE_SECONDS:
            return cached[1]
        found = self._read_function(arn)
        if found is not None:
            with self._lock:
                self._functions[arn] = (now, found)
        return found

    def _read_function(self, arn: str) -> tuple[FunctionCode, str] | None:
        client = self.clients(arn.split(":")[3]).lambda_
        try:
            configuration = client.get_function(FunctionName=arn)["Configuration"]
        except client.exceptions.ResourceNotFoundException:
            return None
        sha = configuration["CodeSha256"]
        with self._lock:
            zip_bytes = self._zips.get(sha)
        if zip_bytes is None:
            zip_bytes = self._read_zip(configuration["FunctionArn"])
            if not zip_bytes or Package(zip_bytes, ()).code_sha256 != sha:
                return None
            with self._lock:
                self._zips[sha] = zip_bytes
        variables = (configuration.get("Environment") or {}).get("Variables") or {}
        code = FunctionCode(
            arn=configuration["FunctionArn"],
            name=configuration["FunctionName"],
            handler=configuration["Handler"],
            timeout=int(configuration.get("Timeout") or 3),
            memory=int(configuration.get("MemorySize") or 128),
            code_sha256=sha,
            environment=tuple(sorted(variables.items())),
            zip_bytes=zip_bytes,
        )
        return code, str(configuration.get("Role", ""))

    def checkpoint(self, uuid: str, shard_id: str) -> str | None:
        with self._lock:
            return self._checkpoints.get((uuid, shard_id))

    def save_checkpoint(self, uuid: str, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            if uuid in self._mappings:
                self._checkpoints[(uuid, shard_id)] = sequence_number

    def deliver_failure(
        self,
        config: MappingConfig,
        shard_id: str,
        records: list[StreamRecord],
        event: dict[str, Any],
        *,
        condition: str,
        request_id: str,
        invoke_count: int,
        function_error: str | None,
    ) -> bool:
        """Describe discarded records to the mapping's on-failure destination; False if not."""
        destination = config.on_failure_arn or ""
        now = self.now()
        message = on_failure_message(
            records,
            stream_arn=config.stream_arn,
            function_arn=config.function_arn,
            condition=condition,
            request_id=request_id,
            invoke_count=invoke_count,
            function_error=function_error,
            now=now,
        )
        try:
            destinations.deliver(
                self.clients,
                destination,
                message,
                event=event,
                mapping_uuid=config.uuid,
                shard_id=shard_id,
                moment=now,
                default_region=config.region,
            )
        except Exception as err:
            self.log(f"cannot send to on-failure destination {destination}: {err}")
            function_name = config.function_arn.split(":")[6]
            self.metrics.datapoint(
                config.region,
                "DestinationDeliveryFailures",
                [{"Name": "FunctionName", "Value": function_name}],
                1.0,
                "Count",
            )
            return False
        self.stats.add(on_failure_messages=1)
        return True

    def count(self, uuid: str, **events: int) -> None:
        self.metrics.count(uuid, **events)
        if events.get("filtered_out"):
            self.stats.add(filtered_out_records=events["filtered_out"])

    def put_generation(self, stream_arn: str) -> int:
        return self._put_generation(stream_arn)

    def wait_for_records(self, stream_arn: str, since: int, seconds: float) -> None:
        if self._wait_for_put is None:
            self._stopped.wait(seconds)
        else:
            self._wait_for_put(stream_arn, since, seconds)

    def now(self) -> float:
        return self._clock()

    def record_invocation(
        self, code: FunctionCode, invocation: Invocation, iterator_age_ms: float | None = None
    ) -> None:
        """Count it, and publish the metrics Lambda publishes, so `status` can judge health.

        IteratorAge only for invocations by a mapping (None for a direct Invoke)."""
        self.stats.add(invocations=1, failed_invocations=int(invocation.failed))
        dimensions = [{"Name": "FunctionName", "Value": code.name}]
        values = [
            ("Invocations", 1.0, "Count"),
            ("Errors", float(invocation.failed), "Count"),
            ("Duration", invocation.seconds * 1000, "Milliseconds"),
        ]
        if iterator_age_ms is not None:
            values.append(("IteratorAge", max(0.0, iterator_age_ms), "Milliseconds"))
        for name, value, unit in values:
            self.metrics.datapoint(code.region, name, dimensions, value, unit)

    def log(self, line: str) -> None:
        if self._log is not None:
            self._log(line)
