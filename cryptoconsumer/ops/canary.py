"""`check`: one canary tick through the real pipeline, stream to table, timed.

The tick uses a reserved ticker (CANARY + TEST = CANARYTEST) that no exchange has, and a
unique marker in from_currency_name, so the item found is this run's and no one else's.
The CLI user deletes it afterwards with their own credentials: the function's role may not
delete items, by design.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptoconsumer.aws import Clients, translated
from cryptoconsumer.config import StackConfig
from cryptoconsumer.ops.deployed import find_mapped_stream
from cryptoconsumer.ops.prices import TIME_FORMAT, no_table
from cryptoconsumer.progress import NullReporter, Reporter

FROM_CODE = "CANARY"
TO_CODE = "TEST"
TICKER = FROM_CODE + TO_CODE
POLL_SECONDS = 0.5
DEFAULT_TIMEOUT_SECONDS = 60
FIRST_REPUT_SECONDS = 1.0
REPUT_GROWTH = 1.5
MAX_REPUT_SECONDS = 8.0
BATCH_GET_KEYS = 100  # BatchGetItem's limit per call


@dataclass(frozen=True)
class CanaryTick:
    marker: str
    last_refreshed: str

    @property
    def payload(self) -> bytes:
        """The producer's flat form, as the handler parses it."""
        return json.dumps(
            {
                "from_currency_code": FROM_CODE,
                "from_currency_name": self.marker,
                "to_currency_code": TO_CODE,
                "to_currency_name": "cryptoconsumer check",
                "exchange_rate": "1",
                "last_refreshed": self.last_refreshed,
                "time_zone": "UTC",
            }
        ).encode("utf-8")

    @property
    def key(self) -> dict[str, dict[str, str]]:
        return {"ticker": {"S": TICKER}, "last_refreshed": {"S": self.last_refreshed}}


def new_tick(now: datetime | None = None, after: CanaryTick | None = None) -> CanaryTick:
    """A canary keyed `now` to the second, or a second after `after` if that is later: two
    canaries of one run never share a key (the table's key is ticker + second)."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    if after is not None:
        previous = datetime.strptime(after.last_refreshed, TIME_FORMAT).replace(tzinfo=timezone.utc)
        moment = max(moment, previous + timedelta(seconds=1))
    return CanaryTick(f"canary-{uuid.uuid4().hex}", moment.strftime(TIME_FORMAT))


@dataclass(frozen=True)
class PutCanary:
    tick: CanaryTick
    shard_id: str
    sequence_number: str
    put_at: float  # the clock when the put answered


@dataclass(frozen=True)
class CanaryResult:
    """`tick`, `shard_id`, `sequence_number` describe the canary that arrived first, or the
    last one put when none did."""

    arrived: bool
    tick: CanaryTick
    stream_arn: str
    shard_id: str
    sequence_number: str
    latency_ms: float | None
    deleted: bool
    timeout_seconds: float
    canaries_put: int = 1
    canaries_deleted: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "arrived": self.arrived,
            "ticker": TICKER,
            "last_refreshed": self.tick.last_refreshed,
            "marker": self.tick.marker,
            "stream_arn": self.stream_arn,
            "shard_id": self.shard_id,
            "sequence_number": self.sequence_number,
            "latency_ms": self.latency_ms,
            "deleted": self.deleted,
            "timeout_seconds": self.timeout_seconds,
            "canaries_put": self.canaries_put,
            "canaries_deleted": self.canaries_deleted,
        }


def _arrived(clients: Clients, table: str, ticks: list[CanaryTick]) -> set[str]:
    """The markers of those ticks whose item is in the table: one BatchGetItem per 100."""
    client = clients.dynamodb
    found: set[str] = set()
    for start in range(0, len(ticks), BATCH_GET_KEYS):
        chunk = ticks[start : start + BATCH_GET_KEYS]
        request: dict[str, Any] = {
            table: {
                "Keys": [tick.key for tick in chunk],
                "ConsistentRead": True,
                "ProjectionExpression": "from_currency_name",
            }
        }
        with translated(f"reading the canaries from table {table}"):
            try:
                answer = client.batch_get_item(RequestItems=request)
            except client.exceptions.ResourceNotFoundException:
                raise no_table(table) from None
        # UnprocessedKeys are simply read again at the next poll.
        for item in answer.get("Responses", {}).get(table, []):
            found.add(item.get("from_currency_name", {}).get("S", ""))
    return found & {tick.marker for tick in ticks}


def _delete(clients: Clients, table: str, tick: CanaryTick) -> bool:
    client = clients.dynamodb
    with translated(f"deleting the canary from table {table}"):
        try:
            # Conditional: a canary of another run in the same second must not be removed.
            client.delete_item(
                TableName=table,
                Key=tick.key,
                ConditionExpression="from_currency_name = :marker",
                ExpressionAttributeValues={":marker": {"S": tick.marker}},
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
    return True


def run(
    config: StackConfig,
    clients: Clients,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    *,
    reporter: Reporter | None = None,
    poll_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CanaryResult:
    """Put canaries on the mapped stream until one's item is in the table; delete those seen.

    Canaries that have not arrived when it returns (only after a timeout, or one put just
    before a poll that found an earlier one) may still arrive later: they stay in the table
    under CANARYTEST, each with its own marker.
    """
    reporter = reporter or NullReporter()
    mapped = find_mapped_stream(config, clients)
    table = config.table.name
    poll = POLL_SECONDS if poll_seconds is None else poll_seconds
    put: list[PutCanary] = []

    def put_one() -> None:
        tick = new_tick(after=put[-1].tick if put else None)
        with translated(f"putting a canary on stream {mapped.stream_arn}"):
            answer = clients.kinesis.put_record(
                StreamARN=mapped.stream_arn, Data=tick.payload, PartitionKey=TICKER
            )
        put.append(PutCanary(tick, str(answer["ShardId"]), str(answer["SequenceNumber"]), clock()))
        reporter.info(f"canary {tick.marker} on {answer['ShardId']} at {answer['SequenceNumber']}")

    put_one()
    started = put[0].put_at
    gap = FIRST_REPUT_SECONDS
    next_put = started + gap
    found: set[str] = set()
    found_at = 0.0
    with reporter.waiting(f"waiting up to {timeout_seconds:g} s for a canary in table {table}"):
        while True:
            found = _arrived(clients, table, [p.tick for p in put])
            now = clock()
            if found:
                found_at = now
                break
            if now - started >= timeout_seconds:
                break
            if now >= next_put:
                put_one()
                gap = min(gap * REPUT_GROWTH, MAX_REPUT_SECONDS)
                next_put = put[-1].put_at + gap
            sleep(poll)
    first = next((p for p in put if p.tick.marker in found), None)
    deleted = {
        p.tick.marker for p in put if p.tick.marker in found and _delete(clients, table, p.tick)
    }
    shown = first or put[-1]
    return CanaryResult(
        arrived=first is not None,
        tick=shown.tick,
        stream_arn=mapped.stream_arn,
        shard_id=shown.shard_id,
        sequence_number=shown.sequence_number,
        latency_ms=round((found_at - first.put_at) * 1000, 1) if first else None,
        deleted=first is not None and first.tick.marker in deleted,
        timeout_seconds=timeout_seconds,
        canaries_put=len(put),
        canaries_deleted=len(deleted),
    )
