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
from datetime import datetime, timezone
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


def new_tick(now: datetime | None = None) -> CanaryTick:
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return CanaryTick(f"canary-{uuid.uuid4().hex}", moment.strftime(TIME_FORMAT))


@dataclass(frozen=True)
class CanaryResult:
    arrived: bool
    tick: CanaryTick
    stream_arn: str
    shard_id: str
    sequence_number: str
    latency_ms: float | None
    deleted: bool
    timeout_seconds: float

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
        }


def _find(clients: Clients, table: str, tick: CanaryTick) -> bool:
    client = clients.dynamodb
    with translated(f"reading the canary from table {table}"):
        try:
            item = client.get_item(TableName=table, Key=tick.key, ConsistentRead=True).get("Item")
        except client.exceptions.ResourceNotFoundException:
            raise no_table(table) from None
    return bool(item) and item.get("from_currency_name", {}).get("S") == tick.marker


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
    """Put the canary on the mapped stream and wait for its item; delete it once seen."""
    reporter = reporter or NullReporter()
    mapped = find_mapped_stream(config, clients)
    table = config.table.name
    tick = new_tick()
    with translated(f"putting the canary on stream {mapped.stream_arn}"):
        put = clients.kinesis.put_record(
            StreamARN=mapped.stream_arn, Data=tick.payload, PartitionKey=TICKER
        )
    started = clock()
    reporter.info(f"canary {tick.marker} on {put['ShardId']} at {put['SequenceNumber']}")
    arrived = False
    with reporter.waiting(f"waiting up to {timeout_seconds:g} s for the canary in table {table}"):
        while True:
            if _find(clients, table, tick):
                arrived = True
                break
            if clock() - started >= timeout_seconds:
                break
            sleep(POLL_SECONDS if poll_seconds is None else poll_seconds)
    latency_ms = round((clock() - started) * 1000, 1) if arrived else None
    deleted = _delete(clients, table, tick) if arrived else False
    return CanaryResult(
        arrived=arrived,
        tick=tick,
        stream_arn=mapped.stream_arn,
        shard_id=str(put["ShardId"]),
        sequence_number=str(put["SequenceNumber"]),
        latency_ms=latency_ms,
        deleted=deleted,
        timeout_seconds=timeout_seconds,
    )
