"""The handler end to end on moto: table contents, queue contents and return values."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from consumer_events import (
    STREAM_ARN,
    FakeContext,
    encode_aggregate,
    flat_tick,
    kinesis_event,
    kinesis_record,
    numbered_tick,
    queue_messages,
    raw_number,
    sequence_number,
    table_items,
    to_json_bytes,
)

NO_FAILURES: dict[str, list[Any]] = {"batchItemFailures": []}


def failures(*offsets: int) -> dict[str, list[dict[str, str]]]:
    return {"batchItemFailures": [{"itemIdentifier": sequence_number(o)} for o in offsets]}


def tick_at(minute: int, **overrides: Any) -> bytes:
    return to_json_bytes(flat_tick(last_refreshed=f"2026-11-24 14:{minute:02d}:00", **overrides))


def last_log_line(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


# --- payload forms ---------------------------------------------------------------------------


def test_flat_tick_is_written_as_one_exact_item(consumer: ModuleType, table: str) -> None:
    result = consumer.handler(kinesis_event([to_json_bytes(flat_tick())]), None)

    assert result == NO_FAILURES
    assert table_items(table) == {
        ("BTCUSD", "2026-11-24 14:05:01"): {
            "ticker": "BTCUSD",
            "last_refreshed": "2026-11-24 14:05:01",
            "from_currency_code": "BTC",
            "from_currency_name": "Bitcoin",
            "to_currency_code": "USD",
            "to_currency_name": "United States Dollar",
            "time_zone": "UTC",
            "exchange_rate": Decimal("37021.5"),
            "bid_price": Decimal("37021.4"),
            "ask_price": Decimal("37021.6"),
            "sequence_number": sequence_number(0),
        }
    }


@pytest.mark.parametrize("wrapped", [False, True], ids=["numbered-bare", "numbered-wrapped"])
def test_alpha_vantage_numbered_form_is_written(
    consumer: ModuleType, table: str, wrapped: bool
) -> None:
    payload = to_json_bytes(numbered_tick(flat_tick(from_currency_code="eth"), wrapped))

    assert consumer.handler(kinesis_event([payload]), None) == NO_FAILURES

    item = table_items(table)[("ETHUSD", "2026-11-24 14:05:01")]
    assert item["from_currency_name"] == "Bitcoin"
    assert item["exchange_rate"] == Decimal("37021.5")
    assert item["ask_price"] == Decimal("37021.6")


def test_numbers_reach_dynamodb_with_exactly_the_digits_sent(
    consumer: ModuleType, table: str
) -> None:
    as_string = tick_at(1, exchange_rate="0.000012345678901234567890123456789012")
    as_number = tick_at(2, exchange_rate=Decimal("37021.50"), bid_price=Decimal("1E-7"))

    assert consumer.handler(kinesis_event([as_string, as_number]), None) == NO_FAILURES

    assert (
        raw_number(table, "BTCUSD", "2026-11-24 14:01:00", "exchange_rate")
        == "0.000012345678901234567890123456789012"
    )
    assert raw_number(table, "BTCUSD", "2026-11-24 14:02:00", "exchange_rate") == "37021.50"
    assert raw_number(table, "BTCUSD", "2026-11-24 14:02:00", "bid_price") == "1E-7"


def test_iso_timestamps_with_t_and_offsets_are_stored_in_utc(
    consumer: ModuleType, table: str
) -> None:
    payloads = [
        to_json_bytes(flat_tick(last_refreshed="2026-11-24T14:05:01")),
        to_json_bytes(flat_tick(last_refreshed="2026-11-24T16:06:01+02:00", time_zone="EET")),
        to_json_bytes(flat_tick(last_refreshed="2026-11-24T14:07:01.250Z")),
    ]

    assert consumer.handler(kinesis_event(payloads), None) == NO_FAILURES

    items = table_items(table)
    assert sorted(key[1] for key in items) == [
        "2026-11-24 14:05:01",
        "2026-11-24 14:06:01",
        "2026-11-24 14:07:01",
    ]
    assert items[("BTCUSD", "2026-11-24 14:06:01")]["time_zone"] == "UTC"


# --- KPL aggregates --------------------------------------------------------------------------


def test_aggregated_record_writes_every_user_record(
    consumer: ModuleType, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    aggregate = encode_aggregate(
        [
            ("BTCUSD", tick_at(1)),
            ("ETHUSD", to_json_bytes(flat_tick(from_currency_code="ETH"))),
            ("BTCUSD", tick_at(2)),
        ]
    )
    event = {"Records": [kinesis_record(aggregate, 5), kinesis_record(tick_at(3), 6)]}

    assert consumer.handler(event, None) == NO_FAILURES

    items = table_items(table)
    assert set(items) == {
        ("BTCUSD", "2026-11-24 14:01:00"),
        ("ETHUSD", "2026-11-24 14:05:01"),
        ("BTCUSD", "2026-11-24 14:02:00"),
        ("BTCUSD", "2026-11-24 14:03:00"),
    }
    assert items[("ETHUSD", "2026-11-24 14:05:01")]["sequence_number"] == sequence_number(5)
    log = last_log_line(capsys)
    assert (log["records"], log["user_records"], log["written"]) == (2, 4, 4)


def test_bad_user_record_inside_an_aggregate_is_dead_lettered_under_its_parent(
    consumer: ModuleType, table: str, queue_url: str
) -> None:
    aggregate = encode_aggregate(
        [("BTCUSD", tick_at(1)), ("ETHUSD", b"not json"), ("BTCUSD", tick_at(2))]
    )

    assert consumer.handler({"Records": [kinesis_record(aggregate, 9)]}, None) == NO_FAILURES

    assert set(table_items(table)) == {
        ("BTCUSD", "2026-11-24 14:01:00"),
        ("BTCUSD", "2026-11-24 14:02:00"),
    }
    [message] = queue_messages(queue_url)
    assert message["reason"] == "payload is not valid JSON"
    assert message["sequence_number"] == sequence_number(9)
    assert message["partition_key"] == "ETHUSD"
    assert message["user_record_index"] == 1
    assert base64.b64decode(message["data_base64"]) == b"not json"


def test_aggregate_with_a_bad_checksum_is_dead_lettered_whole(
    consumer: ModuleType, table: str, queue_url: str
) -> None:
    aggregate = bytearray(encode_aggregate([("BTCUSD", tick_at(1)), ("BTCUSD", tick_at(2))]))
    aggregate[-3] ^= 0x01
    event = {"Records": [kinesis_record(bytes(aggregate), 4), kinesis_record(tick_at(3), 5)]}

    assert consumer.handler(event, None) == NO_FAILURES

    assert set(table_items(table)) == {("BTCUSD", "2026-11-24 14:03:00")}
    [message] = queue_messages(queue_url)
    assert message["reason"] == "bad KPL aggregate: KPL aggregate checksum mismatch"
    assert message["sequence_number"] == sequence_number(4)
    assert base64.b64decode(message["data_base64"]) == bytes(aggregate)


def test_aggregate_whose_writes_fail_is_reported_by_its_parent_sequence_number(
    consumer: ModuleType, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DYNAMO_TABLE_NAME", "no_such_table")
    aggregate = encode_aggregate([("BTCUSD", tick_at(1)), ("BTCUSD", tick_at(2))])

    assert consumer.handler({"Records": [kinesis_record(aggregate, 8)]}, None) == failures(8)


# --- duplicates ------------------------------------------------------------------------------


def test_duplicates_become_one_write_and_the_highest_sequence_number_wins(
    consumer: ModuleType, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [
        kinesis_record(tick_at(5, exchange_rate="3"), 0),
        kinesis_record(tick_at(5, exchange_rate="4"), 1),
        kinesis_record(tick_at(5, exchange_rate="2"), 2),
        kinesis_record(tick_at(6, exchange_rate="9"), 3),
    ]
    # "999" > "1000" as text; as numbers, 1000 is the newest.
    for record, sequence in zip(records, ["999", "1000", "20", "1"], strict=True):
        record["kinesis"]["sequenceNumber"] = sequence

    assert consumer.handler({"Records": records}, None) == NO_FAILURES

    items = table_items(table)
    assert items[("BTCUSD", "2026-11-24 14:05:00")]["exchange_rate"] == Decimal("4")
    assert items[("BTCUSD", "2026-11-24 14:05:00")]["sequence_number"] == "1000"
    assert len(items) == 2
    log = last_log_line(capsys)
    assert (log["written"], log["duplicates"]) == (2, 2)


# --- bad records -----------------------------------------------------------------------------

BAD_RECORDS: list[tuple[bytes, str]] = [
    (b"\xc3\x28", "payload is not valid UTF-8"),
    (b"{not json", "payload is not valid JSON"),
    (b'"BTCUSD"', "payload is not a JSON object"),
    (to_json_bytes(flat_tick(from_currency_code=None)), "missing from_currency_code"),
    (to_json_bytes(flat_tick(to_currency_code=None)), "missing to_currency_code"),
    (to_json_bytes(flat_tick(exchange_rate=None)), "missing exchange_rate"),
    (to_json_bytes(flat_tick(last_refreshed=None)), "missing last_refreshed"),
    (to_json_bytes(flat_tick(exchange_rate="lots")), "exchange_rate is not numeric"),
    (to_json_bytes(flat_tick(exchange_rate="NaN")), "exchange_rate is not finite"),
    (to_json_bytes(flat_tick(exchange_rate="Infinity")), "exchange_rate is not finite"),
    (to_json_bytes(flat_tick(exchange_rate="0")), "exchange_rate must be greater than zero"),
    (to_json_bytes(flat_tick(exchange_rate="-1")), "exchange_rate must be greater than zero"),
    (to_json_bytes(flat_tick(last_refreshed="soon")), "last_refreshed is not a parseable"),
    (to_json_bytes(flat_tick(from_currency_code="BTC-X")), "from_currency_code is not 1-10"),
    (to_json_bytes(flat_tick(bid_price="n/a")), "bid_price is not numeric"),
]


def test_every_kind_of_bad_record_lands_in_the_queue_with_its_reason(
    consumer: ModuleType, table: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = [payload for payload, _ in BAD_RECORDS] + [tick_at(1)]
    event = kinesis_event(payloads)
    event["Records"].append(kinesis_record(b"", 99, raw_data="***not base64***"))

    assert consumer.handler(event, None) == NO_FAILURES

    assert set(table_items(table)) == {("BTCUSD", "2026-11-24 14:01:00")}
    messages = {message["sequence_number"]: message for message in queue_messages(queue_url)}
    expected = {sequence_number(offset): reason for offset, (_, reason) in enumerate(BAD_RECORDS)}
    expected[sequence_number(99)] = "kinesis.data is not valid base64"
    assert {sequence: message["reason"] for sequence, message in messages.items()} == {
        sequence: messages[sequence]["reason"] for sequence in expected
    }
    for sequence, reason in expected.items():
        assert messages[sequence]["reason"].startswith(reason)
    first = messages[sequence_number(0)]
    assert first == {
        "reason": "payload is not valid UTF-8",
        "sequence_number": sequence_number(0),
        "partition_key": "BTCUSD",
        "event_source_arn": STREAM_ARN,
        "approximate_arrival": 1_795_528_701.123,
        "data_base64": base64.b64encode(b"\xc3\x28").decode(),
    }
    assert messages[sequence_number(99)]["data_base64"] == "***not base64***"
    log = last_log_line(capsys)
    assert (log["dead_lettered"], log["written"], log["failed"]) == (len(BAD_RECORDS) + 1, 1, 0)


def test_oversized_bad_record_is_truncated_to_fit_an_sqs_message(
    consumer: ModuleType, table: str, queue_url: str
) -> None:
    huge = b"\x00" + bytes(range(256)) * 3000  # ~750 KiB of non-JSON

    assert consumer.handler(kinesis_event([huge]), None) == NO_FAILURES

    [message] = queue_messages(queue_url)
    assert message["truncated"] is True
    assert len(json.dumps(message)) <= 256 * 1024
    assert huge.startswith(base64.b64decode(message["data_base64"]))


def test_without_a_queue_bad_records_are_logged_at_error(
    consumer: ModuleType, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="data_consumer_lambda")

    result = consumer.handler(kinesis_event([b"{broken", tick_at(1)]), None)

    assert result == NO_FAILURES
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    logged = json.loads(record.getMessage())
    assert logged["reason"] == "payload is not valid JSON"
    assert logged["sequence_number"] == sequence_number(0)
    assert logged["event_source_arn"] == STREAM_ARN
    assert base64.b64decode(logged["data_base64"]) == b"{broken"
    assert set(table_items(table)) == {("BTCUSD", "2026-11-24 14:01:00")}


def test_deleted_queue_turns_bad_records_into_batch_item_failures(
    consumer: ModuleType, table: str, queue_url: str
) -> None:
    boto3.client("sqs", region_name="us-east-1").delete_queue(QueueUrl=queue_url)

    result = consumer.handler(kinesis_event([tick_at(1), b"bad", tick_at(2), b"worse"]), None)

    assert result == failures(1, 3)
    assert len(table_items(table)) == 2


def _sqs_client_without_retries() -> Any:
    no_retries = Config(retries={"mode": "standard", "max_attempts": 1})
    return boto3.client("sqs", region_name="us-east-1", config=no_retries)


def test_unreachable_queue_endpoint_turns_bad_records_into_batch_item_failures(
    consumer: ModuleType, table: str, queue_url: str
) -> None:
    sqs = _sqs_client_without_retries()

    def refuse(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com/")

    sqs.meta.events.register("before-send.sqs.SendMessageBatch", refuse)
    consumer.set_sqs_client(sqs)

    result = consumer.handler(kinesis_event([b"bad", tick_at(1)]), None)

    assert result == failures(0)
    assert len(table_items(table)) == 1


def test_refused_dead_letter_entries_are_retried_then_reported(
    consumer: ModuleType, table: str, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs = _sqs_client_without_retries()
    real_send = sqs.send_message_batch
    calls: list[list[str]] = []

    def refuse_first_entry_twice(**request: Any) -> dict[str, Any]:
        entries = request["Entries"]
        calls.append([entry["Id"] for entry in entries])
        refused = [
            entry
            for entry in entries
            if json.loads(entry["MessageBody"])["data_base64"]
            == base64.b64encode(b"stubborn").decode()
        ]
        accepted = [entry for entry in entries if entry not in refused]
        response = real_send(**{**request, "Entries": accepted}) if accepted else {}
        response["Failed"] = [
            {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"} for entry in refused
        ]
        response.setdefault("Successful", [])
        return response

    monkeypatch.setattr(sqs, "send_message_batch", refuse_first_entry_twice)
    consumer.set_sqs_client(sqs)

    result = consumer.handler(kinesis_event([b"stubborn", b"fine", tick_at(1)]), None)

    assert result == failures(0)
    assert len(calls) == 2 and len(calls[1]) == 1
    assert [base64.b64decode(m["data_base64"]) for m in queue_messages(queue_url)] == [b"fine"]


def test_more_than_ten_bad_records_are_sent_in_batches_of_ten(
    consumer: ModuleType, table: str, queue_url: str
) -> None:
    sqs = _sqs_client_without_retries()
    batch_sizes: list[int] = []
    sqs.meta.events.register(
        "before-parameter-build.sqs.SendMessageBatch",
        lambda params, **_: batch_sizes.append(len(params["Entries"])),
    )
    consumer.set_sqs_client(sqs)

    assert consumer.handler(kinesis_event([b"x"] * 23), None) == NO_FAILURES

    assert sorted(batch_sizes) == [3, 10, 10]
    assert len(queue_messages(queue_url)) == 23


# --- DynamoDB retries and failures -----------------------------------------------------------


def _wrap_batch_write(
    consumer: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    fake: Callable[[Callable[..., dict[str, Any]], dict[str, Any], int], dict[str, Any]],
) -> list[int]:
    """Replace the handler client's batch_write_item; returns the list of request sizes."""
    client = consumer.get_dynamodb_client()
    real = client.batch_write_item
    request_sizes: list[int] = []
    lock = threading.Lock()

    def wrapped(**request: Any) -> dict[str, Any]:
        [requests] = request["RequestItems"].values()
        with lock:
            request_sizes.append(len(requests))
            call_number = len(request_sizes)
        return fake(real, request, call_number)

    monkeypatch.setattr(client, "batch_write_item", wrapped)
    return request_sizes


