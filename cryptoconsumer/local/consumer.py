"""One mapping's reader for one shard: read, filter, batch, invoke, settle, move the checkpoint.

A `ShardConsumer` has one reader thread and ParallelizationFactor lanes (1-10). The reader
reads the shard with GetRecords (up to 10,000 records a call, as Lambda does), drops records
that match none of the mapping's filters, and hands each record to the lane its partition key
hashes to, so one key's records are always in one lane, in sequence order, and never in two
in-flight batches. Each lane gathers a batch (BatchSize, the 6 MB payload limit,
MaximumBatchingWindowInSeconds), invokes the function and settles the batch before taking the
next. The checkpoint moves only past records whose batches are settled (`ShardProgress`).

Settling follows Lambda's stream rules, per batch: a failed batch is split in half when
BisectBatchOnFunctionError is on (splitting uses no retry), otherwise retried up to
MaximumRetryAttempts; a ReportBatchItemFailures answer resumes at the lowest failed record;
records older than MaximumRecordAgeInSeconds are skipped; whatever is given up on is described
to the on-failure destination, and the lane moves on.
"""

from __future__ import annotations

import threading
import zlib
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Protocol
from uuid import uuid4

from cryptoconsumer.local.events import (
    EventSource,
    StreamRecord,
    judge,
    kinesis_event,
    take_batch,
)
from cryptoconsumer.local.filters import RecordFilter
from cryptoconsumer.local.mapping import MappingConfig
from cryptoconsumer.local.progress import ShardProgress
from cryptoconsumer.local.runner import FunctionCode, Invocation, Runner
from cryptoconsumer.local.stats import PollerStats

# An idle shard is polled this often; a put on the stream wakes its readers at once.
IDLE_POLL_SECONDS = 0.25
RETRY_BASE_SECONDS = 0.05
RETRY_MAX_SECONDS = 1.0
# Kinesis's GetRecords limit; Lambda reads up to this many records a call.
MAX_GET_RECORDS = 10_000
# Records read ahead of the lanes, per lane: enough to keep them busy, bounded in memory.
READ_AHEAD_BATCHES = 2
BACKLOG_WAIT_SECONDS = 0.02


class ShardHost(Protocol):
    """What a consumer needs from the poller that runs it."""

    runner: Runner
    stats: PollerStats

    def mapping(self, uuid: str) -> MappingConfig | None: ...

    def function(self, arn: str) -> tuple[FunctionCode, str] | None: ...

    def kinesis(self, region: str) -> Any: ...

    def checkpoint(self, uuid: str, shard_id: str) -> str | None: ...

    def save_checkpoint(self, uuid: str, shard_id: str, sequence_number: str) -> None: ...

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
    ) -> bool: ...

    def count(self, uuid: str, **events: int) -> None: ...

    def put_generation(self, stream_arn: str) -> int: ...

    def wait_for_records(self, stream_arn: str, since: int, seconds: float) -> None: ...

    def now(self) -> float: ...

    def record_invocation(
        self, code: FunctionCode, invocation: Invocation, iterator_age_ms: float
    ) -> None: ...

    def log(self, line: str) -> None: ...

    def report(self, key: str, line: str) -> None: ...


@dataclass
class Segment:
    """Records still to settle, with how many retries and invocations they have had."""

    records: list[StreamRecord]
    retries: int = 0
    invocations: int = 0
    last_request_id: str = ""
    last_error: str | None = None


def lane_of(partition_key: str, lanes: int) -> int:
    """The lane a partition key's records go to: stable, so a key never changes lane."""
    return zlib.crc32(partition_key.encode("utf-8")) % lanes if lanes > 1 else 0


