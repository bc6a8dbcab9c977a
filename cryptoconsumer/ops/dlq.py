"""The dead-letter queue's two kinds of message, and a look at them that consumes nothing.

- bad records: the handler's own messages for payloads that can never become an item
  ({"reason", "sequence_number", "partition_key", "event_source_arn", "approximate_arrival",
  "data_base64"});
- failed batches: what Lambda's on-failure destination receives when it gives up on a batch
  ({"requestContext", "responseContext", "KinesisBatchInfo"}); it points at the records in
  the stream, it does not carry them.

With `--failure-destination s3` failed batches go to the stack's bucket instead, one object
each, holding the same document plus `payload`: the Kinesis event itself, records included
(see `cryptoconsumer/local/destinations.py` for the layout). Objects are outside data: each is
parsed defensively, and one that does not hold a usable batch is reported, never replayed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from cryptoconsumer.aws import Clients, error_code, translated
from cryptoconsumer.config import MANAGED_BY, STACK_TAG, StackConfig, failed_batches_bucket
from cryptoconsumer.errors import AwsError, InputError

Kind = Literal["batch", "bad_record", "unknown"]
RECEIVE_MAX = 10  # ReceiveMessage's per-call maximum
PREVIEW_CHARS = 80
DEFAULT_PEEK_LIMIT = 100
# With VisibilityTimeout=0 every receive may return the same messages again; stop after this
# many rounds that show nothing new.
PEEK_IDLE_ROUNDS = 2
PEEK_MAX_ROUNDS = 50
# Where Lambda writes failure objects, and how big one may be: the event it holds is within
# Lambda's 6 MB invocation payload, base64 and JSON-escaped; anything far larger is not one.
FAILURE_PREFIX = "aws/lambda/"
MAX_OBJECT_BYTES = 16 * 1024 * 1024
FETCH_WORKERS = 8


@dataclass(frozen=True)
class FailedBatch:
    shard_id: str
    start_sequence_number: str
    end_sequence_number: str
    batch_size: int
    stream_arn: str
    condition: str
    function_error: str | None
    approximate_invoke_count: int
    function_arn: str
    first_arrival: str | None
    last_arrival: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> FailedBatch:
        info = body["KinesisBatchInfo"]
        request = body.get("requestContext") or {}
        response = body.get("responseContext") or {}
        return cls(
            shard_id=str(info["shardId"]),
            start_sequence_number=str(info["startSequenceNumber"]),
            end_sequence_number=str(info["endSequenceNumber"]),
            batch_size=int(info.get("batchSize", 0)),
            stream_arn=str(info["streamArn"]),
            condition=str(request.get("condition", "")),
            function_error=response.get("functionError"),
            approximate_invoke_count=int(request.get("approximateInvokeCount", 0)),
            function_arn=str(request.get("functionArn", "")),
            first_arrival=info.get("approximateArrivalOfFirstRecord"),
            last_arrival=info.get("approximateArrivalOfLastRecord"),
        )


@dataclass(frozen=True)
class BadRecord:
    reason: str
    sequence_number: str | None
    partition_key: str | None
    event_source_arn: str | None
    approximate_arrival: Any
    data_base64: str
    truncated: bool = False

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> BadRecord:
        return cls(
            reason=str(body["reason"]),
            sequence_number=body.get("sequence_number"),
            partition_key=body.get("partition_key"),
            event_source_arn=body.get("event_source_arn"),
            approximate_arrival=body.get("approximate_arrival"),
            data_base64=str(body.get("data_base64") or ""),
            truncated=bool(body.get("truncated", False)),
        )

    @property
    def preview(self) -> str:
        """The payload as text, one line, shortened; undecodable bytes shown as U+FFFD."""
        try:
            data = base64.b64decode(self.data_base64, validate=True)
        except (binascii.Error, ValueError):
            return f"(not base64: {self.data_base64[:PREVIEW_CHARS]})"
        text = " ".join(data.decode("utf-8", errors="replace").split())
        return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    sent_at_ms: int | None
    receive_count: int
    kind: Kind
    batch: FailedBatch | None = None
    bad: BadRecord | None = None

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "message_id": self.message_id,
            "kind": self.kind,
            "sent_at_ms": self.sent_at_ms,
            "receive_count": self.receive_count,
        }
        if self.batch is not None:
            document["batch"] = self.batch.__dict__.copy()
        if self.bad is not None:
            document["bad_record"] = {**self.bad.__dict__, "preview": self.bad.preview}
        if self.kind == "unknown":
            document["body"] = self.body
        return document


def classify(body: str) -> tuple[Kind, FailedBatch | None, BadRecord | None]:
    try:
        document = json.loads(body)
    except ValueError:
        return "unknown", None, None
    if not isinstance(document, dict):
        return "unknown", None, None
    try:
        if isinstance(document.get("KinesisBatchInfo"), dict):
            return "batch", FailedBatch.from_body(document), None
        if "reason" in document and "data_base64" in document:
            return "bad_record", None, BadRecord.from_body(document)
    except (KeyError, TypeError, ValueError):
        pass
    return "unknown", None, None


def from_message(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes") or {}
    sent = attributes.get("SentTimestamp")
    kind, batch, bad = classify(message.get("Body", ""))
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message.get("Body", ""),
        sent_at_ms=int(sent) if sent else None,
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        kind=kind,
        batch=batch,
        bad=bad,
    )


def queue_url(config: StackConfig, clients: Clients) -> str:
    if config.queue is None:
        raise InputError("this stack has no dead-letter queue (--no-dlq)")
    client = clients.sqs
    with translated(f"finding queue {config.queue.name}"):
        try:
            return str(client.get_queue_url(QueueName=config.queue.name)["QueueUrl"])
        except client.exceptions.QueueDoesNotExist:
            raise AwsError(
                f"queue {config.queue.name} does not exist: is the stack deployed?",
                "QueueDoesNotExist",
            ) from None


def receive(clients: Clients, url: str, visibility_seconds: int) -> list[DeadLetter]:
    with translated("receiving from the dead-letter queue"):
        answer = clients.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=RECEIVE_MAX,
            VisibilityTimeout=visibility_seconds,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
        )
    return [from_message(message) for message in answer.get("Messages", [])]


def approximate_depth(clients: Clients, url: str) -> int:
    with translated("reading the dead-letter queue's depth"):
        attributes = clients.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


def peek(clients: Clients, url: str, limit: int = DEFAULT_PEEK_LIMIT) -> list[DeadLetter]:
    """Up to `limit` distinct messages, received with VisibilityTimeout=0 and not deleted.

    They stay visible to everyone else, but SQS still counts each receive (ApproximateReceiveCount),
    and one receive returns at most 10, often the same ones: on a deep queue this is a sample.
    """
    found: dict[str, DeadLetter] = {}
    idle = 0
    for _ in range(PEEK_MAX_ROUNDS):
        if len(found) >= limit or idle >= PEEK_IDLE_ROUNDS:
            break
        fresh = [m for m in receive(clients, url, 0) if m.message_id not in found]
        idle = 0 if fresh else idle + 1
        for message in fresh:
            found[message.message_id] = message
    return list(found.values())[:limit]


@dataclass(frozen=True)
class StoredRecord:
    """One record of a failed batch as the S3 object holds it."""

    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float

    def as_kinesis(self) -> dict[str, Any]:
        """The shape GetRecords answers, which the replay turns into Lambda's event."""
        return {
            "SequenceNumber": self.sequence_number,
            "PartitionKey": self.partition_key,
            "Data": self.data,
            "ApproximateArrivalTimestamp": self.arrival,
        }


