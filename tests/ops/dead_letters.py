"""Builders for dead-letter messages of both kinds, as AWS and the handler produce them."""

from __future__ import annotations

import base64
import json
from typing import Any

from .conftest import REGION, Deployed
from .lambda_double import InProcessLambda


def put_ticks(deployed: Deployed, payloads: list[bytes]) -> list[dict[str, str]]:
    """Put records on the stream; returns [{"SequenceNumber", "ShardId"}] in order."""
    answer = deployed.client("kinesis").put_records(
        StreamARN=deployed.stream_arn,
        Records=[{"Data": data, "PartitionKey": "BTCUSD"} for data in payloads],
    )
    return [
        {"SequenceNumber": r["SequenceNumber"], "ShardId": r["ShardId"]} for r in answer["Records"]
    ]


def tick(
    rate: str, when: str = "2026-11-24 14:05:01", ticker: tuple[str, str] = ("BTC", "USD")
) -> bytes:
    return json.dumps(
        {
            "from_currency_code": ticker[0],
            "to_currency_code": ticker[1],
            "exchange_rate": rate,
            "last_refreshed": when,
        }
    ).encode()


def failed_batch_body(
    deployed: Deployed,
    shard_id: str,
    start: str,
    end: str,
    size: int,
    condition: str = "RetryAttemptsExhausted",
) -> dict[str, Any]:
    """What Lambda sends its on-failure destination for a Kinesis batch it gave up on."""
    function_arn = deployed.outputs["function_arn"]
    return {
        "requestContext": {
            "requestId": "c9b8fa9f-5a7f-4a6c-9f0a-1f6f3b1e2d3c",
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": 4,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": "2026-11-24T14:06:00.000Z",
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": start,
            "endSequenceNumber": end,
            "approximateArrivalOfFirstRecord": "2026-11-24T14:05:01.000Z",
            "approximateArrivalOfLastRecord": "2026-11-24T14:05:02.000Z",
            "batchSize": size,
            "streamArn": deployed.stream_arn,
        },
    }


def send(deployed: Deployed, body: dict[str, Any] | str) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    return str(
        deployed.client("sqs").send_message(QueueUrl=deployed.queue_url, MessageBody=text)[
            "MessageId"
        ]
    )


def dead_letter_a_bad_record(deployed: Deployed, data: bytes, sequence_number: str = "77") -> None:
    """Let the real handler judge `data` bad and send it to the queue itself."""
    event = {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "BTCUSD",
                    "sequenceNumber": sequence_number,
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": 1795600000.5,
                },
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{sequence_number}",
                "eventSourceARN": deployed.stream_arn,
                "awsRegion": REGION,
            }
        ]
    }
    answer = InProcessLambda(REGION).run(deployed.function_name, event)
    assert answer == {"batchItemFailures": []}


def depth(deployed: Deployed) -> tuple[int, int]:
    """(visible, in flight) messages in the queue."""
    attributes = deployed.client("sqs").get_queue_attributes(
        QueueUrl=deployed.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )
