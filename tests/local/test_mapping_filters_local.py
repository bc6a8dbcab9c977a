"""The stack's filters on `local start`: a mapping made by `up --filter` / `--only-tickers`
filters there exactly as the poller reads its FilterCriteria back from moto, a change of
filters by `up` reaches the running poller, and `demo --only-tickers` shows it end to end."""

from __future__ import annotations

import json
import random
import re

from typer.testing import CliRunner, Result

from cryptoconsumer.cli import app
from cryptoconsumer.produce import parse_tickers, start_of_this_second, synthetic_ticks, tick_record
from tests.local.conftest import Harness, wait_for

STACK = "flt"
TABLE = f"{STACK}_intraday"


def cli(*args: str) -> Result:
    return CliRunner().invoke(
        app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200", "AWS_ACCESS_KEY_ID": "testing"}
    )


def produce(harness: Harness, stream: str, tickers: str, count: int) -> None:
    ticks = [
        tick_record(t)
        for t in synthetic_ticks(
            parse_tickers(tickers), count, start_of_this_second(), random.Random(5)
        )
    ]
    harness.clients.kinesis.put_records(
        StreamARN=stream, Records=[{"Data": t.data, "PartitionKey": t.partition_key} for t in ticks]
    )


def tickers_in_table(harness: Harness) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in harness.clients.dynamodb.scan(TableName=TABLE)["Items"]:
        counts[item["ticker"]["S"]] = counts.get(item["ticker"]["S"], 0) + 1
    return counts


def test_up_with_a_filter_filters_on_local_start_and_a_new_filter_reaches_the_poller(
    harness: Harness,
) -> None:
    stream = harness.stream(shards=2)
    common = ["--stack", STACK, "--endpoint-url", harness.endpoint_url, "--stream-arn", stream]
    usd_eth = '{"data": {"from_currency_code": ["ETH"], "to_currency_code": ["USD"]}}'
    up = cli("up", *common, "--starting-position", "TRIM_HORIZON", "--filter", usd_eth)
    assert up.exit_code == 0, up.output
    [mapping] = harness.clients.lambda_.list_event_source_mappings()["EventSourceMappings"]
    wait_for("the poller to read the mapping", lambda: harness.poller.polling(mapping["UUID"]))
    before = harness.poller.stats.filtered_out_records

    produce(harness, stream, "BTCUSD,ETHUSD,ETHEUR", 30)

    wait_for("ETHUSD's ticks", lambda: tickers_in_table(harness) == {"ETHUSD": 10})
    wait_for("the others dropped", lambda: harness.poller.stats.filtered_out_records - before == 20)

    # The filter changes in place: same mapping, the running poller takes the new pattern.
    plan = cli("plan", *common, "--only-tickers", "BTCUSD")
    assert plan.exit_code == 0, plan.output
    assert re.search(r"~ +mapping +" + mapping["UUID"], plan.output), plan.output
    assert "filters:" in plan.output
    up = cli("up", *common, "--only-tickers", "BTCUSD")
    assert up.exit_code == 0, up.output
    [after] = harness.clients.lambda_.list_event_source_mappings()["EventSourceMappings"]
    assert after["UUID"] == mapping["UUID"]
    assert json.loads(after["FilterCriteria"]["Filters"][0]["Pattern"])["data"]["$or"]
    wait_for("the mapping to be polled again", lambda: harness.poller.polling(after["UUID"]))

    produce(harness, stream, "BTCUSD,ETHUSD,ETHEUR", 30)

    wait_for("BTCUSD's new ticks", lambda: tickers_in_table(harness).get("BTCUSD") == 10)
    assert tickers_in_table(harness) == {"ETHUSD": 10, "BTCUSD": 10}


def test_demo_only_tickers_shows_filtering_end_to_end() -> None:
    result = CliRunner().invoke(
        app,
        ["demo", "--records", "30", "--bad-records", "4", "--only-tickers", "BTCUSD,DOGEUSD"],
        env={"NO_COLOR": "1", "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "table items: 20 of 20 ticks of those tickers; 14 records dropped" in result.stdout

    result = CliRunner().invoke(
        app,
        [
            *("demo", "--records", "9", "--bad-records", "2"),
            "--only-tickers",
            "ETHUSD",
            "--output",
            "json",
        ],
        env={"NO_COLOR": "1", "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["only_tickers"] == ["ETHUSD"]
    assert document["expected_items"] == document["table_items"] == 3
    assert document["filtered_out"] == 8  # 6 other ticks and the 2 malformed records
    assert document["dead_lettered"] == 0