class Lane:
    """One of a shard's ParallelizationFactor batch processors: one batch in flight at most."""

    def __init__(self, consumer: ShardConsumer, index: int) -> None:
        self.consumer = consumer
        self.index = index
        self.pending: deque[StreamRecord] = deque()
        self.busy = False
        self.finished = False
        self._ready = threading.Condition()
        self.thread = threading.Thread(
            target=self._run,
            daemon=True,
            name=f"lane-{consumer.uuid[:8]}-{consumer.shard_id}-{index}",
        )

    def add(self, records: list[StreamRecord]) -> None:
        with self._ready:
            self.pending.extend(records)
            self._ready.notify()

    def wake(self) -> None:
        with self._ready:
            self._ready.notify()

    @property
    def idle(self) -> bool:
        with self._ready:
            return not self.pending and not self.busy

    def _run(self) -> None:
        consumer = self.consumer
        try:
            while not consumer.stopped.is_set() and not self.finished:
                config = consumer.host.mapping(consumer.uuid)
                if config is None or not config.enabled:
                    return
                batch = self._gather(config)
                if batch:
                    try:
                        consumer.settle(config, batch)
                    finally:
                        with self._ready:
                            self.busy = False
        except Exception as err:  # the poller restarts the shard from its checkpoint
            consumer.failed(f"lane {self.index}: {err}")

    def _gather(self, config: MappingConfig) -> list[StreamRecord]:
        """Up to BatchSize records (and 6 MB), waiting up to the batching window for more."""
        stopped = self.consumer.stopped
        with self._ready:
            while not self.pending and not stopped.is_set() and not self.consumer.reader_done:
                self._ready.wait(IDLE_POLL_SECONDS)
            if stopped.is_set() or not self.pending:
                # Stopped, or a closed shard read to its end with nothing left for this lane.
                self.finished = True
                return []
            if config.batching_window > 0:
                window_ends = self.consumer.host.now() + config.batching_window
                while len(self.pending) < config.batch_size and not stopped.is_set():
                    left = window_ends - self.consumer.host.now()
                    if left <= 0 or self.consumer.reader_done:
                        break
                    self._ready.wait(min(left, IDLE_POLL_SECONDS))
            batch = take_batch(self.pending, config.batch_size)
            for _ in batch:
                self.pending.popleft()
            self.busy = bool(batch)
            return batch


