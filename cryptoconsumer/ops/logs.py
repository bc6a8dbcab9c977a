"""The function's CloudWatch Logs: a window of events, or a follow loop, with the handler's
JSON summary lines recognised so they can be shown as sentences."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptoconsumer.aws import Clients, translated
from cryptoconsumer.errors import AwsError

FOLLOW_POLL_SECONDS = 2.0
# CloudWatch Logs may ingest an event after a later one; each follow poll looks back this far
# and drops the events it has already shown (by eventId), so a late event is not skipped.
FOLLOW_LOOKBACK_MS = 10_000
SUMMARY_MESSAGE = "batch processed"
SUMMARY_COUNTS = ("records", "written", "duplicates", "dead_lettered", "failed")

# Module-level so tests can replace the wait between follow polls.
sleep = time.sleep


@dataclass(frozen=True)
class LogEvent:
    event_id: str
    timestamp_ms: int
    log_stream: str
    message: str

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=timezone.utc)

    @property
    def summary(self) -> dict[str, Any] | None:
        return batch_summary(self.message)

    def as_json(self) -> dict[str, Any]:
        return {
            "timestamp": iso_millis(self.timestamp_ms),
            "timestamp_ms": self.timestamp_ms,
            "log_stream": self.log_stream,
            "event_id": self.event_id,
            "message": self.message,
            "summary": self.summary,
        }


def iso_millis(timestamp_ms: int) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{timestamp_ms % 1000:03d}Z"


def structured(message: str) -> tuple[str | None, dict[str, Any] | None]:
    """(level, JSON object) of a log line, if it carries one.

    The handler prints its summary as a bare JSON line; its logger's lines reach CloudWatch
    in the Python runtime's form "[LEVEL]\\tTIME\\tREQUEST_ID\\t{...}".
    """
    text = message.strip()
    level = None
    if text.startswith("[") and "\t" in text:
        parts = text.split("\t", 3)
        level, text = parts[0].strip("[]"), parts[-1].strip()
    if not text.startswith("{"):
        return level, None
    try:
        document = json.loads(text)
    except ValueError:
        return level, None
    return level, document if isinstance(document, dict) else None


def batch_summary(message: str) -> dict[str, Any] | None:
    _, document = structured(message)
    if document is None or document.get("message") != SUMMARY_MESSAGE:
        return None
    return document


def _event(raw: dict[str, Any]) -> LogEvent:
    return LogEvent(
        event_id=str(raw["eventId"]),
        timestamp_ms=int(raw["timestamp"]),
        log_stream=str(raw.get("logStreamName", "")),
        message=str(raw.get("message", "")).rstrip("\n"),
    )


def fetch(
    clients: Clients, log_group: str, start_ms: int, filter_pattern: str | None = None
) -> list[LogEvent]:
    """Every event from start_ms on (FilterLogEvents, paginated), oldest first."""
    client = clients.logs
    params: dict[str, Any] = {"logGroupName": log_group, "startTime": start_ms}
    if filter_pattern:
        params["filterPattern"] = filter_pattern
    with translated(f"reading log group {log_group}"):
        try:
            events = [
                _event(raw)
                for page in client.get_paginator("filter_log_events").paginate(**params)
                for raw in page.get("events", [])
            ]
        except client.exceptions.ResourceNotFoundException:
            raise AwsError(
                f"log group {log_group} does not exist: is the stack deployed?",
                "ResourceNotFoundException",
            ) from None
    return sorted(events, key=lambda event: (event.timestamp_ms, event.event_id))


def follow(
    clients: Clients,
    log_group: str,
    start_ms: int,
    filter_pattern: str | None = None,
    *,
    poll_seconds: float = FOLLOW_POLL_SECONDS,
) -> Iterator[list[LogEvent]]:
    """New events every `poll_seconds`, forever (the caller stops on Ctrl-C); each event once."""
    shown: dict[str, int] = {}
    since = start_ms
    while True:
        fresh = [
            event
            for event in fetch(clients, log_group, since, filter_pattern)
            if event.event_id not in shown
        ]
        for event in fresh:
            shown[event.event_id] = event.timestamp_ms
        yield fresh
        if shown:
            since = max(start_ms, max(shown.values()) - FOLLOW_LOOKBACK_MS)
            # Only ids inside the look-back can come back; forget the rest.
            shown = {key: ms for key, ms in shown.items() if ms >= since}
        sleep(poll_seconds)


def describe(event: LogEvent) -> str:
    """The message as a person wants to read it: summaries as a sentence, JSON as key=value."""
    summary = event.summary
    if summary is not None:
        counts = {name: summary.get(name, 0) for name in SUMMARY_COUNTS}
        text = (
            f"batch processed: {counts['records']} record(s), {counts['written']} written, "
            f"{counts['duplicates']} duplicate(s), {counts['dead_lettered']} dead-lettered, "
            f"{counts['failed']} failed"
        )
        if "user_records" in summary:
            text += f" ({summary['user_records']} user records)"
        if "duration_ms" in summary:
            text += f" in {summary['duration_ms']} ms"
        return text
    level, document = structured(event.message)
    if document is None:
        return event.message.strip()
    fields = " ".join(
        f"{key}={json.dumps(value) if not isinstance(value, str) else value}"
        for key, value in document.items()
        if key != "message"
    )
    words = [level, str(document.get("message", "")), fields]
    return " ".join(word for word in words if word)