@dataclass(frozen=True)
class FailedBatchObject:
    """A failed batch in the bucket, with its records; `problem` says why it is unusable."""

    key: str
    size: int
    last_modified_ms: int | None
    batch: FailedBatch | None = None
    records: tuple[StoredRecord, ...] = ()
    problem: str | None = None
    body: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": "batch" if self.problem is None else "unknown",
            "size": self.size,
            "last_modified_ms": self.last_modified_ms,
            "records": len(self.records),
            "batch": self.batch.__dict__.copy() if self.batch is not None else None,
            "problem": self.problem,
        }


class _Unusable(ValueError):
    pass


def _record(entry: Any, index: int) -> StoredRecord:
    where = f"payload record {index}"
    kinesis = entry.get("kinesis") if isinstance(entry, dict) else None
    if not isinstance(kinesis, dict):
        raise _Unusable(f"{where} has no kinesis object")
    sequence, key, data = (
        kinesis.get("sequenceNumber"),
        kinesis.get("partitionKey"),
        kinesis.get("data"),
    )
    if not isinstance(sequence, str) or not sequence.isdigit() or not sequence.isascii():
        raise _Unusable(f"{where}: sequenceNumber is not a string of digits")
    if not isinstance(key, str) or not key:
        raise _Unusable(f"{where}: partitionKey is not a string")
    if not isinstance(data, str):
        raise _Unusable(f"{where}: data is not base64 text")
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _Unusable(f"{where}: data is not base64") from None
    arrival = kinesis.get("approximateArrivalTimestamp", 0)
    if isinstance(arrival, bool) or not isinstance(arrival, int | float):
        arrival = 0
    return StoredRecord(sequence, key, decoded, float(arrival))


