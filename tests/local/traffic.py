"""Traffic and watchers for end-to-end tests on the local emulator that change a running stack
(adopt, mapping switches): a producer that puts ticks continuously (distinct keys), a monitor
that samples the function's mappings and records each moment none of them is Enabled, and the
table's items by key."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cryptoconsumer.produce import parse_tickers, synthetic_ticks, tick_json
from tests.local.conftest import Harness

START = datetime(2026, 3, 1, tzinfo=timezone.utc)
MONITOR_EVERY = 0.02


@dataclass
class Producer:
    """Puts `per_put` ticks every `every` seconds on each of `streams` (the same ticks on each)."""

    harness: Harness
    streams: Sequence[str]
    per_put: int = 2
    every: float = 0.05
    sent: dict[tuple[str, str], str] = field(default_factory=dict)  # key -> exchange_rate
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def run(self) -> None:
        pairs = parse_tickers("BTCUSD,ETHUSD")
        ticks = synthetic_ticks(pairs, 1_000_000, START, random.Random(13))
        kinesis = self.harness.clients.kinesis
        while not self.stop.is_set():
            batch = [next(ticks) for _ in range(self.per_put)]
            records = [
                {"Data": tick_json(t), "PartitionKey": t["from_currency_code"]} for t in batch
            ]
            for stream in self.streams:
                answer = kinesis.put_records(StreamARN=stream, Records=records)
                if answer["FailedRecordCount"]:
                    self.errors.append(str(answer))
            for tick in batch:
                ticker = tick["from_currency_code"] + tick["to_currency_code"]
                key = (ticker, tick["last_refreshed"])
                self.sent[key] = json.loads(tick_json(tick), parse_float=str)["exchange_rate"]
            self.stop.wait(self.every)


@dataclass
class Monitor:
    """Samples mappings; `gaps` are the moments none was Enabled, `longest_gap` the longest
    stretch of them (from the first sample without to the next sample with one)."""

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
        if gap_started is not None:
            self.longest_gap = max(self.longest_gap, time.monotonic() - gap_started)


def table_items(harness: Harness, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    client = harness.clients.dynamodb
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            items[(item["ticker"]["S"], item["last_refreshed"]["S"])] = item
    return items


def running_threads(*workers: Producer | Monitor) -> list[threading.Thread]:
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    return threads


def stop_threads(threads: Sequence[threading.Thread], *workers: Producer | Monitor) -> None:
    for worker in workers:
        worker.stop.set()
    for thread in threads:
        thread.join(timeout=10)
