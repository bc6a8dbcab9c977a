"""End to end on the local emulator (moto's server in-process plus our Kinesis poller, which
runs each mapped function's deployed zip): the seed CDK stack deployed by moto's
CloudFormation, its function consuming while a producer puts ticks continuously (distinct
keys); `adopt` while the producer keeps going; then every tick is in the table, the
CloudFormation stack is gone, `status` is healthy with no options, and the items written
before the migration are still there with their digits.

Two threads watch while it runs: the producer, and a monitor that lists the stream's mappings
every 20 ms and records each moment none of them is Enabled. adopt's own requests are counted
by their endpoint: it is given `localhost`, everything else here uses 127.0.0.1.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest
from typer.testing import CliRunner

from cryptoconsumer.cli import app
from cryptoconsumer.produce import parse_tickers, synthetic_ticks, tick_json
from tests.adopt import seed
from tests.local.conftest import Harness, wait_for

START = datetime(2026, 3, 1, tzinfo=timezone.utc)
PUT_EVERY = 0.05  # 20 ticks a second, in puts of 2
MONITOR_EVERY = 0.02


@dataclass
class Producer:
    harness: Harness
    sent: dict[tuple[str, str], str] = field(default_factory=dict)  # key -> exchange_rate
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def run(self) -> None:
        pairs = parse_tickers("BTCUSD,ETHUSD")
        ticks = synthetic_ticks(pairs, 100_000, START, random.Random(13))
        kinesis = self.harness.clients.kinesis
        while not self.stop.is_set():
            batch = [next(ticks) for _ in range(2)]
            records = [
                {"Data": tick_json(t), "PartitionKey": t["from_currency_code"]} for t in batch
            ]
            answer = kinesis.put_records(StreamARN=seed.STREAM_ARN, Records=records)
            if answer["FailedRecordCount"]:
                self.errors.append(str(answer))
            for tick in batch:
                ticker = tick["from_currency_code"] + tick["to_currency_code"]
                key = (ticker, tick["last_refreshed"])
                self.sent[key] = json.loads(tick_json(tick), parse_float=str)["exchange_rate"]
            self.stop.wait(PUT_EVERY)


@dataclass
class Monitor:
    """Samples the stream's mappings; `gaps` are the moments none was Enabled."""

    list_mappings: Callable[[], list[dict[str, Any]]]
    stop: threading.Event = field(default_factory=threading.Event)
    samples: int = 0
    gaps: list[float] = field(default_factory=list)
    longest_gap: float = 0.0
    states: Counter[str] = field(default_factory=Counter)

    def run(self) -> None:
        gap_started: float | None = None
        while not self.stop.is_set():
            found = self.list_mappings()
            now = time.monotonic()
            self.samples += 1
            enabled = [m for m in found if m.get("State") == "Enabled"]
            self.states[f"{len(enabled)} enabled"] += 1
            if enabled:
                if gap_started is not None:
                    self.longest_gap = max(self.longest_gap, now - gap_started)
                gap_started = None
            else:
                self.gaps.append(now)
                gap_started = gap_started if gap_started is not None else now
            self.stop.wait(MONITOR_EVERY)


def table_items(harness: Harness) -> dict[tuple[str, str], dict[str, Any]]:
    client = harness.clients.dynamodb
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=seed.TABLE):
        for item in page["Items"]:
            items[(item["ticker"]["S"], item["last_refreshed"]["S"])] = item
    return items


@pytest.fixture
def adopt_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The requests of clients that go to `localhost`: adopt's alone."""
    from botocore.client import BaseClient

    counted: Counter[str] = Counter()
    lock = threading.Lock()
    original = BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        if "//localhost:" in (self.meta.endpoint_url or ""):
            with lock:
                counted[f"{self.meta.service_model.service_name}:{operation_name}"] += 1
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    return counted


def test_adopt_on_the_emulator_loses_no_tick_and_never_stops_consuming(
    harness: Harness,
    adopt_calls: Counter[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = harness.clients
    deployed = seed.deploy(lambda service: clients.client(service))
    (old,) = seed.enabled_mappings(clients.client)
    wait_for("the poller to read the old mapping", lambda: harness.poller.polling(old["UUID"]))
    producer = Producer(harness)
    monitor = Monitor(
        lambda: clients.lambda_.list_event_source_mappings(EventSourceArn=seed.STREAM_ARN)[
            "EventSourceMappings"
        ]
    )
    threads = [threading.Thread(target=t.run, daemon=True) for t in (producer, monitor)]
    for thread in threads:
        thread.start()
    try:
        # The old function consumes for a while: these items were written before adopt.
        before = wait_for(
            "the old function to write 40 items",
            lambda: (items := table_items(harness)) and len(items) >= 40 and items,
        )
        endpoint = harness.endpoint_url.replace("127.0.0.1", "localhost")
        monkeypatch.setenv("NO_COLOR", "1")
        started = time.monotonic()
        adopted = CliRunner().invoke(
            app,
            [
                "adopt",
                "--cloudformation-stack",
                seed.STACK_NAME,
                "--yes",
                "--endpoint-url",
                endpoint,
                "--output",
                "json",
            ],
        )
        adopt_seconds = time.monotonic() - started
        assert adopted.exit_code == 0, adopted.stdout + adopted.stderr
        # Keep producing for a few seconds with only the new function left.
        time.sleep(3)
    finally:
        producer.stop.set()
        monitor.stop.set()
        for thread in threads:
            thread.join(timeout=10)
    sent = dict(producer.sent)
    assert not producer.errors

    final = wait_for(
        f"all {len(sent)} ticks in the table",
        lambda: (items := table_items(harness)) and set(sent) <= set(items) and items,
        seconds=60,
    )
    lost = set(sent) - set(final)
    assert lost == set()
    # Every item has the digits that were sent; the ones written before adopt as well.
    for key, rate in sent.items():
        assert final[key]["exchange_rate"]["N"] == rate, key
    for key, item in before.items():
        assert final[key]["exchange_rate"]["N"] == item["exchange_rate"]["N"], key
    # The CloudFormation stack is gone, its function and mapping with it; ours consumes.
    assert seed.stack_status(clients.client, deployed.stack_id) == "DELETE_COMPLETE"
    (mapping,) = seed.enabled_mappings(clients.client)
    assert mapping["FunctionArn"].endswith(":" + seed.NEW_FUNCTION)
    # Never a moment without an Enabled mapping on the stream.
    assert monitor.samples > 50
    assert monitor.gaps == []
    requests = dict(sorted(adopt_calls.items()))
    # The same endpoint as adopt's: moto puts the request's host in the queue's URL.
    status = CliRunner().invoke(app, ["status", "--endpoint-url", endpoint, "--output", "json"])
    assert status.exit_code == 0, status.stdout + status.stderr
    assert json.loads(status.stdout)["healthy"] is True
    print(
        json.dumps(
            {
                "ticks_sent": len(sent),
                "ticks_lost": len(lost),
                "items_before_adopt": len(before),
                "adopt_seconds": round(adopt_seconds, 2),
                "mapping_samples": monitor.samples,
                "samples_without_enabled_mapping": len(monitor.gaps),
                "longest_gap_seconds": monitor.longest_gap,
                "adopt_requests": sum(requests.values()),
                "adopt_requests_by_operation": requests,
                "states": dict(monitor.states),
            }
        )
    )
