"""DynamoDB writing: BatchWriteItem of 25 items, several requests in flight, inside a deadline.

Throttling and UnprocessedItems are retried with exponential backoff and full jitter until the
deadline; whatever is still unwritten then is handed back, never raised, and the handler reports
its records as batch item failures.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from consumer_payloads import DynamoDBItem
from consumer_records import BATCH_WRITE_MAX_ITEMS, PendingItem, sequence_as_int
from consumer_runtime import Backoff, Deadline, log_json, logger

RETRYABLE_DYNAMODB_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    written: list[PendingItem]
    unwritten: list[PendingItem]


def is_retryable(error: Exception) -> bool:
    if isinstance(error, (BotoConnectionError, HTTPClientError)):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in RETRYABLE_DYNAMODB_ERROR_CODES or status >= 500
    return False


def item_key(item: DynamoDBItem) -> tuple[str, str]:
    return (item["ticker"]["S"], item["last_refreshed"]["S"])


class BatchWriter:
    """Writes chunks as they are handed over, each on a thread of the executor."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        executor: ThreadPoolExecutor,
        deadline: Deadline,
        backoff: Backoff,
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._executor = executor
        self._deadline = deadline
        self._backoff = backoff
        self._submitted: list[tuple[list[PendingItem], Future[WriteOutcome]]] = []
        self._future_of: dict[int, Future[WriteOutcome]] = {}

    def submit(self, chunk: list[PendingItem]) -> None:
        future = self._executor.submit(self._write_chunk, chunk)
        self._submitted.append((chunk, future))
        for pending in chunk:
            self._future_of[id(pending)] = future

    def submit_held(self, held: Sequence[PendingItem]) -> None:
        """Second writes of keys already in flight: each starts once the first one is done."""
        if not held:
            return
        wait({self._future_of[id(pending.after)] for pending in held if pending.after})
        for start in range(0, len(held), BATCH_WRITE_MAX_ITEMS):
            self.submit(list(held[start : start + BATCH_WRITE_MAX_ITEMS]))

    def collect(self) -> WriteOutcome:
        written: list[PendingItem] = []
        unwritten: list[PendingItem] = []
        for chunk, future in self._submitted:
            try:
                outcome = future.result()
            except Exception:
                # A bug must not lose the other chunks' progress; these records will be retried.
                logger.exception("unexpected error writing a chunk")
                outcome = WriteOutcome([], chunk)
            written.extend(outcome.written)
            unwritten.extend(outcome.unwritten)
        return WriteOutcome(written, unwritten)

    def _write_chunk(self, chunk: list[PendingItem]) -> WriteOutcome:
        remaining = list(chunk)
        attempt = 0
        while remaining and self._deadline.allows():
            try:
                response = self._client.batch_write_item(
                    RequestItems={
                        self._table_name: [
                            {"PutRequest": {"Item": pending.item}} for pending in remaining
                        ]
                    }
                )
            except (ClientError, BotoCoreError) as error:
                if not is_retryable(error):
                    log_json(
                        logging.ERROR,
                        "DynamoDB refused the write; records reported as batch item failures",
                        error=str(error),
                        table=self._table_name,
                        sequence_numbers=sorted(
                            {number for item in remaining for number in item.sequence_numbers},
                            key=sequence_as_int,
                        ),
                    )
                    break
            else:
                unprocessed = response.get("UnprocessedItems", {}).get(self._table_name, [])
                unprocessed_keys = {
                    item_key(request["PutRequest"]["Item"]) for request in unprocessed
                }
                remaining = [pending for pending in remaining if pending.key in unprocessed_keys]
                if not remaining:
                    break
            attempt += 1
            delay = self._backoff.delay(attempt)
            if not self._deadline.allows(delay):
                break
            self._backoff.sleep(delay)
        remaining_ids = {id(pending) for pending in remaining}
        return WriteOutcome(
            written=[pending for pending in chunk if id(pending) not in remaining_ids],
            unwritten=remaining,
        )
