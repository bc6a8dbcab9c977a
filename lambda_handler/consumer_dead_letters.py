"""Dead letters: the message a bad record becomes, and sending it to SQS (or to the log).

A record that can never be written is kept for a human: SendMessageBatch to the dead-letter
queue, or, without a queue, one ERROR log line with the same fields. What the queue does not
accept comes back as undelivered; the handler reports those records as batch item failures.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from consumer_records import DeadLetter
from consumer_runtime import Backoff, Deadline, log_json, logger

SQS_BATCH_MAX_ENTRIES = 10  # SendMessageBatch's hard limit per request
# SQS caps one message and the sum of one SendMessageBatch at 256 KiB (the classic limit; queues
# may allow more, but this one is always safe).
SQS_MESSAGE_MAX_BYTES = 256 * 1024
SQS_BATCH_MAX_BYTES = 256 * 1024
DEAD_LETTER_SEND_ATTEMPTS = 2


def dead_letter_fields(
    letter: DeadLetter, max_bytes: int = SQS_MESSAGE_MAX_BYTES
) -> dict[str, Any]:
    """The dead-letter message as a dict whose JSON fits in max_bytes, data truncated if need be."""
    fields: dict[str, Any] = {
        "reason": letter.reason,
        "sequence_number": letter.source.sequence_number,
        "partition_key": letter.source.partition_key,
        "event_source_arn": letter.source.event_source_arn,
        "approximate_arrival": letter.source.approximate_arrival,
        "data_base64": letter.data_base64,
    }
    if letter.source.user_record_index is not None:
        fields["user_record_index"] = letter.source.user_record_index
    if len(to_json(fields)) <= max_bytes:
        return fields
    # Only a hostile event can make the other fields this large: cut them too.
    for name in ("partition_key", "event_source_arn", "sequence_number"):
        if isinstance(fields[name], str) and len(fields[name]) > 2048:
            fields[name] = fields[name][:2048]
    without_data = to_json({**fields, "data_base64": "", "truncated": True})
    room = max(0, max_bytes - len(without_data))
    # Whole base64 quanta, so the kept prefix still decodes.
    fields["data_base64"] = letter.data_base64[: room - room % 4]
    fields["truncated"] = True
    return fields


def to_json(fields: Mapping[str, Any]) -> bytes:
    # ensure_ascii: every byte is a character SQS accepts (lone surrogates become \ud800
    # escapes), and len() is the byte size.
    return json.dumps(fields, ensure_ascii=True, default=str).encode("ascii")


def pack_message_batches(bodies: Sequence[str]) -> list[list[int]]:
    """Indices of bodies grouped into SendMessageBatch calls: <= 10 entries, <= 256 KiB in all."""
    batches: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    for index, body in enumerate(bodies):
        size = len(body)  # ASCII: characters are bytes
        if current and (
            len(current) == SQS_BATCH_MAX_ENTRIES or current_bytes + size > SQS_BATCH_MAX_BYTES
        ):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(index)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    delivered: list[DeadLetter]
    undelivered: list[DeadLetter]


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """Dead letters on their way: collect() waits for the answers."""

    letters: list[DeadLetter]
    batches: list[list[int]]
    futures: list[Future[list[DeadLetter]]]
    logged: bool = False

    def collect(self) -> DeliveryOutcome:
        if self.logged:
            return DeliveryOutcome(list(self.letters), [])
        undelivered: list[DeadLetter] = []
        for batch, future in zip(self.batches, self.futures, strict=True):
            try:
                undelivered.extend(future.result())
            except Exception:
                # A bug must not lose these records: they are reported and come back.
                logger.exception("unexpected error sending dead letters")
                undelivered.extend(self.letters[index] for index in batch)
        undelivered_ids = {id(letter) for letter in undelivered}
        delivered = [letter for letter in self.letters if id(letter) not in undelivered_ids]
        return DeliveryOutcome(delivered, undelivered)


def log_dead_letter(letter: DeadLetter, message: str) -> None:
    log_json(logging.ERROR, message, **dead_letter_fields(letter))


class DeadLetterSink:
    """Sends dead letters to SQS, 10 a request, on its own threads (or, without a queue, logs)."""

    def __init__(
        self,
        queue_url: str | None,
        client_factory: Callable[[], Any],
        executor: ThreadPoolExecutor,
        deadline: Deadline,
        backoff: Backoff,
    ) -> None:
        self._queue_url = queue_url
        self._client_factory = client_factory
        self._executor = executor
        self._deadline = deadline
        self._backoff = backoff

    def send(self, letters: Sequence[DeadLetter]) -> PendingDelivery:
        if not letters:
            return PendingDelivery([], [], [])
        if self._queue_url is None:
            for letter in letters:
                log_dead_letter(letter, "bad record (no dead-letter queue)")
            return PendingDelivery(list(letters), [], [], logged=True)
        # Created on this thread: boto3 sessions are not thread-safe, clients are.
        client = self._client_factory()
        bodies = [to_json(dead_letter_fields(letter)).decode("ascii") for letter in letters]
        batches = pack_message_batches(bodies)
        futures = [
            self._executor.submit(
                self._send_batch, client, [(letters[index], bodies[index]) for index in batch]
            )
            for batch in batches
        ]
        return PendingDelivery(list(letters), batches, futures)

    def deliver(self, letters: Sequence[DeadLetter]) -> DeliveryOutcome:
        return self.send(letters).collect()

    def _send_batch(
        self, client: Any, entries: Sequence[tuple[DeadLetter, str]]
    ) -> list[DeadLetter]:
        pending = {str(position): entry for position, entry in enumerate(entries)}
        for attempt in range(DEAD_LETTER_SEND_ATTEMPTS):
            if not self._deadline.allows():
                break
            try:
                response = client.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {"Id": entry_id, "MessageBody": body}
                        for entry_id, (_, body) in pending.items()
                    ],
                )
            except (ClientError, BotoCoreError) as error:
                log_json(
                    logging.ERROR,
                    "dead-letter queue unreachable; records reported as batch item failures",
                    error=str(error),
                    sequence_numbers=[
                        letter.source.sequence_number for letter, _ in pending.values()
                    ],
                )
                break
            succeeded = {entry["Id"] for entry in response.get("Successful", [])}
            for failure in response.get("Failed", []):
                log_json(
                    logging.WARNING,
                    "dead-letter message refused",
                    code=failure.get("Code"),
                    detail=failure.get("Message"),
                    sender_fault=failure.get("SenderFault"),
                )
            pending = {key: entry for key, entry in pending.items() if key not in succeeded}
            if not pending:
                break
            delay = self._backoff.delay(attempt + 1)
            if not self._deadline.allows(delay):
                break
            self._backoff.sleep(delay)
        return [letter for letter, _ in pending.values()]
