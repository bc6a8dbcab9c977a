"""Builders for the consumer's tests: ticks, Kinesis events, KPL aggregates, a fake context."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import boto3

KPL_MAGIC = b"\xf3\x89\x9a\xc2"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/crypto-ticks"
# Real sequence numbers are ~56 digits; a base this size keeps them realistic.
SEQUENCE_BASE = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898


def sequence_number(offset: int) -> str:
    return str(SEQUENCE_BASE + offset)


def flat_tick(**overrides: Any) -> dict[str, Any]:
    """The producer's flat form; numbers as strings so their digits stay exact in JSON."""
    tick: dict[str, Any] = {
        "from_currency_code": "BTC",
        "from_currency_name": "Bitcoin",
        "to_currency_code": "USD",
        "to_currency_name": "United States Dollar",
        "exchange_rate": "37021.5",
        "last_refreshed": "2026-11-24 14:05:01",
        "time_zone": "UTC",
        "bid_price": "37021.4",
        "ask_price": "37021.6",
    }
    tick.update(overrides)
    return {name: value for name, value in tick.items() if value is not None}


NUMBERED_NAMES = {
    "from_currency_code": "1. From_Currency Code",
    "from_currency_name": "2. From_Currency Name",
    "to_currency_code": "3. To_Currency Code",
    "to_currency_name": "4. To_Currency Name",
    "exchange_rate": "5. Exchange Rate",
    "last_refreshed": "6. Last Refreshed",
    "time_zone": "7. Time Zone",
    "bid_price": "8. Bid Price",
    "ask_price": "9. Ask Price",
}


def numbered_tick(flat: Mapping[str, Any], wrapped: bool) -> dict[str, Any]:
    numbered = {NUMBERED_NAMES[name]: value for name, value in flat.items()}
    return {"Realtime Currency Exchange Rate": numbered} if wrapped else numbered


def to_json_bytes(document: Any) -> bytes:
    """JSON with Decimals written as JSON numbers carrying exactly their digits."""
    return _encode(document).encode("utf-8")


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        members = (f"{json.dumps(str(key))}: {_encode(item)}" for key, item in value.items())
        return "{" + ", ".join(members) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_encode(item) for item in value) + "]"
    return json.dumps(value)


def kinesis_record(
    data: bytes, offset: int, partition_key: str = "BTCUSD", raw_data: str | None = None
) -> dict[str, Any]:
    """One entry of a Kinesis event's Records, as Lambda delivers it."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number(offset),
            "data": raw_data if raw_data is not None else base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": 1_795_528_701.123,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence_number(offset)}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/consumer",
        "awsRegion": "us-east-1",
        "eventSourceARN": STREAM_ARN,
    }


def kinesis_event(payloads: Iterable[bytes], first_offset: int = 0) -> dict[str, Any]:
    return {
        "Records": [
            kinesis_record(payload, first_offset + index) for index, payload in enumerate(payloads)
        ]
    }


# --- a minimal KPL aggregate encoder, the mirror of kpl_aggregate's decoder -------------------


def _varint(value: int) -> bytes:
    encoded = bytearray()
    while True:
        low_bits = value & 0x7F
        value >>= 7
        if value:
            encoded.append(low_bits | 0x80)
        else:
            encoded.append(low_bits)
            return bytes(encoded)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def _varint_field(field_number: int, value: int) -> bytes:
    return _varint(field_number << 3) + _varint(value)


def aggregate_message(
    user_records: Sequence[tuple[str, bytes]],
    explicit_hash_keys: Sequence[str | None] | None = None,
    with_tags: bool = False,
) -> bytes:
    """The AggregatedRecord protobuf for (partition key, data) pairs."""
    partition_keys = list(dict.fromkeys(key for key, _ in user_records))
    hash_keys = list(dict.fromkeys(key for key in explicit_hash_keys or () if key is not None))
    message = b"".join(_length_delimited(1, key.encode()) for key in partition_keys)
    message += b"".join(_length_delimited(2, key.encode()) for key in hash_keys)
    for position, (partition_key, data) in enumerate(user_records):
        record = _varint_field(1, partition_keys.index(partition_key))
        hash_key = explicit_hash_keys[position] if explicit_hash_keys else None
        if hash_key is not None:
            record += _varint_field(2, hash_keys.index(hash_key))
        record += _length_delimited(3, data)
        if with_tags:
            tag = _length_delimited(1, b"origin") + _length_delimited(2, b"test")
            record += _length_delimited(4, tag)
        message += _length_delimited(3, record)
    return message


def frame_aggregate(message: bytes) -> bytes:
    return KPL_MAGIC + message + hashlib.md5(message).digest()


def encode_aggregate(user_records: Sequence[tuple[str, bytes]], **options: Any) -> bytes:
    return frame_aggregate(aggregate_message(user_records, **options))


# --- Lambda context and AWS reads ------------------------------------------------------------


class FakeContext:
    """Lambda's context object: only the remaining-time clock the handler reads."""

    def __init__(self, remaining_ms: int) -> None:
        self._ends_at = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends_at - time.monotonic()) * 1000))


def table_items(table_name: str) -> dict[tuple[str, str], dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(table_name)
    items: list[dict[str, Any]] = []
    response = table.scan()
    items.extend(response["Items"])
    while "LastEvaluatedKey" in response:
        response = table.scan(ExclusiveStartKey=response["LastEvaluatedKey"])
        items.extend(response["Items"])
    return {(item["ticker"], item["last_refreshed"]): item for item in items}


def raw_number(table_name: str, ticker: str, last_refreshed: str, attribute: str) -> str:
    """The N string DynamoDB holds (moto keeps what was sent), to check digits were exact."""
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=table_name,
        Key={"ticker": {"S": ticker}, "last_refreshed": {"S": last_refreshed}},
    )["Item"]
    return item[attribute]["N"]


def queue_messages(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    messages: list[dict[str, Any]] = []
    while True:
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300
        ).get("Messages", [])
        if not received:
            return messages
        messages.extend(json.loads(message["Body"]) for message in received)
