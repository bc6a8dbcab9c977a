"""`logs`: a window of the function's log events, summaries made readable, and --follow."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cryptoconsumer.aws import Clients
from cryptoconsumer.cli import ops_cmds
from cryptoconsumer.ops import logs

from .conftest import Deployed, json_of, session_with_hooks

SUMMARY = {
    "message": "batch processed",
    "records": 100,
    "written": 97,
    "duplicates": 1,
    "dead_lettered": 2,
    "failed": 0,
    "duration_ms": 123.4,
}
STREAM = "2026/11/25/[$LATEST]0123456789abcdef"


def write(deployed: Deployed, *events: tuple[int, str]) -> None:
    """(milliseconds ago, message) events into the function's log group."""
    client = deployed.client("logs")
    group = deployed.config.log_group.name
    try:
        client.create_log_stream(logGroupName=group, logStreamName=STREAM)
    except client.exceptions.ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    client.put_log_events(
        logGroupName=group,
        logStreamName=STREAM,
        logEvents=[{"timestamp": now - age, "message": message} for age, message in events],
    )


def test_json_lists_the_events_of_the_window_with_parsed_summaries(
    deployed: Deployed, cli: Any
) -> None:
    write(
        deployed,
        (30 * 60_000, "START RequestId: too-old Version: $LATEST\n"),
        (5_000, "START RequestId: 1 Version: $LATEST\n"),
        (4_000, json.dumps(SUMMARY) + "\n"),
    )

    result = cli("logs", "--since", "10m", "--output", "json")

    assert result.exit_code == 0, result.stderr
    events = json_of(result)
    assert [event["message"] for event in events] == [
        "START RequestId: 1 Version: $LATEST",
        json.dumps(SUMMARY),
    ]
    assert events[0]["summary"] is None
    assert events[1]["summary"] == SUMMARY
    assert events[1]["log_stream"] == STREAM
    assert events[1]["event_id"]
    assert events[1]["timestamp"].endswith("Z")
    assert events[0]["timestamp_ms"] < events[1]["timestamp_ms"]


def test_text_shows_summaries_and_logger_lines_readably(deployed: Deployed, cli: Any) -> None:
    logger_line = "[ERROR]\t2026-11-25T12:00:00.000Z\treq-1\t" + json.dumps(
        {"message": "DynamoDB refused the write", "items": 3, "table": "t"}
    )
    write(deployed, (3_000, json.dumps(SUMMARY)), (2_000, logger_line))

    result = cli("logs")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith(
        "batch processed: 100 record(s), 97 written, 1 duplicate(s), 2 dead-lettered, "
        "0 failed in 123.4 ms"
    )
    assert lines[0][:4].isdigit() and "T" in lines[0][:24]
    assert lines[1].endswith("ERROR DynamoDB refused the write items=3 table=t")


def test_filter_is_sent_as_the_filter_pattern(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    session = session_with_hooks(
        **{"provide-client-params.logs.FilterLogEvents": lambda params, **_: calls.append(params)}
    )
    monkeypatch.setattr(ops_cmds, "_clients", lambda target: Clients(target, session=session))
    write(deployed, (2_000, "all good"), (1_000, "ERROR something broke"))

    result = cli("logs", "--filter", "ERROR", "--since", "1h", "--output", "json")

    assert [event["message"] for event in json_of(result)] == ["ERROR something broke"]
    assert calls[0]["filterPattern"] == "ERROR"
    assert calls[0]["logGroupName"] == deployed.config.log_group.name
    assert abs(calls[0]["startTime"] - (time.time() - 3600) * 1000) < 60_000


def test_follow_prints_each_event_once_as_json_lines_until_ctrl_c(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(deployed, (3_000, "first"), (2_000, "second"))
    waits: list[float] = []

    def between_polls(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            write(deployed, (1_000, "third"), (0, "fourth"))
        if len(waits) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(logs, "sleep", between_polls)

    result = cli("logs", "--follow", "--output", "json")

    assert result.exit_code == 0, result.stderr
    messages = [json.loads(line)["message"] for line in result.stdout.splitlines()]
    assert messages == ["first", "second", "third", "fourth"]
    assert waits == [2.0, 2.0, 2.0]
    assert "stopped following" in result.stderr


def test_follow_in_text_mode(deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    write(deployed, (1_000, json.dumps(SUMMARY)))

    def stop(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(logs, "sleep", stop)

    result = cli("logs", "-f")

    assert result.exit_code == 0
    assert "batch processed: 100 record(s)" in result.stdout


def test_follow_looks_back_for_late_events_without_repeating_any(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(deployed, (500, "on time"))
    rounds: list[list[str]] = []

    def late_arrival(seconds: float) -> None:
        if len(rounds) == 1:
            write(deployed, (4_000, "late but older"))

    monkeypatch.setattr(logs, "sleep", late_arrival)
    start = int(time.time() * 1000) - 60_000
    followed = logs.follow(deployed.clients, deployed.config.log_group.name, start)
    for _ in range(3):
        rounds.append([event.message for event in next(followed)])

    assert rounds == [["on time"], ["late but older"], []]


def test_a_missing_log_group_is_one_clear_line(aws_env: None, clients: Clients, cli: Any) -> None:
    result = cli("logs", "--stack", "nosuch")

    assert result.exit_code == 1
    assert "log group /aws/lambda/nosuch_data_consumer does not exist" in result.stderr


@pytest.mark.parametrize(
    ("message", "level", "document"),
    [
        ('{"message": "x"}\n', None, {"message": "x"}),
        ('[WARNING]\t2026-11-25T12:00:00Z\tid\t{"message": "w"}', "WARNING", {"message": "w"}),
        ("REPORT RequestId: 1 Duration: 2 ms", None, None),
        ("[INFO]\tt\tid\tnot json", "INFO", None),
        ("[1, 2]", None, None),
    ],
)
def test_structured_lines(message: str, level: str | None, document: Any) -> None:
    assert logs.structured(message) == (level, document)
