"""Measure how long a record takes from PutRecord to the function, on the local pipeline.

    python -m tests.local.measure_latency [--records 40] [--gap 0.5]

Puts records one at a time on an idle 1-shard stream (a gap between them, so each is a fresh
poll), with a handler that notes when it was called; prints the latency percentiles.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from cryptoconsumer.local.pipeline import running

HANDLER = """
import json, os, time
def handler(event, context):
    called = time.time()
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            out.write(json.dumps([record["kinesis"]["partitionKey"], called]) + "\\n")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.5)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp()) / "called.jsonl"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("probe.py", HANDLER)
    pause = threading.Event()
    # What the probe prints (and Lambda's START/END/REPORT lines) go to a file, not the terminal.
    with (
        (out.parent / "function.log").open("w") as function_log,
        running(function_log=function_log) as pipeline,
    ):
        clients = pipeline.clients("us-east-1")
        clients.kinesis.create_stream(StreamName="latency", ShardCount=1)
        arn = clients.kinesis.describe_stream_summary(StreamName="latency")[
            "StreamDescriptionSummary"
        ]["StreamARN"]
        role = clients.iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]
        clients.lambda_.create_function(
            FunctionName="probe",
            Runtime="python3.12",
            Role=role["Arn"],
            Handler="probe.handler",
            Code={"ZipFile": archive.getvalue()},
            Environment={"Variables": {"OUT": str(out)}},
        )
        uuid = clients.lambda_.create_event_source_mapping(
            FunctionName="probe", EventSourceArn=arn, StartingPosition="LATEST"
        )["UUID"]
        while not pipeline.poller.polling(uuid):
            pause.wait(0.05)
        put_at: dict[str, float] = {}
        for index in range(args.records):
            key = f"r{index}"
            # From the moment PutRecord is called: the put's own round trip counts too.
            put_at[key] = time.time()
            clients.kinesis.put_record(StreamARN=arn, Data=b"{}", PartitionKey=key)
            pause.wait(args.gap)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = out.read_text().splitlines() if out.exists() else []
            if len(lines) >= args.records:
                break
            pause.wait(0.1)
    called = dict(json.loads(line) for line in out.read_text().splitlines())
    latencies = sorted((called[key] - put_at[key]) * 1000 for key in put_at if key in called)
    quantiles = statistics.quantiles(latencies, n=20)
    print(
        f"{len(latencies)}/{args.records} records; record -> function latency ms: "
        f"p50 {statistics.median(latencies):.0f}, p95 {quantiles[18]:.0f}, "
        f"max {latencies[-1]:.0f}, min {latencies[0]:.0f}"
    )


if __name__ == "__main__":
    main()