def _hold_back_half(real: Callable[..., dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    [(table, requests)] = request["RequestItems"].items()
    keep, hold = requests[: len(requests) // 2 or 1], requests[len(requests) // 2 or 1 :]
    real(RequestItems={table: keep})
    return {"UnprocessedItems": {table: hold} if hold else {}}


def test_unprocessed_items_are_retried_until_written(
    consumer: ModuleType, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_sizes = _wrap_batch_write(
        consumer,
        monkeypatch,
        lambda real, request, call: (
            _hold_back_half(real, request) if call <= 3 else real(**request)
        ),
    )

    result = consumer.handler(kinesis_event([tick_at(minute) for minute in range(20)]), None)

    assert result == NO_FAILURES
    assert len(table_items(table)) == 20
    assert request_sizes[:4] == [20, 10, 5, 3]


def test_throttling_errors_are_retried(
    consumer: ModuleType, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttle_twice(real: Callable[..., Any], request: dict[str, Any], call: int) -> Any:
        if call <= 2:
            code = "ProvisionedThroughputExceededException" if call == 1 else "InternalServerError"
            raise ClientError({"Error": {"Code": code, "Message": "slow down"}}, "BatchWriteItem")
        return real(**request)

    request_sizes = _wrap_batch_write(consumer, monkeypatch, throttle_twice)

    assert consumer.handler(kinesis_event([tick_at(1), tick_at(2)]), None) == NO_FAILURES
    assert len(request_sizes) == 3
    assert len(table_items(table)) == 2


def test_items_that_never_clear_are_reported_by_every_source_sequence_number(
    consumer: ModuleType, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(real: Callable[..., Any], request: dict[str, Any], call: int) -> Any:
        return {"UnprocessedItems": request["RequestItems"]}

    request_sizes = _wrap_batch_write(consumer, monkeypatch, never)
    payloads = [tick_at(1), tick_at(2), tick_at(1, exchange_rate="2"), b"bad"]
    started = time.monotonic()

    result = consumer.handler(kinesis_event(payloads), FakeContext(remaining_ms=1_000))

    assert result == failures(0, 1, 2)  # 0 and 2 are the same item; 3 was logged as bad
    assert time.monotonic() - started < 1.0
    assert len(request_sizes) > 3
    assert table_items(table) == {}


def test_only_the_chunks_that_fail_are_reported(
    consumer: ModuleType, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = "2026-11-24 14:07:00"

    def block_one_item(real: Callable[..., Any], request: dict[str, Any], call: int) -> Any:
        [(table_name, requests)] = request["RequestItems"].items()
        stuck = [r for r in requests if r["PutRequest"]["Item"]["last_refreshed"]["S"] == blocked]
        rest = [r for r in requests if r not in stuck]
        if rest:
            real(RequestItems={table_name: rest})
        return {"UnprocessedItems": {table_name: stuck} if stuck else {}}

    _wrap_batch_write(consumer, monkeypatch, block_one_item)
    payloads = [tick_at(minute) for minute in range(60)]

    result = consumer.handler(kinesis_event(payloads), FakeContext(remaining_ms=600))

    assert result == failures(7)
    assert len(table_items(table)) == 59


def test_missing_table_reports_every_good_record_and_still_dead_letters_bad_ones(
    consumer: ModuleType,
    queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("DYNAMO_TABLE_NAME", "no_such_table")

    result = consumer.handler(kinesis_event([tick_at(1), b"bad", tick_at(2)]), None)

    assert result == failures(0, 2)
    assert [message["sequence_number"] for message in queue_messages(queue_url)] == [
        sequence_number(1)
    ]
    errors = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.ERROR]
    assert any("ResourceNotFoundException" in entry.get("error", "") for entry in errors)


def test_nearly_exhausted_budget_writes_nothing_and_reports_everything(
    consumer: ModuleType, table: str, queue_url: str
) -> None:
    result = consumer.handler(
        kinesis_event([tick_at(1), b"bad", tick_at(2)]), FakeContext(remaining_ms=150)
    )

    assert result == failures(0, 1, 2)
    assert table_items(table) == {}
    assert queue_messages(queue_url) == []


def test_large_batch_goes_out_in_concurrent_requests_of_25(
    consumer: ModuleType, table: str
) -> None:
    client = consumer.get_dynamodb_client()
    in_flight = 0
    most_in_flight = 0
    sizes: list[int] = []
    lock = threading.Lock()

    def count(params: dict[str, Any], **_: Any) -> None:
        with lock:
            sizes.append(len(params["RequestItems"][table]))

    def enter(**_: Any) -> None:
        nonlocal in_flight, most_in_flight
        with lock:
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
        time.sleep(0.02)  # a network round trip, so requests overlap

    def leave(**_: Any) -> None:
        nonlocal in_flight
        with lock:
            in_flight -= 1

    client.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", count)
    client.meta.events.register("before-send.dynamodb.BatchWriteItem", enter)
    client.meta.events.register("after-call.dynamodb.BatchWriteItem", leave)
    payloads = [tick_at(minute % 60, to_currency_code=f"C{minute // 60}") for minute in range(510)]

    assert consumer.handler(kinesis_event(payloads), None) == NO_FAILURES

    assert sorted(sizes) == [10] + [25] * 20
    assert most_in_flight > 1
    assert len(table_items(table)) == 510


# --- contract --------------------------------------------------------------------------------


def test_missing_table_name_is_a_clear_configuration_error(consumer: ModuleType, aws: None) -> None:
    with pytest.raises(consumer.ConfigurationError, match="DYNAMO_TABLE_NAME is not set"):
        consumer.handler(kinesis_event([tick_at(1)]), None)


def test_clients_are_created_once_per_container(
    consumer: ModuleType, table: str, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: Counter[str] = Counter()
    real_client = boto3.client

    def counting_client(service_name: str, *args: Any, **kwargs: Any) -> Any:
        created[service_name] += 1
        return real_client(service_name, *args, **kwargs)

    monkeypatch.setattr(boto3, "client", counting_client)

    for offset in range(3):
        event = kinesis_event([tick_at(offset), b"bad"], first_offset=offset * 2)
        assert consumer.handler(event, None) == NO_FAILURES

    assert created == {"dynamodb": 1, "sqs": 1}
    assert len(table_items(table)) == 3


def test_one_json_log_line_per_invocation_with_the_counts(
    consumer: ModuleType, table: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = [tick_at(1), tick_at(1), tick_at(2), b"bad"]

    consumer.handler(kinesis_event(payloads), None)

    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1
    log = json.loads(lines[0])
    duration = log.pop("duration_ms")
    assert isinstance(duration, (int, float)) and duration >= 0
    assert log == {
        "message": "batch processed",
        "records": 4,
        "user_records": 4,
        "written": 2,
        "duplicates": 1,
        "dead_lettered": 1,
        "failed": 0,
        "batch_item_failures": 0,
    }


def test_empty_event_is_a_success(consumer: ModuleType, table: str) -> None:
    assert consumer.handler({"Records": []}, None) == NO_FAILURES


def test_clients_honour_aws_endpoint_url(
    consumer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")

    assert consumer.get_dynamodb_client().meta.endpoint_url == "http://127.0.0.1:4566"
    assert consumer.get_sqs_client().meta.endpoint_url == "http://127.0.0.1:4566"


@pytest.mark.parametrize(("log_level", "errors_logged"), [("CRITICAL", 0), ("verbose", 1)])
def test_log_level_is_honoured_and_a_bad_one_falls_back_to_info(
    consumer: ModuleType,
    table: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    log_level: str,
    errors_logged: int,
) -> None:
    monkeypatch.setenv("LOG_LEVEL", log_level)

    assert consumer.handler(kinesis_event([b"bad"]), None) == NO_FAILURES

    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == errors_logged
    assert last_log_line(capsys)["dead_lettered"] == 1


# --- duplicates that arrive after their key's first write has started -------------------------


def test_a_newer_duplicate_after_its_key_was_handed_over_is_written_after_it(
    consumer: ModuleType, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = consumer.get_dynamodb_client()
    requests: list[list[str]] = []
    real = client.batch_write_item

    def record_order(**request: Any) -> dict[str, Any]:
        [items] = request["RequestItems"].values()
        requests.append([i["PutRequest"]["Item"]["exchange_rate"]["N"] for i in items])
        return real(**request)

    monkeypatch.setattr(client, "batch_write_item", record_order)
    payloads = [tick_at(minute, exchange_rate=f"{minute + 1}") for minute in range(30)]
    payloads.append(tick_at(0, exchange_rate="999"))  # same key as the first, newer

    result = consumer.handler(kinesis_event(payloads), None)

    assert result == NO_FAILURES
    items = table_items(table)
    assert len(items) == 30
    assert items[("BTCUSD", "2026-11-24 14:00:00")]["exchange_rate"] == Decimal("999")
    assert items[("BTCUSD", "2026-11-24 14:00:00")]["sequence_number"] == sequence_number(30)
    assert requests[-1] == ["999"]  # its own request, after the one holding the older tick


def test_an_older_duplicate_after_its_key_was_handed_over_is_folded_into_it(
    consumer: ModuleType, table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [kinesis_record(tick_at(minute), 100 + minute) for minute in range(30)]
    records.append(kinesis_record(tick_at(0, exchange_rate="1"), 5))  # lower sequence number

    assert consumer.handler({"Records": records}, None) == NO_FAILURES

    item = table_items(table)[("BTCUSD", "2026-11-24 14:00:00")]
    assert item["sequence_number"] == sequence_number(100)
    log = last_log_line(capsys)
    assert (log["user_records"], log["written"], log["duplicates"]) == (31, 30, 1)
