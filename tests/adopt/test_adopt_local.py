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
import threading
import time
from collections import Counter
from typing import Any

import pytest
from typer.testing import CliRunner

from cryptoconsumer.cli import app
from tests.adopt import seed
from tests.local import traffic
from tests.local.conftest import Harness, wait_for
from tests.local.traffic import Monitor, Producer


def table_items(harness: Harness) -> dict[tuple[str, str], dict[str, Any]]:
    return traffic.table_items(harness, seed.TABLE)


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
    producer = Producer(harness, [seed.STREAM_ARN])
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
