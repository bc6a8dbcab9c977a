"""One mapping's reader for one shard: gather a batch, invoke, settle it, move the checkpoint.

Settling follows Lambda's stream rules: a failed batch is split in half when
BisectBatchOnFunctionError is on (splitting uses no retry), otherwise retried up to
MaximumRetryAttempts; a ReportBatchItemFailures answer resumes at the lowest failed record;
records older than MaximumRecordAgeInSeconds are skipped; whatever is given up on is described
to the on-failure destination, and the shard moves on.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Protocol
from uuid import uuid4

from cryptoconsumer.local.events import (
    EventSource,
    StreamRecord,
    judge,
    kinesis_event,
    on_failure_message,
    take_batch,
)
from cryptoconsumer.local.mapping import MappingConfig
from cryptoconsumer.local.runner import FunctionCode, Invocation, Runner
from cryptoconsumer.local.stats import PollerStats

# An idle shard is polled this often, so a new record reaches the function within ~0.3 s.
IDLE_POLL_SECONDS = 0.2
RETRY_BASE_SECONDS = 0.05
RETRY_MAX_SECONDS = 1.0


class ShardHost(Protocol):
    """What a consumer needs from the poller that runs it."""

    runner: Runner
    stats: PollerStats

    def mapping(self, uuid: str) -> MappingConfig | None: ...

    def function(self, arn: str) -> tuple[FunctionCode, str] | None: ...

    def kinesis(self, region: str) -> Any: ...

    def checkpoint(self, uuid: str, shard_id: str) -> str | None: ...

    def save_checkpoint(self, uuid: str, shard_id: str, sequence_number: str) -> None: ...

    def send_on_failure(self, destination_arn: str, message: dict[str, Any]) -> None: ...

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
        self.closed_shard = False
        self.finished = False
        self.stopped = threading.Event()
        self.positioned = threading.Event()
        self.pending: list[StreamRecord] = []
        self._iterator: str | None = None  # positioned by _run before the first read
        self._last_read: str | None = None
        self.thread = threading.Thread(
            target=self._run, daemon=True, name=f"poll-{uuid[:8]}-{shard_id}"
        )

    def begin(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def _run(self) -> None:
        try:
            config = self.host.mapping(self.uuid)
            if config is not None:
                # LATEST means "from when the reader is positioned": do that first, at once.
                self._iterator = self._new_iterator(config)
                self.positioned.set()
            while not self.stopped.is_set():
                config = self.host.mapping(self.uuid)
                if config is None or not config.enabled:
                    return
                batch = self._gather(config)
                if batch:
                    self._settle(config, batch)
                elif self.finished:
                    return
                else:
                    self.stopped.wait(IDLE_POLL_SECONDS)
        except Exception as err:  # the poller restarts the shard from its checkpoint
            self.host.report(
                f"{self.uuid}/{self.shard_id}", f"{self.shard_id}: stopped reading: {err}"
            )

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
        # AWS ends a closed shard's iterators; moto never does, so a closed shard read dry ends.
        if self._iterator is None or (self.closed_shard and not records):
            self.finished = True
        return records

    def _gather(self, config: MappingConfig) -> list[StreamRecord]:
        """Read until BatchSize records or MaximumBatchingWindowInSeconds since the first."""
        window_ends: float | None = None
        while len(self.pending) < config.batch_size and not self.finished:
            fresh = self._read(config, config.batch_size - len(self.pending))
            self.pending.extend(fresh)
            if not self.pending or config.batching_window <= 0:
                break
            now = self.host.now()
            window_ends = window_ends or now + config.batching_window
            if now >= window_ends or self.stopped.is_set():
                break
            if not fresh:
                self.stopped.wait(min(IDLE_POLL_SECONDS, window_ends - now))
        batch = take_batch(self.pending, config.batch_size)
        del self.pending[: len(batch)]
        return batch

    def _settle(self, config: MappingConfig, batch: list[StreamRecord]) -> None:
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
            invocation = self._invoke(config, code, role, segment)
            verdict = judge(
                segment.records,
                invocation.error_type,
                invocation.payload,
                config.report_item_failures,
            )
            records = segment.records
            if verdict.succeeded:
                self.host.stats.add(delivered_records=len(records))
                self._advance(records[-1])
            elif verdict.failed_from:
                self.host.stats.add(delivered_records=verdict.failed_from)
                self._advance(records[verdict.failed_from - 1])
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
                self._discard(config, segment, "RetryAttemptsExhausted")

    def _invoke(
        self, config: MappingConfig, code: FunctionCode, role: str, segment: Segment
    ) -> Invocation:
        source = EventSource(self.stream_arn, self.region, role)
        # Lambda's IteratorAge: how old the batch's newest record is when the function gets it.
        iterator_age_ms = (self.host.now() - segment.records[-1].arrival) * 1000
        invocation = self.host.runner.invoke(code, kinesis_event(segment.records, source))
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
        self._discard(config, replace(segment, records=expired), "RecordAgeExceeded")
        return replace(segment, records=segment.records[len(expired) :])

    def _discard(self, config: MappingConfig, segment: Segment, condition: str) -> None:
        records = segment.records
        self.host.log(
            f"{self.uuid} {self.shard_id}: discarding {len(records)} records "
            f"{records[0].sequence_number}..{records[-1].sequence_number}: {condition}"
        )
        self.host.stats.add(discarded_records=len(records))
        if config.on_failure_arn:
            message = on_failure_message(
                records,
                stream_arn=self.stream_arn,
                function_arn=config.function_arn,
                condition=condition,
                request_id=segment.last_request_id or str(uuid4()),
                invoke_count=segment.invocations,
                function_error=segment.last_error,
                now=self.host.now(),
            )
            self.host.send_on_failure(config.on_failure_arn, message)
        self._advance(records[-1])

    def _advance(self, record: StreamRecord) -> None:
        self.host.save_checkpoint(self.uuid, self.shard_id, record.sequence_number)
