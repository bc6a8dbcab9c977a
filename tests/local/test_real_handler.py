"""The poller running the project's own handler zip (cryptoconsumer.package.build())."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from typing import Any

from cryptoconsumer import package
from cryptoconsumer.local.demo import malformed_record
from cryptoconsumer.produce import parse_tickers, synthetic_ticks, tick_json
from tests.aws_state import TICKS_TABLE
from tests.local.conftest import Harness, wait_for

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def make_table(harness: Harness, name: str | None = None) -> str:
    name = name or harness.name("table")
    harness.clients.dynamodb.create_table(
        TableName=name,
        **TICKS_TABLE,
    )
    return name


def items(harness: Harness, table: str) -> list[dict[str, Any]]:
    try:
        return list(harness.clients.dynamodb.scan(TableName=table)["Items"])
    except harness.clients.dynamodb.exceptions.ResourceNotFoundException:
        return []


def ticks(count: int) -> list[str]:
    pairs = parse_tickers("BTCUSD,ETHUSD")
    return [tick_json(t).decode() for t in synthetic_ticks(pairs, count, START, random.Random(3))]


def real_function(harness: Harness, table: str, queue_url: str) -> Any:
    return harness.function(
        zip_bytes=package.build().zip_bytes,
        handler="data_consumer_lambda.handler",
        timeout=10,
        environment={"DYNAMO_TABLE_NAME": table, "DEAD_LETTER_QUEUE_URL": queue_url},
    )


def test_ticks_land_in_the_table_and_bad_records_in_the_dead_letter_queue(
    harness: Harness,
) -> None:
    stream = harness.stream(shards=2)
    table = make_table(harness)
    queue_url, _ = harness.queue()
    function = real_function(harness, table, queue_url)
    harness.mapping(
        function,
        stream,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        BisectBatchOnFunctionError=True,
    )
    good = ticks(24)
    bad = [malformed_record(i).data.decode() for i in range(5)]

    harness.put(stream, *good[:12], *bad, *good[12:])

    wait_for("24 items", lambda: len(items(harness, table)) == 24)
    letters = wait_for("5 dead letters", lambda: harness.messages(queue_url))
    while len(letters) < 5:
        letters += wait_for("the other dead letters", lambda: harness.messages(queue_url))
    assert len(letters) == 5
    stored = {(i["ticker"]["S"], i["last_refreshed"]["S"]) for i in items(harness, table)}
    expected = {
        (t["from_currency_code"] + t["to_currency_code"], t["last_refreshed"])
        for t in map(json.loads, good)
    }
    assert stored == expected
    assert harness.poller.stats.failed_invocations == 0


def test_a_missing_table_is_reported_and_retried_until_the_records_are_written(
    harness: Harness,
) -> None:
    stream = harness.stream()
    table = harness.name("table-later")
    queue_url, _ = harness.queue()
    function = real_function(harness, table, queue_url)
    sequences = harness.put(stream, *ticks(6))
    harness.mapping(
        function, stream, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]
    )

    wait_for("a retry of the unwritten batch", lambda: harness.poller.stats.invocations >= 2)
    make_table(harness, table)

    wait_for("the 6 items", lambda: len(items(harness, table)) == 6)

    # Every attempt starts at the lowest failed record: the first of the batch.
    def attempts() -> list[str]:
        return [line for line in harness.poller_log if " records): " in line]

    wait_for("the failed attempts and the one that wrote", lambda: len(attempts()) >= 3)
    assert all(f" {sequences[0]}..{sequences[-1]} (6 records): ok" in x for x in attempts())
    assert harness.messages(queue_url) == []


def test_what_the_function_prints_reaches_its_cloudwatch_log_group(harness: Harness) -> None:
    stream = harness.stream()
    table = make_table(harness)
    queue_url, _ = harness.queue()
    function = real_function(harness, table, queue_url)
    harness.mapping(function, stream, BatchSize=10)

    harness.put(stream, *ticks(3))

    logs = harness.clients.logs
    group = f"/aws/lambda/{function.name}"

    def summaries() -> list[dict[str, Any]]:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [json.loads(e["message"]) for e in events if "batch processed" in e["message"]]

    found = wait_for("the batch summary in CloudWatch Logs", summaries)
    assert found[0]["records"] == 3 and found[0]["written"] == 3
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams and "[$LATEST]" in streams[0]["logStreamName"]
