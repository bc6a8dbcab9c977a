"""Switching a running stack's mapping on the local emulator, with a producer putting ticks
all along: enhanced fan-out on, then off, then the mapping moved to a second stream that the
same producer feeds. Afterwards every tick is in the table (each was put on both streams,
so whichever stream was being read had it), and a monitor that listed the function's
mappings every 20 ms never saw a moment without an Enabled one.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from cryptoconsumer import stack
from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.cli import app
from cryptoconsumer.config import StackOptions, build_config
from cryptoconsumer.errors import CryptoConsumerError
from cryptoconsumer.resources.base import Context
from tests.faults import Timings, aws_like
from tests.local.conftest import REGION, Harness, wait_for
from tests.local.traffic import Monitor, Producer, running_threads, stop_threads, table_items

FUNCTION = "crypto_data_consumer"
TABLE = "crypto_intraday"


def up(harness: Harness, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["up", *args, "--endpoint-url", harness.endpoint_url, "--output", "json"]
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def mapping_change(document: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in document["changes"] if c["resource"] == "mapping")


def enabled_sources(harness: Harness) -> list[str]:
    found = harness.clients.lambda_.list_event_source_mappings(FunctionName=FUNCTION)
    return [m["EventSourceArn"] for m in found["EventSourceMappings"] if m["State"] == "Enabled"]


def test_switching_on_off_and_to_another_stream_loses_no_tick_and_never_stops(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    first, second = harness.stream(), harness.stream()
    up(harness, "--stream-arn", first)
    producer = Producer(harness, [first, second], per_put=5, every=0.1)  # 50 ticks a second
    monitor = Monitor(
        lambda: harness.clients.lambda_.list_event_source_mappings(FunctionName=FUNCTION)[
            "EventSourceMappings"
        ]
    )
    threads = running_threads(producer, monitor)
    switches: dict[str, float] = {}
    try:
        wait_for("40 ticks in the table", lambda: len(table_items(harness, TABLE)) >= 40)
        for name, args in [
            ("on", ("--stream-arn", first, "--enhanced-fan-out")),
            ("off", ("--stream-arn", first, "--no-enhanced-fan-out")),
            ("another stream", ("--stream-arn", second)),
        ]:
            started = time.monotonic()
            document = up(harness, *args, "--replace-mapping")
            switches[name] = round(time.monotonic() - started, 2)
            change = mapping_change(document)
            assert change["action"] == "replace", change
            assert change["how"]["order"] == "create_then_delete", change
            assert change["how"]["starting_position"] == "AT_TIMESTAMP", change
            assert len(enabled_sources(harness)) == 1  # the old one is gone
            # Some ticks go through the new mapping before the next switch.
            wanted = len(table_items(harness, TABLE)) + 20
            wait_for("20 more ticks", lambda: len(table_items(harness, TABLE)) >= wanted)  # noqa: B023
        time.sleep(2)  # the producer goes on a little with only the last mapping left
    finally:
        stop_threads(threads, producer, monitor)
    assert not producer.errors
    sent = dict(producer.sent)

    final = wait_for(
        f"all {len(sent)} ticks in the table",
        lambda: (items := table_items(harness, TABLE)) and set(sent) <= set(items) and items,
        seconds=60,
    )
    lost = set(sent) - set(final)
    assert lost == set()
    for key, rate in sent.items():
        assert final[key]["exchange_rate"]["N"] == rate, key
    assert enabled_sources(harness) == [second]
    assert monitor.samples > 50
    assert monitor.gaps == [] and monitor.longest_gap == 0.0
    print(
        json.dumps(
            {
                "ticks_sent": len(sent),
                "ticks_lost": len(lost),
                "switch_seconds": switches,
                "mapping_samples": monitor.samples,
                "samples_without_enabled_mapping": len(monitor.gaps),
                "longest_gap_seconds": monitor.longest_gap,
                "states": dict(monitor.states),
            }
        )
    )


@pytest.mark.parametrize("failing", ["CreateEventSourceMapping", "DeleteEventSourceMapping"])
def test_a_switch_that_fails_half_way_leaves_a_mapping_and_a_rerun_finishes_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """The switch on runs in-process through the fault layer, which fails one call: the
    create (the old mapping was read; it stays, Enabled) or the delete of the old mapping
    (after the new one is Enabled; both stay). A bare `up` then finishes: what `up` recorded
    says enhanced fan-out; after a failed create it needs --replace-mapping again."""
    monkeypatch.setenv("NO_COLOR", "1")
    stream = harness.stream()
    up(harness, "--stream-arn", stream)
    producer = Producer(harness, [stream], per_put=5, every=0.1)
    monitor = Monitor(
        lambda: harness.clients.lambda_.list_event_source_mappings(FunctionName=FUNCTION)[
            "EventSourceMappings"
        ]
    )
    session = boto3.Session(region_name=REGION)
    faults = aws_like(session, timings=Timings(), endpoint_url=harness.endpoint_url)
    clients = Clients(AwsTarget(region=REGION, endpoint_url=harness.endpoint_url), session)
    config = build_config(StackOptions(stream_arn=stream, region=REGION, enhanced_fan_out=True))
    ctx = Context(clients, config, poll_delay=0.02, propagation_seconds=10, settle_seconds=10)
    threads = running_threads(producer, monitor)
    try:
        wait_for("40 ticks in the table", lambda: len(table_items(harness, TABLE)) >= 40)
        faults.failing[f"lambda.{failing}"] = 1
        with pytest.raises(CryptoConsumerError):
            stack.execute(stack.plan_up(config, clients, replace_mapping=True, ctx=ctx))
        left = harness.clients.lambda_.list_event_source_mappings(FunctionName=FUNCTION)
        states = sorted(
            (m["EventSourceArn"] == stream, m["State"]) for m in left["EventSourceMappings"]
        )
        if failing == "CreateEventSourceMapping":
            assert states == [(True, "Enabled")]
        else:
            assert states == [(False, "Enabled"), (True, "Enabled")]
        wanted = len(table_items(harness, TABLE)) + 20
        wait_for("20 more ticks", lambda: len(table_items(harness, TABLE)) >= wanted)

        again = up(harness, *(["--replace-mapping"] if failing.startswith("Create") else []))

        assert mapping_change(again)["action"] in ("replace", "none")
        (source,) = enabled_sources(harness)
        assert "/consumer/" in source
        time.sleep(1)
    finally:
        stop_threads(threads, producer, monitor)
    sent = dict(producer.sent)
    wait_for(
        f"all {len(sent)} ticks in the table",
        lambda: set(sent) <= set(table_items(harness, TABLE)),
        seconds=60,
    )
    assert monitor.gaps == [] and monitor.longest_gap == 0.0
    print(json.dumps({"failing": failing, "ticks_sent": len(sent), "ticks_lost": 0}))
