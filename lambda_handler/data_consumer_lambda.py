"""Lambda consumer: crypto exchange-rate ticks from Kinesis, one DynamoDB item per tick.

Contract
- Entry point ``handler(event, context)`` behind a Kinesis event source mapping created with
  ``FunctionResponseTypes=["ReportBatchItemFailures"]``. It returns
  ``{"batchItemFailures": [{"itemIdentifier": "<sequenceNumber>"}, ...]}``; Lambda resumes the
  shard from the lowest sequence number reported and delivers everything after it again, so every
  write is an idempotent put keyed by ``ticker`` + ``last_refreshed``.
- Environment: ``DYNAMO_TABLE_NAME`` (required), ``DEAD_LETTER_QUEUE_URL`` (optional),
  ``LOG_LEVEL`` (optional, default INFO).
- Every user record (a Kinesis record, or one record of a KPL aggregate) ends exactly one way:
  written, folded into a newer duplicate that was written, dead-lettered (the queue, or the log
  at ERROR), or reported as a batch item failure. The summary line counts each.
- Imports only the standard library, boto3 and its sibling modules (by plain name: the zip root
  is on sys.path, ``lambda_handler/__init__.py`` is not in the zip):
  ``consumer_payloads`` (bytes -> tick -> item), ``consumer_records`` (event -> user records,
  the per-record barrier, deduplication), ``kpl_aggregate``, ``consumer_writes`` (DynamoDB),
  ``consumer_dead_letters`` (SQS), ``consumer_runtime`` (log, deadline, backoff).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from consumer_dead_letters import DeadLetterSink, log_dead_letter
from consumer_records import (
    DeadLetter,
    PendingItem,
    WritePlanner,
    event_records,
    plan_batch,
    read_units,
    sequence_as_int,
)
from consumer_runtime import Backoff, Deadline, log_json, logger
from consumer_writes import BatchWriter, WriteOutcome

__all__ = [
    "ConfigurationError",
    "get_dynamodb_client",
    "get_sqs_client",
    "handler",
    "plan_batch",
    "reset_clients",
    "set_dynamodb_client",
    "set_sqs_client",
]

TABLE_NAME_ENV = "DYNAMO_TABLE_NAME"
DEAD_LETTER_QUEUE_URL_ENV = "DEAD_LETTER_QUEUE_URL"
LOG_LEVEL_ENV = "LOG_LEVEL"

# BatchWriteItem requests in flight: at ~10 ms a round trip, 16 x 25 items keep 10,000 records
# (400 requests) to about 25 round trips.
WRITE_WORKERS = 16
# Dead letters have their own threads, so they never wait behind the writes (nor the reverse).
DEAD_LETTER_WORKERS = 4
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0

# botocore's own retries stay modest so the time-budget loop in BatchWriter keeps control of
# throttling; short timeouts stop one hung connection from eating the whole budget.
# Client-side parameter validation walks every attribute of every item, about half of the
# client's CPU per BatchWriteItem (~30 ms per 1,000 items), for items consumer_payloads has
# already built in exactly the model's shape; DynamoDB still validates each request, and a
# refused one is reported as batch item failures like any other.
DYNAMODB_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=WRITE_WORKERS + 2,
    parameter_validation=False,
)
SQS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=DEAD_LETTER_WORKERS + 2,
)

EVENT_PREVIEW_CHARACTERS = 500


class ConfigurationError(RuntimeError):
    """The function is deployed without something it needs; no record is at fault."""


# --------------------------------------------------------------------------------------------
# AWS clients and threads: one of each per container, created lazily, replaceable for tests
# --------------------------------------------------------------------------------------------

_clients_lock = threading.Lock()
_dynamodb_client: Any = None
_sqs_client: Any = None
_write_executor: ThreadPoolExecutor | None = None
_dead_letter_executor: ThreadPoolExecutor | None = None


def get_dynamodb_client() -> Any:
    global _dynamodb_client
    with _clients_lock:
        if _dynamodb_client is None:
            _dynamodb_client = boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG)
        return _dynamodb_client


def get_sqs_client() -> Any:
    global _sqs_client
    with _clients_lock:
        if _sqs_client is None:
            _sqs_client = boto3.client("sqs", config=SQS_CLIENT_CONFIG)
        return _sqs_client


def set_dynamodb_client(client: Any) -> None:
    global _dynamodb_client
    with _clients_lock:
        _dynamodb_client = client


def set_sqs_client(client: Any) -> None:
    global _sqs_client
    with _clients_lock:
        _sqs_client = client


def reset_clients() -> None:
    """Forget both clients; the next invocation creates fresh ones (tests, benchmarks)."""
    set_dynamodb_client(None)
    set_sqs_client(None)


def _executors() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    global _write_executor, _dead_letter_executor
    with _clients_lock:
        if _write_executor is None:
            _write_executor = ThreadPoolExecutor(WRITE_WORKERS, thread_name_prefix="ddb-write")
        if _dead_letter_executor is None:
            _dead_letter_executor = ThreadPoolExecutor(
                DEAD_LETTER_WORKERS, thread_name_prefix="dead-letter"
            )
        return _write_executor, _dead_letter_executor


# --------------------------------------------------------------------------------------------
# Handler
# --------------------------------------------------------------------------------------------


def _apply_log_level() -> None:
    level = logging.getLevelName(os.environ.get(LOG_LEVEL_ENV, "INFO").strip().upper())
    logger.setLevel(level if isinstance(level, int) else logging.INFO)


def _table_name() -> str:
    table_name = os.environ.get(TABLE_NAME_ENV, "").strip()
    if not table_name:
        raise ConfigurationError(
            f"{TABLE_NAME_ENV} is not set: set it to the name of the DynamoDB table the "
            "consumer writes ticks to"
        )
    return table_name


class _LazyWriter:
    """The BatchWriter, made (with its client) only when the first chunk is handed over."""

    def __init__(self, table_name: str, executor: ThreadPoolExecutor, deadline: Deadline) -> None:
        self._table_name = table_name
        self._executor = executor
        self._deadline = deadline
        self._writer: BatchWriter | None = None

    def submit(self, chunk: list[PendingItem]) -> None:
        if self._writer is None:
            backoff = Backoff(BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS)
            self._writer = BatchWriter(
                get_dynamodb_client(), self._table_name, self._executor, self._deadline, backoff
            )
        self._writer.submit(chunk)

    def finish(self, held: Sequence[PendingItem]) -> WriteOutcome:
        if self._writer is None:
            return WriteOutcome([], [])
        self._writer.submit_held(held)
        return self._writer.collect()


def _preview(event: object) -> str:
    try:
        return json.dumps(event, default=repr)[:EVENT_PREVIEW_CHARACTERS]
    except Exception:
        return f"<{type(event).__name__}>"


def handler(event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
    started = time.monotonic()
    _apply_log_level()
    table_name = _table_name()
    queue_url = os.environ.get(DEAD_LETTER_QUEUE_URL_ENV, "").strip() or None
    deadline = Deadline.for_invocation(context, started)
    write_executor, dead_letter_executor = _executors()

    records, event_error = event_records(event)
    if event_error is not None:
        log_json(logging.ERROR, "not a Kinesis event", problem=event_error, event=_preview(event))

    # Read, check and deduplicate in stream order; each full chunk starts writing at once.
    writer = _LazyWriter(table_name, write_executor, deadline)
    planner = WritePlanner(writer.submit)
    letters: list[DeadLetter] = []
    user_records = 0
    for unit in read_units(records):
        user_records += 1
        if isinstance(unit, DeadLetter):
            letters.append(unit)
        else:
            planner.add(unit)
    planner.flush()
    backoff = Backoff(BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS)
    sink = DeadLetterSink(queue_url, get_sqs_client, dead_letter_executor, deadline, backoff)
    delivery = sink.send(letters)
    writes = writer.finish(planner.held())
    letters_outcome = delivery.collect()

    # Accounting, per user record: written, folded into a written duplicate, dead-lettered, or
    # reported (by its Kinesis record's sequence number) as a batch item failure.
    failed_sequence_numbers: set[str] = set()
    failed = 0
    for pending in writes.unwritten:
        failed += pending.user_records
        failed_sequence_numbers.update(pending.sequence_numbers)
    dead_lettered = len(letters_outcome.delivered)
    for letter in letters_outcome.undelivered:
        if letter.source.sequence_number is None:
            # Nothing to report it by: this log line is its dead letter.
            log_dead_letter(letter, "bad record kept here: dead-letter queue unreachable")
            dead_lettered += 1
        else:
            failed += 1
            failed_sequence_numbers.add(letter.source.sequence_number)
    if writes.unwritten:
        log_json(
            logging.WARNING,
            "items left unwritten; their records are reported as batch item failures",
            items=len(writes.unwritten),
            seconds_left=round(deadline.remaining_seconds(), 3),
        )
    summary: dict[str, Any] = {
        "message": "batch processed",
        "records": len(records),
        "user_records": user_records,
        "written": len(writes.written),
        "duplicates": sum(pending.user_records - 1 for pending in writes.written),
        "dead_lettered": dead_lettered,
        "failed": failed,
        "batch_item_failures": len(failed_sequence_numbers),
        "duration_ms": round((time.monotonic() - started) * 1000, 1),
    }
    if event_error is not None:
        summary["event_error"] = event_error
    print(json.dumps(summary), flush=True)
    return {
        "batchItemFailures": [
            {"itemIdentifier": sequence_number}
            for sequence_number in sorted(failed_sequence_numbers, key=sequence_as_int)
        ]
    }
