"""The shapes Lambda exchanges with a Kinesis-mapped function, as pure functions.

The event a function receives, how its answer is judged (ReportBatchItemFailures), and the
message an on-failure destination receives. No I/O here, so every rule has a plain unit test.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import islice
from typing import Any

# Lambda's synchronous invocation payload limit.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# What one record adds to the event besides its base64 data: keys, ARNs, ids.
RECORD_OVERHEAD_BYTES = 600


@dataclass(frozen=True)
class StreamRecord:
    """One Kinesis record as GetRecords returned it."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float  # epoch seconds

    @classmethod
    def from_api(cls, shard_id: str, record: dict[str, Any]) -> StreamRecord:
        arrival = record["ApproximateArrivalTimestamp"]
        if isinstance(arrival, datetime):
            if arrival.tzinfo is None:
                arrival = arrival.replace(tzinfo=timezone.utc)
            arrival = arrival.timestamp()
        return cls(
            shard_id=shard_id,
            sequence_number=str(record["SequenceNumber"]),
            partition_key=str(record["PartitionKey"]),
            data=bytes(record["Data"]),
            arrival=float(arrival),
        )

    @property
    def event_size(self) -> int:
        return (len(self.data) + 2) // 3 * 4 + RECORD_OVERHEAD_BYTES


@dataclass(frozen=True)
class EventSource:
    """Who the records are for: the parts of the event that do not vary per record."""

    stream_arn: str
    region: str
    invoke_identity_arn: str


def kinesis_event(records: list[StreamRecord], source: EventSource) -> dict[str, Any]:
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record.partition_key,
                    "sequenceNumber": record.sequence_number,
                    "data": base64.b64encode(record.data).decode("ascii"),
                    "approximateArrivalTimestamp": record.arrival,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{record.shard_id}:{record.sequence_number}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": source.invoke_identity_arn,
                "awsRegion": source.region,
                "eventSourceARN": source.stream_arn,
            }
            for record in records
        ]
    }


def take_batch(records: Iterable[StreamRecord], batch_size: int) -> list[StreamRecord]:
    """The longest prefix within BatchSize and the 6 MB payload; never empty if records are."""
    batch: list[StreamRecord] = []
    size = 0
    for record in islice(records, batch_size):
        size += record.event_size
        if batch and size > MAX_PAYLOAD_BYTES:
            break
        batch.append(record)
    return batch


@dataclass(frozen=True)
class Verdict:
    """How a batch went: `failed_from` is the index of the first record to retry, if any."""

    failed_from: int | None
    reason: str = ""

    @property
    def succeeded(self) -> bool:
        return self.failed_from is None


SUCCESS = Verdict(None)


def judge(
    records: list[StreamRecord],
    function_error: str | None,
    payload: Any,
    report_item_failures: bool,
) -> Verdict:
    """Apply Lambda's rules for a stream batch's result.

    Without ReportBatchItemFailures only a function error fails the batch. With it, a null or
    empty answer is success, the lowest reported sequence number is where processing resumes,
    and anything malformed (wrong type, a null/empty/unknown itemIdentifier) fails it whole.
    """
    if function_error:
        return Verdict(0, f"function error {function_error}")
    if not report_item_failures or payload is None:
        return SUCCESS
    if not isinstance(payload, dict):
        return Verdict(0, "malformed response: not an object")
    failures = payload.get("batchItemFailures")
    if failures is None or failures == []:
        return SUCCESS
    if not isinstance(failures, list):
        return Verdict(0, "malformed response: batchItemFailures is not a list")
    position = {record.sequence_number: index for index, record in enumerate(records)}
    indexes = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in position:
            return Verdict(0, f"malformed response: itemIdentifier {identifier!r} not in batch")
        indexes.append(position[identifier])
    first = min(indexes)
    return Verdict(first, f"item failure at {records[first].sequence_number}")


def iso_millis(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def on_failure_message(
    records: list[StreamRecord],
    *,
    stream_arn: str,
    function_arn: str,
    condition: str,
    request_id: str,
    invoke_count: int,
    function_error: str | None,
    now: float,
) -> dict[str, Any]:
    """What Lambda sends an on-failure destination for discarded stream records."""
    response_context: dict[str, Any] = {
        # Lambda answers 200 even for a function error; 0 here means it was never invoked.
        "statusCode": 200 if invoke_count else 0,
        "executedVersion": "$LATEST",
    }
    if function_error:
        response_context["functionError"] = "Unhandled"
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": iso_millis(now),
        "KinesisBatchInfo": {
            "shardId": records[0].shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": iso_millis(records[0].arrival),
            "approximateArrivalOfLastRecord": iso_millis(records[-1].arrival),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