def parse_object(
    key: str, body: bytes, size: int, last_modified_ms: int | None
) -> FailedBatchObject:
    """What a failure object holds, checked end to end: metadata, payload and records agree."""
    found = FailedBatchObject(key, size, last_modified_ms)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return replace(found, problem="not UTF-8 text")
    found = replace(found, body=text)
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return replace(found, problem="not a JSON document")
    if not isinstance(document, dict) or not isinstance(document.get("KinesisBatchInfo"), dict):
        return replace(found, problem="no KinesisBatchInfo: not a Kinesis failed batch")
    try:
        batch = FailedBatch.from_body(document)
    except (KeyError, TypeError, ValueError):
        return replace(found, problem="KinesisBatchInfo is incomplete")
    found = replace(found, batch=batch)
    try:
        payload = document.get("payload")
        if not isinstance(payload, str):
            raise _Unusable("no payload: the records are not in the object")
        try:
            event = json.loads(payload)
        except (ValueError, RecursionError):
            raise _Unusable("payload is not JSON") from None
        entries = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(entries, list) or not entries:
            raise _Unusable("payload has no Records")
        records = tuple(_record(entry, index) for index, entry in enumerate(entries))
    except _Unusable as unusable:
        return replace(found, problem=str(unusable))
    numbers = [int(r.sequence_number) for r in records]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        return replace(found, problem="payload records are not in sequence order")
    if (records[0].sequence_number, records[-1].sequence_number) != (
        batch.start_sequence_number,
        batch.end_sequence_number,
    ):
        return replace(found, problem="payload records do not span the batch's sequence range")
    if batch.batch_size and batch.batch_size != len(records):
        return replace(
            found,
            problem=f"payload holds {len(records)} record(s), the batch {batch.batch_size}",
        )
    return replace(found, records=records)


def find_bucket(config: StackConfig, clients: Clients) -> str | None:
    """The stack's failed-batches bucket, when it exists and carries the stack's tags.

    Looked for whatever the destination (a bucket kept after switching back to the queue
    still holds batches); only an s3 stack lets an S3 error stop the command."""
    name = failed_batches_bucket(config.stack, clients.account_id(), clients.region)
    s3 = clients.client("s3")
    try:
        with translated(f"reading bucket {name}"):
            try:
                s3.head_bucket(Bucket=name)
                tags = s3.get_bucket_tagging(Bucket=name)["TagSet"]
            except Exception as err:
                if error_code(err) in ("404", "NoSuchBucket", "NotFound", "NoSuchTagSet"):
                    return None
                raise
    except AwsError:
        if config.bucket is not None:
            raise
        return None
    found = {tag["Key"]: tag["Value"] for tag in tags}
    ours = found.get(STACK_TAG) == config.stack and found.get(MANAGED_BY[0]) == MANAGED_BY[1]
    return name if ours else None


def object_keys(clients: Clients, bucket: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Failure objects (key, size, time), oldest key first, up to `limit`."""
    found: list[dict[str, Any]] = []
    with translated(f"listing bucket {bucket}"):
        pages = clients.client("s3").get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=bucket, Prefix=FAILURE_PREFIX):
            found += page.get("Contents", [])
            if limit is not None and len(found) >= limit:
                return found[:limit]
    return found


def read_object(clients: Clients, bucket: str, listed: dict[str, Any]) -> FailedBatchObject:
    key = str(listed["Key"])
    size = int(listed.get("Size", 0))
    modified = listed.get("LastModified")
    modified_ms = int(modified.timestamp() * 1000) if modified is not None else None
    if size > MAX_OBJECT_BYTES:
        return FailedBatchObject(key, size, modified_ms, problem=f"{size} bytes: too large")
    s3 = clients.client("s3")
    with translated(f"reading object {key}"):
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_OBJECT_BYTES + 1)
        except s3.exceptions.NoSuchKey:
            return FailedBatchObject(key, size, modified_ms, problem="gone since it was listed")
    if len(body) > MAX_OBJECT_BYTES:
        return FailedBatchObject(key, len(body), modified_ms, problem="too large")
    return parse_object(key, body, size, modified_ms)


def read_objects(
    clients: Clients, bucket: str, listed: list[dict[str, Any]]
) -> list[FailedBatchObject]:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        return list(pool.map(lambda item: read_object(clients, bucket, item), listed))
