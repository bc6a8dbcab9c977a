"""`dlq redrive` against the emulator: the replay's Invoke runs the deployed function locally.

moto alone answers Invoke by trying Docker, so this failed before the emulator answered it.
"""

from __future__ import annotations

import json
import random
import time

from typer.testing import CliRunner, Result

from cryptoconsumer.cli import app
from cryptoconsumer.local.events import StreamRecord, on_failure_message
from cryptoconsumer.produce import parse_tickers, start_of_this_second, synthetic_ticks, tick_record
from tests.local.conftest import Harness, wait_for


def cli(*args: str) -> Result:
    return CliRunner().invoke(
        app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200", "AWS_ACCESS_KEY_ID": "testing"}
    )


def test_a_failed_batch_is_replayed_through_the_emulators_invoke(harness: Harness) -> None:
    stream = harness.stream()
    common = ["--stack", "rd", "--endpoint-url", harness.endpoint_url]
    up = cli("up", "--stream-arn", stream, "--starting-position", "LATEST", *common)
    assert up.exit_code == 0, up.output
    [mapping] = harness.clients.lambda_.list_event_source_mappings()["EventSourceMappings"]
    harness.clients.lambda_.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    wait_for("the mapping to stop", lambda: not harness.poller.polling(mapping["UUID"]))
    # Ticks the mapping never processed, described as a batch Lambda gave up on.
    ticks = [
        tick_record(t)
        for t in synthetic_ticks(
            parse_tickers("BTCUSD"), 5, start_of_this_second(), random.Random(1)
        )
    ]
    harness.clients.kinesis.put_records(
        StreamARN=stream, Records=[{"Data": t.data, "PartitionKey": t.partition_key} for t in ticks]
    )
    shard = "shardId-000000000000"
    iterator = harness.clients.kinesis.get_shard_iterator(
        StreamARN=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    read = harness.clients.kinesis.get_records(StreamARN=stream, ShardIterator=iterator)
    records = [StreamRecord.from_api(shard, r) for r in read["Records"]]
    message = on_failure_message(
        records,
        stream_arn=stream,
        function_arn=mapping["FunctionArn"],
        condition="RetryAttemptsExhausted",
        request_id="request",
        invoke_count=4,
        function_error="Unhandled",
        now=time.time(),
    )
    queue = harness.clients.sqs.get_queue_url(QueueName="rd_data_consumer-dlq")["QueueUrl"]
    harness.clients.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(message))

    redrive = cli("dlq", "redrive", *common, "--region", "us-east-1", "--output", "json")

    assert redrive.exit_code == 0, redrive.output
    document = json.loads(redrive.stdout)
    assert document["counts"]["replayed"] == 1
    assert document["counts"]["replayed_records"] == 5
    items = harness.clients.dynamodb.scan(TableName="rd_intraday", Select="COUNT")["Count"]
    assert items == 5
