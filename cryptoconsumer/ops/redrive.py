"""`dlq redrive`: replay failed batches from the stream through the deployed function.

A failed-batch message only points at records (shard + sequence range); they are read back
from the stream while it still retains them, sent to the function in Lambda's Kinesis event
shape, and the message is deleted only once the function has taken every record. Bad records
are never re-sent as they are (they would fail the same way): they can be exported and purged.

Failed batches in the stack's S3 bucket (--failure-destination s3) carry their records: those
are replayed from the object, whatever the stream still retains, and the object is deleted only
once the function has taken every record. An object that does not hold a usable batch is
reported and kept.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Literal

from cryptoconsumer.aws import Clients, error_code, error_message, translated
from cryptoconsumer.config import StackConfig
from cryptoconsumer.errors import AwsError, InputError
from cryptoconsumer.ops.dlq import (
    DeadLetter,
    FailedBatch,
    FailedBatchObject,
    find_bucket,
    object_keys,
    queue_url,
    read_object,
    receive,
)

Action = Literal["replayed", "skipped", "failed", "purged", "left"]
# Lambda's synchronous invocation payload limit is 6 MB; leave room for the envelope.
MAX_EVENT_BYTES = 5_500_000
RECORD_OVERHEAD_BYTES = 600
GET_RECORDS_LIMIT = 1000
# Bounded read of one batch's range: empty pages are normal on a sparse shard.
MAX_GET_RECORDS_CALLS = 200
TRIMMED_CODES = ("InvalidArgumentException", "ResourceNotFoundException")
MAX_VISIBILITY_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Outcome:
    message_id: str
    kind: str
    action: Action
    detail: str = ""
    records: int = 0
    exported: bool = False

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RedriveReport:
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == action)

    @property
    def counts(self) -> dict[str, int]:
        counts = {action: self.count(action) for action in ("replayed", "skipped", "failed")}
        counts["replayed_records"] = sum(o.records for o in self.outcomes if o.action == "replayed")
        counts["exported"] = sum(1 for o in self.outcomes if o.exported)
        counts["purged"] = self.count("purged")
        # Everything that is still in the queue afterwards, whatever the reason.
        counts["left"] = sum(1 for o in self.outcomes if o.action not in ("replayed", "purged"))
        return counts


@dataclass(frozen=True)
class Target:
    """The deployed function, as the replayed events must name it."""

    function_name: str
    role_arn: str
    timeout: int


def read_target(config: StackConfig, clients: Clients) -> Target:
    client = clients.lambda_
    name = config.function.name
    with translated(f"reading function {name}"):
        try:
            found = client.get_function_configuration(FunctionName=name)
        except client.exceptions.ResourceNotFoundException:
            raise AwsError(
                f"function {name} does not exist: is the stack deployed?",
                "ResourceNotFoundException",
            ) from None
    return Target(name, str(found.get("Role", "")), int(found.get("Timeout", 3)))


def read_range(clients: Clients, batch: FailedBatch) -> list[dict[str, Any]] | str:
    """The batch's records, or why they cannot be read any more (a string)."""
    kinesis = clients.kinesis
    start, end = int(batch.start_sequence_number), int(batch.end_sequence_number)
    try:
        iterator = kinesis.get_shard_iterator(
            StreamARN=batch.stream_arn,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=batch.start_sequence_number,
        ).get("ShardIterator")
    except Exception as err:
        if error_code(err) in TRIMMED_CODES:
            return f"outside the stream's retention ({error_code(err)}: {error_message(err)})"
        with translated(f"reading shard {batch.shard_id}"):
            raise
    records: list[dict[str, Any]] = []
    with translated(f"reading shard {batch.shard_id}"):
        for _ in range(MAX_GET_RECORDS_CALLS):
            if not iterator:
                break
            answer = kinesis.get_records(
                StreamARN=batch.stream_arn, ShardIterator=iterator, Limit=GET_RECORDS_LIMIT
            )
            page = answer.get("Records", [])
            records += [r for r in page if start <= int(r["SequenceNumber"]) <= end]
            if any(int(r["SequenceNumber"]) >= end for r in page):
                break
            if not page and not answer.get("MillisBehindLatest"):
                break  # at the tip of the shard
            iterator = answer.get("NextShardIterator")
    if not records or int(records[0]["SequenceNumber"]) != start:
        return "records trimmed from the stream (outside its retention)"
    if int(records[-1]["SequenceNumber"]) != end:
        return f"only {len(records)} record(s) of the range are left in the stream"
    return records


