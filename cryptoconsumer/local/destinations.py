"""Where a mapping's discarded batches go: its on-failure destination (SQS, SNS or S3).

SQS and SNS receive the invocation record Lambda sends (`events.on_failure_message`): which
records were given up on (shard, sequence range, arrival times, batch size, stream), why
(`RetryAttemptsExhausted` or `RecordAgeExceeded`), and how the last invocation went. It points
at the records in the stream; it does not contain them.

An S3 bucket destination (`arn:aws:s3:::BUCKET`) receives one object per discarded batch, in
AWS's documented layout:

    key:  aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<random UUID>
          (the mapping's UUID, the shard, and the time of the failure in UTC)
    body: the same JSON object as the SQS message, plus
          "payload": the whole Kinesis event the function was (or would have been) invoked
          with, as a JSON string: {"Records": [{"kinesis": {"data": base64, "sequenceNumber",
          "partitionKey", "approximateArrivalTimestamp", "kinesisSchemaVersion"}, "eventID",
          "eventSource", "eventSourceARN", "awsRegion", "invokeIdentityArn", ...}]}

so the records themselves survive the stream's retention and can be replayed from the object.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from cryptoconsumer.aws import Clients


def failure_object_key(mapping_uuid: str, shard_id: str, moment: float, suffix: str = "") -> str:
    when = datetime.fromtimestamp(moment, tz=timezone.utc)
    random_part = suffix or str(uuid.uuid4())
    return (
        f"aws/lambda/{mapping_uuid}/{shard_id}/{when:%Y/%m/%d}/"
        f"{when:%Y-%m-%dT%H.%M.%S}-{random_part}"
    )


def failure_object_body(message: dict[str, Any], event: dict[str, Any]) -> str:
    return json.dumps({**message, "payload": json.dumps(event)})


def deliver(
    clients: Callable[[str], Clients],
    destination_arn: str,
    message: dict[str, Any],
    *,
    event: dict[str, Any],
    mapping_uuid: str,
    shard_id: str,
    moment: float,
    default_region: str,
) -> None:
    """Send one discarded batch's record to the destination; raises when it cannot."""
    _, _, service, region, account, resource = destination_arn.split(":", 5)
    if service == "sqs":
        sqs = clients(region).sqs
        url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(message))
    elif service == "sns":
        clients(region).client("sns").publish(TopicArn=destination_arn, Message=json.dumps(message))
    elif service == "s3":
        # A bucket ARN has no region; the object is written where the mapping runs.
        clients(region or default_region).client("s3").put_object(
            Bucket=resource.split("/", 1)[0],
            Key=failure_object_key(mapping_uuid, shard_id, moment),
            Body=failure_object_body(message, event).encode("utf-8"),
            ContentType="application/json",
        )
    else:
        raise ValueError(f"{service} is not an on-failure destination for Kinesis")
