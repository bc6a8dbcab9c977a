"""--failure-destination s3 end to end on the emulator: batches the function cannot write land
in the stack's bucket with their records, `dlq list` shows it, `dlq redrive` writes it to the
table from the object and deletes the object."""

from __future__ import annotations

import json
import random

from typer.testing import CliRunner, Result

from cryptoconsumer.cli import app
from cryptoconsumer.produce import parse_tickers, start_of_this_second, synthetic_ticks, tick_record
from tests.local.conftest import Harness, wait_for

STACK = "fb"
TABLE = f"{STACK}_intraday"
BUCKET = f"{STACK}-failed-batches-123456789012-us-east-1"


def cli(*args: str) -> Result:
    return CliRunner().invoke(
        app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200", "AWS_ACCESS_KEY_ID": "testing"}
    )


def count(harness: Harness) -> int:
    dynamodb = harness.clients.dynamodb
    try:
        return int(dynamodb.scan(TableName=TABLE, Select="COUNT")["Count"])
    except dynamodb.exceptions.ResourceNotFoundException:
        return -1


def test_a_failed_batch_goes_to_the_bucket_and_is_replayed_from_it(harness: Harness) -> None:
    stream = harness.stream()
    common = ["--stack", STACK, "--endpoint-url", harness.endpoint_url, "--region", "us-east-1"]
    up = cli(
        "up",
        "--stream-arn",
        stream,
        "--failure-destination",
        "s3",
        "--max-retries",
        "0",
        "--starting-position",
        "TRIM_HORIZON",
        *common,
    )
    assert up.exit_code == 0, up.output
    # The table goes away: the function reports every record failed, Lambda gives up on the
    # batch at once (--max-retries 0) and writes it, records included, to the bucket.
    dynamodb = harness.clients.dynamodb
    dynamodb.update_table(TableName=TABLE, DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName=TABLE)
    ticks = [
        tick_record(t)
        for t in synthetic_ticks(
            parse_tickers("BTCUSD"), 4, start_of_this_second(), random.Random(7)
        )
    ]
    harness.clients.kinesis.put_records(
        StreamARN=stream, Records=[{"Data": t.data, "PartitionKey": t.partition_key} for t in ticks]
    )
    s3 = harness.clients.client("s3")
    # Bisect on error halves the failing batch down to single records: one object each.
    found = wait_for(
        "the failed batches in the bucket",
        lambda: (
            len(s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])) == 4
            and s3.list_objects_v2(Bucket=BUCKET)["Contents"]
        ),
        seconds=30,
    )
    assert all(item["Key"].startswith("aws/lambda/") for item in found)

    listed = cli("dlq", "list", *common, "--output", "json")

    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    assert document["bucket"] == BUCKET
    described = document["objects"]
    assert [(o["kind"], o["records"]) for o in described] == [("batch", 1)] * 4
    starts = sorted(int(o["batch"]["start_sequence_number"]) for o in described)
    assert len(set(starts)) == 4

    # The fix (the table back), then the replay from the object.
    assert cli("up", *common).exit_code == 0
    wait_for("the table", lambda: count(harness) == 0)
    redrive = cli("dlq", "redrive", *common, "--output", "json")

    assert redrive.exit_code == 0, redrive.output
    counts = json.loads(redrive.stdout)["counts"]
    assert (counts["replayed"], counts["replayed_records"], counts["left"]) == (4, 4, 0)
    assert count(harness) == 4
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