def _arrival(record: dict[str, Any]) -> float:
    arrival = record.get("ApproximateArrivalTimestamp")
    if isinstance(arrival, datetime):
        if arrival.tzinfo is None:
            arrival = arrival.replace(tzinfo=timezone.utc)
        return arrival.timestamp()
    return float(arrival or 0)


def kinesis_event(
    records: list[dict[str, Any]], batch: FailedBatch, target: Target
) -> dict[str, Any]:
    """The event Lambda would have delivered for these records."""
    region = batch.stream_arn.split(":")[3]
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record["PartitionKey"],
                    "sequenceNumber": record["SequenceNumber"],
                    "data": base64.b64encode(record["Data"]).decode("ascii"),
                    "approximateArrivalTimestamp": _arrival(record),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{batch.shard_id}:{record['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": target.role_arn,
                "awsRegion": region,
                "eventSourceARN": batch.stream_arn,
            }
            for record in records
        ]
    }


def chunks(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive groups whose event stays under Lambda's 6 MB payload limit."""
    groups: list[list[dict[str, Any]]] = []
    size = 0
    for record in records:
        record_size = (len(record["Data"]) + 2) // 3 * 4 + RECORD_OVERHEAD_BYTES
        if not groups or size + record_size > MAX_EVENT_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(record)
        size += record_size
    return groups


def invoke(clients: Clients, target: Target, event: dict[str, Any]) -> str | None:
    """Run the function once; None on success, else what went wrong."""
    with translated(f"invoking function {target.function_name}"):
        answer = clients.lambda_invoker.invoke(
            FunctionName=target.function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode("utf-8"),
        )
    payload_bytes = answer["Payload"].read() if answer.get("Payload") is not None else b""
    try:
        payload = json.loads(payload_bytes) if payload_bytes else None
    except ValueError:
        payload = None
    if answer.get("FunctionError"):
        message = payload.get("errorMessage", "") if isinstance(payload, dict) else ""
        return f"function error {answer['FunctionError']}: {message}".strip()
    if answer.get("StatusCode") != 200:
        return f"invoke answered status {answer.get('StatusCode')}"
    failures = payload.get("batchItemFailures") if isinstance(payload, dict) else None
    if failures:
        return f"the function reported {len(failures)} record(s) as failed"
    return None


def _delete(clients: Clients, url: str, message: DeadLetter) -> None:
    with translated("deleting a dead-letter message"):
        clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=message.receipt_handle)


def _release(clients: Clients, url: str, kept: list[DeadLetter]) -> None:
    """Make messages not deleted visible again at once, rather than after the visibility."""
    for start in range(0, len(kept), 10):
        group = kept[start : start + 10]
        with translated("returning dead-letter messages to the queue"):
            clients.sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                    for index, m in enumerate(group)
                ],
            )


def _replay(clients: Clients, target: Target, message: DeadLetter, dry_run: bool) -> Outcome:
    batch = message.batch
    assert batch is not None
    records = read_range(clients, batch)
    if isinstance(records, str):
        return Outcome(message.message_id, "batch", "skipped", records)
    span = f"{batch.shard_id} {batch.start_sequence_number}..{batch.end_sequence_number}"
    if dry_run:
        return Outcome(message.message_id, "batch", "left", f"would replay {span}", len(records))
    for group in chunks(records):
        problem = invoke(clients, target, kinesis_event(group, batch, target))
        if problem:
            return Outcome(message.message_id, "batch", "failed", problem, len(records))
    return Outcome(message.message_id, "batch", "replayed", span, len(records))


def redrive(
    config: StackConfig,
    clients: Clients,
    *,
    dry_run: bool = False,
    export_path: Path | None = None,
    purge_bad: bool = False,
    progress: Callable[[Outcome], None] | None = None,
) -> RedriveReport:
    """Work through the whole queue once (every message not deleted is visible again after),
    then the failed-batches bucket, when the stack has one."""
    if export_path is not None and export_path.exists():
        raise InputError(f"--export {export_path} already exists; refusing to overwrite it")
    url = queue_url(config, clients)
    target = read_target(config, clients)
    report = RedriveReport(dry_run)
    export = export_path.open("x", encoding="utf-8") if export_path and not dry_run else None
    try:
        _redrive_queue(clients, url, target, report, export, purge_bad, progress)
        bucket = find_bucket(config, clients)
        if bucket is not None:
            _redrive_bucket(config, clients, target, bucket, report, export, progress)
    finally:
        if export is not None:
            export.close()
    return report


