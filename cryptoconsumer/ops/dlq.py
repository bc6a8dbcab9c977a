"""The dead-letter queue's two kinds of message, and a look at them that consumes nothing.

- bad records: the handler's own messages for payloads that can never become an item
  ({"reason", "sequence_number", "partition_key", "event_source_arn", "approximate_arrival",
  "data_base64"});
- failed batches: what Lambda's on-failure destination receives when it gives up on a batch
  ({"requestContext", "responseContext", "KinesisBatchInfo"}); it points at the records in
  the stream, it does not carry them.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Literal

from cryptoconsumer.aws import Clients, translated
from cryptoconsumer.config import StackConfig
from cryptoconsumer.errors import AwsError, InputError

Kind = Literal["batch", "bad_record", "unknown"]
RECEIVE_MAX = 10  # ReceiveMessage's per-call maximum
PREVIEW_CHARS = 80
DEFAULT_PEEK_LIMIT = 100
# With VisibilityTimeout=0 every receive may return the same messages again; stop after this
# many rounds that show nothing new.
PEEK_IDLE_ROUNDS = 2
PEEK_MAX_ROUNDS = 50


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