class ShardConsumer:
    def __init__(
        self, host: ShardHost, uuid: str, shard_id: str, stream_arn: str, start: str
    ) -> None:
        self.host = host
        self.uuid = uuid
        self.shard_id = shard_id
        self.stream_arn = stream_arn
        self.region = stream_arn.split(":")[3]
        self.start = start
        self.reader_done = False
        self.stopped = threading.Event()
        self.positioned = threading.Event()
        self.progress = ShardProgress()
        config = host.mapping(uuid)
        self.parallelization = config.parallelization_factor if config else 1
        self.lanes = [Lane(self, index) for index in range(self.parallelization)]
        self._iterator: str | None = None  # positioned by _read_forever before the first read
        self._last_read: str | None = None
        self.thread = threading.Thread(
            target=self._read_forever, daemon=True, name=f"poll-{uuid[:8]}-{shard_id}"
        )

    def begin(self) -> None:
        for lane in self.lanes:
            lane.thread.start()
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        for lane in self.lanes:
            lane.wake()

    def failed(self, reason: str) -> None:
        self.host.report(f"{self.uuid}/{self.shard_id}", f"{self.shard_id}: stopped: {reason}")
        self.stop()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive() or any(lane.thread.is_alive() for lane in self.lanes)

    @property
    def finished(self) -> bool:
        """The shard is closed, read to its end, and every record read is settled."""
        return self.reader_done and self.progress.outstanding == 0

    def join(self, timeout: float) -> None:
        for thread in [self.thread, *(lane.thread for lane in self.lanes)]:
            if thread.is_alive():
                thread.join(timeout=timeout)

    # -- reading ----------------------------------------------------------------------------

    def _read_forever(self) -> None:
        try:
            config = self.host.mapping(self.uuid)
            if config is None:
                return
            # LATEST means "from when the reader is positioned": do that first, at once.
            self._iterator = self._new_iterator(config)
            self.positioned.set()
            record_filter = RecordFilter.from_criteria(config.filter_criteria)
            ahead = max(config.batch_size * READ_AHEAD_BATCHES, 100) * self.parallelization
            while not self.stopped.is_set():
                config = self.host.mapping(self.uuid)
                if config is None or not config.enabled:
                    return
                room = ahead - self.progress.outstanding
                if room <= 0:
                    self.stopped.wait(BACKLOG_WAIT_SECONDS)
                    continue
                generation = self.host.put_generation(self.stream_arn)
                records = self._read(config, min(MAX_GET_RECORDS, room))
                if records:
                    self._dispatch(config, record_filter, records)
                # Only the end of its iterators says a shard is read to its end: a closed shard
                # seen in ListShards may still hold records put after the last read. Set once
                # the last records are with the lanes, which finish when it is set.
                if self._iterator is None:
                    self.reader_done = True
                    self._wake_lanes()
                    return
                if not records:
                    self.host.wait_for_records(self.stream_arn, generation, IDLE_POLL_SECONDS)
        except Exception as err:  # the poller restarts the shard from its checkpoint
            self.failed(f"reading: {err}")

    def _wake_lanes(self) -> None:
        for lane in self.lanes:
            lane.wake()

    def _new_iterator(self, config: MappingConfig) -> str:
        after = self._last_read or self.host.checkpoint(self.uuid, self.shard_id)
        params: dict[str, Any] = {"StreamARN": self.stream_arn, "ShardId": self.shard_id}
        if after:
            params.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        elif self.start == "AT_TIMESTAMP":
            params.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=config.starting_timestamp)
        else:
            params["ShardIteratorType"] = self.start
        return str(self.host.kinesis(self.region).get_shard_iterator(**params)["ShardIterator"])

    def _read(self, config: MappingConfig, limit: int) -> list[StreamRecord]:
        client = self.host.kinesis(self.region)
        try:
            answer = client.get_records(
                StreamARN=self.stream_arn, ShardIterator=self._iterator, Limit=limit
            )
        except client.exceptions.ExpiredIteratorException:
            self._iterator = self._new_iterator(config)
            answer = client.get_records(
                StreamARN=self.stream_arn, ShardIterator=self._iterator, Limit=limit
            )
        records = [StreamRecord.from_api(self.shard_id, r) for r in answer.get("Records", [])]
        self._iterator = answer.get("NextShardIterator")
        if records:
            self._last_read = records[-1].sequence_number
        return records

    def _dispatch(
        self, config: MappingConfig, record_filter: RecordFilter | None, records: list[StreamRecord]
    ) -> None:
        self.progress.read(r.sequence_number for r in records)
        if record_filter is None:
            kept = records
        else:
            kept = [r for r in records if record_filter.matches(r)]
        dropped = len(records) - len(kept)
        self.host.count(self.uuid, polled=len(records), filtered_out=dropped)
        if dropped:
            kept_numbers = {r.sequence_number for r in kept}
            self._settle_records([r for r in records if r.sequence_number not in kept_numbers])
        by_lane: dict[int, list[StreamRecord]] = {}
        for record in kept:
            by_lane.setdefault(lane_of(record.partition_key, len(self.lanes)), []).append(record)
        for index, lane_records in by_lane.items():
            self.lanes[index].add(lane_records)

    def _settle_records(self, records: list[StreamRecord]) -> None:
        checkpoint = self.progress.settle(r.sequence_number for r in records)
        if checkpoint is not None:
            self.host.save_checkpoint(self.uuid, self.shard_id, checkpoint)

    # -- settling one batch ------------------------------------------------------------------

    def settle(self, config: MappingConfig, batch: list[StreamRecord]) -> None:
        segments = deque([Segment(batch)])
        while segments and not self.stopped.is_set():
            config = self.host.mapping(self.uuid) or config
            segment = segments.popleft()
            segment = self._skip_expired(config, segment)
            if not segment.records:
                continue
            found = self.host.function(config.function_arn)
            if found is None:
                self.host.report(
                    f"{self.uuid}/function",
                    f"{self.uuid}: function {config.function_arn} not found; waiting for it",
                )
                segments.appendleft(segment)
                self.stopped.wait(RETRY_MAX_SECONDS)
                continue
            code, role = found
            invocation = self._invoke(code, role, segment)
            verdict = judge(
                segment.records,
                invocation.error_type,
                invocation.payload,
                config.report_item_failures,
            )
            records = segment.records
            if not verdict.succeeded:
                self.host.count(self.uuid, failed_invoke=len(records))
            if verdict.succeeded:
                self.host.stats.add(delivered_records=len(records))
                self._settle_records(records)
            elif verdict.failed_from:
                self.host.stats.add(delivered_records=verdict.failed_from)
                self._settle_records(records[: verdict.failed_from])
                segments.appendleft(
                    Segment(records[verdict.failed_from :], segment.retries, segment.invocations)
                )
            elif config.bisect_on_error and len(records) > 1:
                half = (len(records) + 1) // 2
                segments.extendleft(
                    [
                        Segment(records[half:], segment.retries, segment.invocations),
                        Segment(records[:half], segment.retries, segment.invocations),
                    ]
                )
            elif config.retries_left(segment.retries):
                segment.retries += 1
                segments.appendleft(segment)
                backoff = RETRY_BASE_SECONDS * 2 ** min(segment.retries, 10)
                self.stopped.wait(min(RETRY_MAX_SECONDS, backoff))
            else:
                self._discard(config, segment, "RetryAttemptsExhausted", role)

    def _source(self, role: str) -> EventSource:
        return EventSource(self.stream_arn, self.region, role)

    def _invoke(self, code: FunctionCode, role: str, segment: Segment) -> Invocation:
        # Lambda's IteratorAge: how old the batch's newest record is when the function gets it.
        iterator_age_ms = (self.host.now() - segment.records[-1].arrival) * 1000
        self.host.count(self.uuid, invoked=len(segment.records))
        invocation = self.host.runner.invoke(
            code, kinesis_event(segment.records, self._source(role))
        )
        segment.invocations += 1
        self.host.record_invocation(code, invocation, iterator_age_ms)
        segment.last_request_id = invocation.request_id
        segment.last_error = invocation.error_type
        outcome = f"error {invocation.error_type}" if invocation.failed else "ok"
        self.host.log(
            f"{code.name} {self.shard_id} {segment.records[0].sequence_number}.."
            f"{segment.records[-1].sequence_number} ({len(segment.records)} records): "
            f"{outcome} in {invocation.seconds * 1000:.0f} ms"
        )
        return invocation

    def _skip_expired(self, config: MappingConfig, segment: Segment) -> Segment:
        now = self.host.now()
        expired = [r for r in segment.records if config.expired(r.arrival, now)]
        if not expired:
            return segment
        # Records arrive in order, so the expired ones are the oldest: a prefix of the segment.
        found = self.host.function(config.function_arn)
        role = found[1] if found else ""
        self._discard(config, replace(segment, records=expired), "RecordAgeExceeded", role)
        return replace(segment, records=segment.records[len(expired) :])

    def _discard(self, config: MappingConfig, segment: Segment, condition: str, role: str) -> None:
        records = segment.records
        self.host.log(
            f"{self.uuid} {self.shard_id}: discarding {len(records)} records "
            f"{records[0].sequence_number}..{records[-1].sequence_number}: {condition}"
        )
        self.host.stats.add(discarded_records=len(records))
        delivered = False
        if config.on_failure_arn:
            delivered = self.host.deliver_failure(
                config,
                self.shard_id,
                records,
                kinesis_event(records, self._source(role)),
                condition=condition,
                request_id=segment.last_request_id or str(uuid4()),
                invoke_count=segment.invocations,
                function_error=segment.last_error,
            )
        if delivered:
            self.host.count(self.uuid, on_failure_delivered=len(records))
        else:
            self.host.count(self.uuid, dropped=len(records))
        self._settle_records(records)