def _redrive_queue(
    clients: Clients,
    url: str,
    target: Target,
    report: RedriveReport,
    export: IO[str] | None,
    purge_bad: bool,
    progress: Callable[[Outcome], None] | None,
) -> None:
    # Received messages stay hidden while the rest are worked on: up to 10 invocations each.
    visibility = min(MAX_VISIBILITY_SECONDS, 10 * (target.timeout + 30))
    dry_run = report.dry_run
    seen: set[str] = set()
    kept: list[DeadLetter] = []
    try:
        while True:
            received = [m for m in receive(clients, url, visibility) if m.message_id not in seen]
            if not received:
                break
            for message in received:
                seen.add(message.message_id)
                if message.kind == "batch":
                    outcome = _replay(clients, target, message, dry_run)
                    if outcome.action == "replayed":
                        _delete(clients, url, message)
                elif message.kind == "bad_record":
                    outcome = _dispose_bad(clients, url, message, export, purge_bad, dry_run)
                else:
                    outcome = Outcome(message.message_id, "unknown", "left", "unrecognised body")
                if outcome.action not in ("replayed", "purged"):
                    kept.append(message)
                report.outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
    finally:
        _release(clients, url, kept)


def _redrive_bucket(
    config: StackConfig,
    clients: Clients,
    target: Target,
    bucket: str,
    report: RedriveReport,
    export: IO[str] | None,
    progress: Callable[[Outcome], None] | None,
) -> None:
    """Every failure object listed at the start, one at a time (each may be 6 MB of records)."""
    for listed in object_keys(clients, bucket):
        found = read_object(clients, bucket, listed)
        if export is not None and found.body:
            export.write(
                json.dumps({"bucket": bucket, "object_key": found.key, "body": found.body})
            )
            export.write("\n")
            export.flush()
        outcome = _replay_object(config, clients, target, found, report.dry_run)
        if outcome.action == "replayed":
            with translated(f"deleting object {found.key}"):
                clients.client("s3").delete_object(Bucket=bucket, Key=found.key)
        if export is not None and found.body:
            outcome = replace(outcome, exported=True)
        report.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)


def _replay_object(
    config: StackConfig, clients: Clients, target: Target, found: FailedBatchObject, dry_run: bool
) -> Outcome:
    batch = found.batch
    if found.problem is not None or batch is None:
        return Outcome(found.key, "s3_batch", "left", f"kept: {found.problem}")
    if config.stream is not None and batch.stream_arn != config.stream.arn:
        return Outcome(
            found.key, "s3_batch", "left", f"kept: from another stream {batch.stream_arn}"
        )
    span = f"{batch.shard_id} {batch.start_sequence_number}..{batch.end_sequence_number}"
    records = [record.as_kinesis() for record in found.records]
    if dry_run:
        return Outcome(found.key, "s3_batch", "left", f"would replay {span}", len(records))
    for group in chunks(records):
        problem = invoke(clients, target, kinesis_event(group, batch, target))
        if problem:
            return Outcome(found.key, "s3_batch", "failed", problem, len(records))
    return Outcome(found.key, "s3_batch", "replayed", span, len(records))


def _dispose_bad(
    clients: Clients,
    url: str,
    message: DeadLetter,
    export: IO[str] | None,
    purge: bool,
    dry_run: bool,
) -> Outcome:
    """Export (when asked) strictly before purging (when asked): a purged record is gone."""
    assert message.bad is not None
    reason = message.bad.reason
    if dry_run:
        return Outcome(message.message_id, "bad_record", "left", reason)
    exported = export is not None
    if export is not None:
        export.write(json.dumps({"message_id": message.message_id, **json.loads(message.body)}))
        export.write("\n")
        export.flush()
    if purge:
        _delete(clients, url, message)
        return Outcome(message.message_id, "bad_record", "purged", reason, exported=exported)
    return Outcome(message.message_id, "bad_record", "left", reason, exported=exported)
