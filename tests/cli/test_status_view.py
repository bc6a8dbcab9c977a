"""`status` as text at 80 and 200 columns: one line per resource, nothing broken mid-word."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

import pytest

from cryptoconsumer.cli import status_text
from cryptoconsumer.cli.console import GuardedConsole
from cryptoconsumer.ops.metrics import FunctionMetrics, MappingEvents, Series
from cryptoconsumer.ops.sparkline import BLOCKS
from cryptoconsumer.status import ResourceStatus, StackStatus

UUID = "531f0c3c-bde7-4bdb-899f-afd64bb08c35"
LONG_ROLE = "a-very-long-role-name-that-someone-chose-for-their-consumer-role-x"
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/kinesis-crypto-stream-intraday-prod"
HOSTILE = "evil\x1b[2J\x1b]0;pwned\x07name"


def series(key: str, values: list[float | None], counts: bool = True) -> Series:
    start = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
    stamps = tuple(start + timedelta(minutes=m) for m in range(len(values)))
    return Series(key, counts, stamps, tuple(values))


def a_status(minutes: int = 15) -> StackStatus:
    invocations = [float(m % 7) for m in range(minutes)]
    ages: list[float | None] = [None] * (minutes - 3) + [500.0, 75_000.0, 1_200.0]
    metrics = FunctionMetrics(
        window_seconds=minutes * 60,
        invocations=int(sum(invocations)),
        errors=1,
        throttles=2,
        max_iterator_age_ms=75_000.0,
        series={
            "invocations": series("invocations", invocations),
            "errors": series("errors", [0.0] * (minutes - 1) + [1.0]),
            "iterator_age": series("iterator_age", ages, counts=False),
            "dead_letters": series("dead_letters", [None] * minutes, counts=False),
        },
        mappings=(
            MappingEvents(
                UUID,
                {
                    "polled": 40,
                    "filtered_out": 5,
                    "invoked": 35,
                    "failed_invoke": 0,
                    "dropped": 2,
                    "on_failure_delivered": 1,
                },
            ),
        ),
    )
    rows = (
        ResourceStatus("table", "crypto_intraday", True, True, "ACTIVE"),
        ResourceStatus("role", LONG_ROLE, True, True, "exists", ("inline policy: widened",)),
        ResourceStatus(
            "mapping",
            UUID,
            True,
            True,
            "Enabled",
            (f"source: {STREAM} -> {STREAM}-2",),
            ("iterator age 75.0 s exceeds 60 s: the function is falling behind the stream",),
        ),
        ResourceStatus("function", HOSTILE, False, False, "missing", (), ("does not exist",)),
    )
    alarms = [
        {"kind": "errors", "name": "crypto-errors", "state": "ALARM",
         "reason": "Threshold Crossed: 1 out of the last 1 datapoints [2.0 (02/12/26 10:14:00)] "
                   "was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM "
                   "transition).", "updated": None},
        {"kind": "throttles", "name": "crypto-throttles", "state": "INSUFFICIENT_DATA",
         "reason": "", "updated": None},
    ]  # fmt: skip
    return StackStatus(
        "crypto",
        "us-east-1",
        rows,
        extra={
            "metrics": metrics.as_dict(),
            "alarms": alarms,
            "settings": {
                "parameter": "/cryptoconsumer/crypto/settings",
                "recorded": True,
                "values": [{"option": "stream-arn", "value": STREAM, "origin": "recorded"}],
            },
        },
        alarm_problems=("alarm crypto-errors is in ALARM: Threshold Crossed",),
    )


def rendered(status: StackStatus, width: int) -> list[str]:
    return status_text.render_status(status, width).plain.splitlines()


@pytest.mark.parametrize("width", [80, 200])
def test_no_line_is_wider_than_the_terminal_unless_one_word_is(width: int) -> None:
    for line in rendered(a_status(), width):
        if len(line) > width:
            assert len(line.split()) <= 3, line  # a label and one unbreakable value


@pytest.mark.parametrize("width", [80, 200])
def test_names_arns_and_reasons_are_never_broken(width: int) -> None:
    words = set(" ".join(rendered(a_status(), width)).split())

    assert {LONG_ROLE, UUID, STREAM, f"{STREAM}-2", "crypto-errors"} <= words
    assert "transition)." in words and "(0.0)" in words


@pytest.mark.parametrize("width", [80, 200])
def test_one_line_per_resource_with_its_condition(width: int) -> None:
    lines = rendered(a_status(), width)
    heads = [line.split()[:2] for line in lines if re.match(r"  \S", line)]

    assert ["ok", "table"] in heads
    assert ["drift", "role"] in heads
    assert ["problem", "mapping"] in heads
    assert ["missing", "function"] in heads
    mapping_at = next(
        i for i, line in enumerate(lines) if line.split()[:2] == ["problem", "mapping"]
    )
    assert lines[mapping_at + 1].startswith(" " * 12 + "drift: source:")


def test_outside_text_cannot_drive_the_terminal() -> None:
    text = "\n".join(rendered(a_status(), 80))

    assert "\x1b" not in text and "\x07" not in text
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07name" in text


@pytest.mark.parametrize("width", [80, 200])
def test_sparklines_show_the_window_with_min_max_last(width: int) -> None:
    lines = rendered(a_status(), width)
    joined = "\n".join(lines)

    (invocations,) = [line for line in lines if line.startswith("  invocations")]
    blocks = invocations.split()[1]
    assert len(blocks) == 15 and set(blocks) <= set(BLOCKS)
    assert "total 42, min 0, max 6, last 0" in " ".join(joined.split())
    assert "max 75.0 s, last 1200 ms" in joined  # iterator age: its own units
    assert "dead letters  no data" in joined
    assert "2 throttle(s) in the window" in joined


def test_a_window_longer_than_the_line_shows_its_last_minutes() -> None:
    lines = rendered(a_status(minutes=120), 80)

    (title,) = [line for line in lines if line.startswith("last 2h")]
    shown = int(re.search(r"the last (\d+) shown", title).group(1))
    (invocations,) = [line for line in lines if line.startswith("  invocations")]
    assert len(invocations.split()[1]) == shown
    assert len(invocations) <= 80


def test_filtered_out_and_dropped_are_called_out() -> None:
    joined = " ".join(" ".join(rendered(a_status(), 80)).split())

    assert f"mapping {UUID}, records in the last 15m:" in joined
    assert "40 polled, 35 invoked, 0 failed invoke, 5 filtered out, 2 dropped," in joined
    assert "5 record(s) matched no filter: never reached the function" in joined
    assert "2 record(s) discarded (too old or out of retries)" in joined


def test_the_last_line_is_the_summary() -> None:
    lines = rendered(a_status(), 80)

    assert lines[-1] == "not deployed"  # the function is missing
    assert lines[0] == "stack crypto in us-east-1: not deployed"


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("1", False)])
def test_colour_only_on_a_terminal_without_no_color(
    monkeypatch: pytest.MonkeyPatch, no_color: str | None, coloured: bool
) -> None:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    buffer = io.StringIO()
    console = GuardedConsole(file=buffer, force_terminal=True, color_system="standard", width=80)
    console.print(status_text.render_status(a_status(), 80))

    assert ("\x1b[" in buffer.getvalue()) is coloured


def test_no_colour_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    buffer = io.StringIO()
    GuardedConsole(file=buffer, width=80).print(status_text.render_status(a_status(), 80))

    assert "\x1b" not in buffer.getvalue()
