"""A harness for the poller: its own emulator and poller per test, and a scriptable handler.

The test handler appends one JSON line per invocation (request id, and each record's sequence
number and data) to a log file before it acts, so a test reads exactly what the function was
given, failed invocations included. What it does is chosen by each record's data:
  b"raise"        raise an exception (a function error)
  b"report-once"  report this record in batchItemFailures the first time it is seen
  b"bogus-report" answer an itemIdentifier that is not in the batch (a malformed answer)
  b"sleep"        sleep past any timeout
anything else succeeds.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cryptoconsumer.aws import Clients
from cryptoconsumer.local.pipeline import running
from cryptoconsumer.local.poller import Poller

REGION = "us-east-1"
WAIT_SECONDS = 15.0

TEST_HANDLER = """
import base64, json, os, time

def handler(event, context):
    records = [
        (r["kinesis"]["sequenceNumber"], base64.b64decode(r["kinesis"]["data"]).decode())
        for r in event["Records"]
    ]
    with open(os.environ["INVOCATION_LOG"], "a") as log:
        log.write(json.dumps({
            "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "function_name": context.function_name,
            "arn": context.invoked_function_arn,
            "records": records,
            "event": event if os.environ.get("KEEP_EVENT") else None,
            "pid": os.getpid(),
        }) + "\\n")
    state = os.environ["STATE_DIR"]
    for sequence, data in records:
        if data == "raise":
            raise ValueError("poison record " + sequence)
        if data == "sleep":
            time.sleep(60)
        if data == "bogus-report":
            return {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]}
        seen = os.path.join(state, "seen-" + sequence)
        if data == "report-once" and not os.path.exists(seen):
            open(seen, "w").close()
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
    return {"batchItemFailures": []}
"""


def handler_zip(source: str = TEST_HANDLER) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("test_handler.py", source)
    return buffer.getvalue()


def wait_for(what: str, predicate: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
    """Poll until `predicate` returns something truthy; fail naming what never happened."""
    deadline = time.monotonic() + seconds
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        pause.wait(0.05)


@dataclass
class FunctionUnderTest:
    name: str
    arn: str
    log: Path

    def invocations(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def batches(self) -> list[list[str]]:
        """Each invocation's sequence numbers, in order."""
        return [[seq for seq, _ in call["records"]] for call in self.invocations()]


@dataclass
class Harness:
    endpoint_url: str
    poller: Poller
    clients: Clients
    tmp_path: Path
    poller_log: list[str]
    clock_offset: list[float] = field(default_factory=lambda: [0.0])
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def name(self, prefix: str) -> str:
        return f"{prefix}-{next(self._names)}"

    def stream(self, shards: int = 1) -> str:
        name = self.name("stream")
        self.clients.kinesis.create_stream(StreamName=name, ShardCount=shards)
        summary = self.clients.kinesis.describe_stream_summary(StreamName=name)
        return str(summary["StreamDescriptionSummary"]["StreamARN"])

    def queue(self) -> tuple[str, str]:
        url = self.clients.sqs.create_queue(QueueName=self.name("queue"))["QueueUrl"]
        attributes = self.clients.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]
        return url, attributes["QueueArn"]

    def function(
        self,
        timeout: int = 5,
        zip_bytes: bytes | None = None,
        handler: str = "test_handler.handler",
        environment: dict[str, str] | None = None,
    ) -> FunctionUnderTest:
        name = self.name("fn")
        log = self.tmp_path / f"{name}.jsonl"
        state = self.tmp_path / f"{name}-state"
        state.mkdir()
        role = self.clients.iam.create_role(
            RoleName=self.name("role"), AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        variables = {"INVOCATION_LOG": str(log), "STATE_DIR": str(state), **(environment or {})}
        created = self.clients.lambda_.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=handler,
            Code={"ZipFile": zip_bytes or handler_zip()},
            Timeout=timeout,
            Environment={"Variables": variables},
        )
        return FunctionUnderTest(name, created["FunctionArn"], log)

    def mapping(self, function: FunctionUnderTest, stream_arn: str, **settings: Any) -> str:
        settings.setdefault("StartingPosition", "TRIM_HORIZON")
        uuid = self.clients.lambda_.create_event_source_mapping(
            FunctionName=function.name, EventSourceArn=stream_arn, **settings
        )["UUID"]
        wait_for(f"the poller to read mapping {uuid}", lambda: self.poller.polling(uuid))
        return str(uuid)

    def put(self, stream_arn: str, *datas: str, key: str = "k") -> list[str]:
        """Put records in one call, in order, on one shard; their sequence numbers."""
        answer = self.clients.kinesis.put_records(
            StreamARN=stream_arn,
            Records=[{"Data": data.encode(), "PartitionKey": key} for data in datas],
        )
        assert answer["FailedRecordCount"] == 0
        return [record["SequenceNumber"] for record in answer["Records"]]

    def messages(self, queue_url: str) -> list[dict[str, Any]]:
        found = []
        while True:
            answer = self.clients.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            batch = answer.get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                self.clients.sqs.delete_message(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    offset = [0.0]
    poller_log: list[str] = []
    with (
        (tmp_path / "function-output.log").open("w") as function_log,
        running(
            log=poller_log.append,
            function_log=function_log,
            clock=lambda: time.time() + offset[0],
            scan_seconds=0.1,
        ) as pipeline,
    ):
        clients = pipeline.clients(REGION)
        yield Harness(pipeline.endpoint_url, pipeline.poller, clients, tmp_path, poller_log, offset)
    # Shown by pytest when the test failed: what the poller did.
    print("\n".join(poller_log))
