"""The producer: tick format, PutRecords limits, partial-failure retry, files, pacing, the CLI."""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner, Result

from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.cli import app
from cryptoconsumer.errors import InputError
from cryptoconsumer.local.emulator import Emulator, start_emulator
from cryptoconsumer.produce import (
    MAX_BYTES_PER_CALL,
    MAX_RECORDS_PER_CALL,
    PUT_ATTEMPTS,
    OutgoingRecord,
    Pacer,
    ProduceRequest,
    build_records,
    call_batches,
    parse_tickers,
    put_records,
    synthetic_ticks,
    tick_json,
)

REGION = "us-east-1"
FIELDS = {
    "from_currency_code",
    "from_currency_name",
    "to_currency_code",
    "to_currency_name",
    "exchange_rate",
    "last_refreshed",
    "time_zone",
    "bid_price",
    "ask_price",
}
START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


# -- ticks ------------------------------------------------------------------------------------


def test_synthetic_ticks_are_flat_ticks_with_distinct_keys() -> None:
    pairs = parse_tickers("BTCUSD,ETHUSD,DOGEUSD")
    ticks = list(synthetic_ticks(pairs, 30, START, random.Random(7)))

    assert all(set(tick) == FIELDS for tick in ticks)
    keys = {(t["from_currency_code"] + t["to_currency_code"], t["last_refreshed"]) for t in ticks}
    assert len(keys) == 30
    btc = [t for t in ticks if t["from_currency_code"] == "BTC"]
    assert [t["last_refreshed"] for t in btc[:3]] == [
        "2026-01-02 03:04:05",
        "2026-01-02 03:04:06",
        "2026-01-02 03:04:07",
    ]
    for tick in ticks:
        assert tick["time_zone"] == "UTC"
        assert 0 < tick["bid_price"] < tick["exchange_rate"] < tick["ask_price"]


def test_prices_are_json_numbers_with_fixed_decimals() -> None:
    [tick] = synthetic_ticks(parse_tickers("DOGEUSD"), 1, START, random.Random(1))
    raw = tick_json(tick).decode()

    for name in ("exchange_rate", "bid_price", "ask_price"):
        assert re.search(rf'"{name}":\d+\.\d{{8}}[,}}]', raw), raw
    parsed = json.loads(raw, parse_float=Decimal)
    assert parsed["exchange_rate"] == tick["exchange_rate"]


def test_tiny_and_huge_numbers_keep_plain_notation() -> None:
    raw = tick_json({"a": Decimal("1E-8"), "b": Decimal("1.5E+6"), "c": "text"})
    assert raw == b'{"a":0.00000001,"b":1500000,"c":"text"}'


@pytest.mark.parametrize("text", ["BTC", "btc_usd", "BTCUSD,BTCUSD", "TOOLONGNAMEXUSD"])
def test_bad_tickers_are_refused(text: str) -> None:
    with pytest.raises(InputError):
        parse_tickers(text)


def test_tickers_split_into_base_and_quote() -> None:
    assert parse_tickers("btcusd, DOGE-EUR") == (("BTC", "USD"), ("DOGE", "EUR"))


# -- limits and pacing ------------------------------------------------------------------------


def test_calls_stay_within_500_records_and_5_mib() -> None:
    small = [OutgoingRecord(b"x", "k")] * 1201
    assert [len(batch) for batch in call_batches(small)] == [500, 500, 201]
    big = [OutgoingRecord(b"x" * (1024 * 1024 - 1), "k")] * 11
    batches = list(call_batches(big))
    assert all(sum(r.size for r in batch) <= MAX_BYTES_PER_CALL for batch in batches)
    assert all(len(batch) <= MAX_RECORDS_PER_CALL for batch in batches)
    assert sum(map(len, batches)) == 11


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds


class RecordingKinesis:
    """Stands in for the Kinesis client where only timing is under test."""

    def __init__(self, time: FakeTime) -> None:
        self.time = time
        self.sent_at: list[float] = []

    def put_records(self, StreamARN: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.sent_at.extend([self.time.now] * len(Records))
        return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "1"}] * len(Records)}


def test_rate_spaces_records_out() -> None:
    time = FakeTime()
    kinesis = RecordingKinesis(time)
    clients = type("FakeClients", (), {"kinesis": kinesis})()
    records = [OutgoingRecord(b"x", "k")] * 25

    result = put_records(clients, "arn", records, rate=10.0, clock=time.clock, wait=time.wait)

    assert result.produced == 25
    for index, sent_at in enumerate(kinesis.sent_at):
        assert sent_at >= 100.0 + index / 10.0 - 1e-9
    assert result.seconds == pytest.approx(2.4)


def test_without_a_rate_everything_is_due_at_once() -> None:
    pacer = Pacer(None, lambda: 0.0)
    assert pacer.due(0, 1200) == 1200


# -- against the emulator ---------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    running = start_emulator()
    yield running
    running.stop()


@pytest.fixture
def stream_arn(emulator: Emulator) -> str:
    kinesis = boto3.client("kinesis", endpoint_url=emulator.endpoint_url, region_name=REGION)
    kinesis.create_stream(StreamName="produce-test", ShardCount=2)
    summary = kinesis.describe_stream_summary(StreamName="produce-test")
    return str(summary["StreamDescriptionSummary"]["StreamARN"])


def stream_contents(emulator: Emulator, stream_arn: str) -> list[tuple[str, bytes]]:
    """(partition key, data) of every record on the stream, shard by shard."""
    kinesis = boto3.client("kinesis", endpoint_url=emulator.endpoint_url, region_name=REGION)
    found = []
    for shard in kinesis.list_shards(StreamARN=stream_arn)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamARN=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = kinesis.get_records(StreamARN=stream_arn, ShardIterator=iterator)["Records"]
        found += [(r["PartitionKey"], r["Data"]) for r in records]
    return found


class _Ok:
    def __init__(self) -> None:
        self.status_code = 200
        self.headers: dict[str, str] = {}


class PartialFailures:
    """Botocore hooks: PutRecords answers some records as throttled, as Kinesis does under load.

    The throttled records are taken out of the request before it is sent (so they really are
    not written) and put back into the answer as failures, at their positions. A call whose
    records are all throttled is answered without reaching the server.
    """

    def __init__(self, session: boto3.Session, fail: Callable[[int, int], bool]) -> None:
        self.fail = fail  # (call number, position in the call) -> throttle this record?
        self.calls: list[list[bytes]] = []
        self._dropped: list[int] = []
        self._lock = threading.Lock()
        session.events.register("provide-client-params.kinesis.PutRecords", self.before)
        session.events.register("before-call.kinesis.PutRecords", self.short_circuit)
        session.events.register("after-call.kinesis.PutRecords", self.after)

    def before(self, params: dict[str, Any], **kwargs: Any) -> None:
        with self._lock:
            call = len(self.calls)
            records = params["Records"]
            self.calls.append([record["Data"] for record in records])
            self._dropped = [i for i in range(len(records)) if self.fail(call, i)]
            if len(self._dropped) < len(records):
                params["Records"] = [r for i, r in enumerate(records) if i not in self._dropped]

    def short_circuit(self, **kwargs: Any) -> tuple[_Ok, dict[str, Any]] | None:
        with self._lock:
            everything_failed = len(self._dropped) == len(self.calls[-1])
        return (_Ok(), {"FailedRecordCount": 0, "Records": []}) if everything_failed else None

    def after(self, parsed: dict[str, Any], **kwargs: Any) -> None:
        with self._lock:
            results = list(parsed.get("Records", []))
            for position in self._dropped:
                results.insert(
                    position,
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": "Rate exceeded for shard shardId-000000000000",
                    },
                )
            parsed["Records"] = results
            parsed["FailedRecordCount"] = len(self._dropped)


def hooked_clients(emulator: Emulator) -> tuple[Clients, boto3.Session]:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    target = AwsTarget(region=REGION, endpoint_url=emulator.endpoint_url)
    return Clients(target, session=session), session


def test_only_the_records_a_partial_failure_names_are_retried(
    emulator: Emulator, stream_arn: str
) -> None:
    clients, session = hooked_clients(emulator)
    throttled = PartialFailures(session, lambda call, index: call == 0 and index % 3 == 0)
    records = [OutgoingRecord(f"tick-{i}".encode(), f"key-{i}") for i in range(10)]
    waits: list[float] = []

    result = put_records(clients, stream_arn, records, wait=waits.append)

    assert (result.produced, result.failed) == (10, 0)
    assert throttled.calls[1] == [b"tick-0", b"tick-3", b"tick-6", b"tick-9"]
    assert len(throttled.calls) == 2
    assert len(waits) == 1 and waits[0] > 0
    on_stream = stream_contents(emulator, stream_arn)
    assert sorted(data for _, data in on_stream) == sorted(r.data for r in records)


def test_records_still_failing_after_the_last_attempt_are_counted_failed(
    emulator: Emulator, stream_arn: str
) -> None:
    clients, session = hooked_clients(emulator)
    throttled = PartialFailures(session, lambda call, index: index == 0)
    records = [OutgoingRecord(f"tick-{i}".encode(), "k") for i in range(3)]
    waits: list[float] = []

    result = put_records(clients, stream_arn, records, wait=waits.append)

    assert (result.produced, result.failed) == (2, 1)
    assert len(throttled.calls) == PUT_ATTEMPTS
    assert waits == sorted(waits)
    assert len(stream_contents(emulator, stream_arn)) == 2


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})


def test_produce_prints_one_json_document(emulator: Emulator, stream_arn: str) -> None:
    result = invoke(
        "produce",
        "--stream-arn",
        stream_arn,
        "--count",
        "12",
        "--tickers",
        "BTCUSD,ETHEUR",
        "--endpoint-url",
        emulator.endpoint_url,
        "--output",
        "json",
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"stream_arn", "produced", "failed", "seconds"}
    assert (document["stream_arn"], document["produced"], document["failed"]) == (
        stream_arn,
        12,
        0,
    )
    on_stream = stream_contents(emulator, stream_arn)
    assert sorted({key for key, _ in on_stream}) == ["BTCUSD", "ETHEUR"]
    assert len(on_stream) == 12


def test_a_file_is_sent_as_written(emulator: Emulator, stream_arn: str, tmp_path: Path) -> None:
    lines = [
        '{"from_currency_code": "BTC", "to_currency_code": "USD", "exchange_rate": 1.10}',
        "",
        '{"from_currency_code":"ETH","to_currency_code":"USD","exchange_rate":"2.5"}',
        '{"note": "no codes"}',
    ]
    ticks = tmp_path / "ticks.jsonl"
    ticks.write_text("\n".join(lines) + "\n")

    result = invoke(
        "produce",
        "--stream-arn",
        stream_arn,
        "--file",
        str(ticks),
        "--endpoint-url",
        emulator.endpoint_url,
        "--output",
        "json",
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["produced"] == 3
    on_stream = sorted(stream_contents(emulator, stream_arn))
    assert on_stream == sorted(
        [
            ("BTCUSD", lines[0].encode()),
            ("ETHUSD", lines[2].encode()),
            ("UNKNOWN", lines[3].encode()),
        ]
    )


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('{"a": 1}\n{"b": 2}\nnot json\n{"c": 3}\n', ":3: not JSON"),
        ('{"a": 1}\n[1, 2]\n', ":2: not a JSON object"),
    ],
)
def test_a_bad_file_line_exits_2_before_anything_is_sent(
    emulator: Emulator, stream_arn: str, tmp_path: Path, content: str, where: str
) -> None:
    ticks = tmp_path / "ticks.jsonl"
    ticks.write_text(content)

    result = invoke(
        "produce",
        "--stream-arn",
        stream_arn,
        "--file",
        str(ticks),
        "--endpoint-url",
        emulator.endpoint_url,
    )

    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert where in line and str(ticks) in line
    assert stream_contents(emulator, stream_arn) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "--count must be at least 1"),
        (["--rate", "0"], "--rate 0.0 must be a positive, finite number"),
        (["--file", "x.jsonl", "--count", "3"], "--file sends the file's ticks"),
        (["--tickers", "BTC"], "--tickers: 'BTC' is not a ticker"),
        (["--region", "eu-west-1"], "the stream is in us-east-1 but --region is eu-west-1"),
    ],
)
def test_bad_options_exit_2(args: list[str], message: str) -> None:
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s"

    result = invoke("produce", "--stream-arn", arn, *args)

    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_build_records_defaults_to_100_synthetic_ticks() -> None:
    records = build_records(ProduceRequest("arn:aws:kinesis:us-east-1:123456789012:stream/s"))
    assert len(records) == 100
    assert {r.partition_key for r in records} == {"BTCUSD", "ETHUSD", "DOGEUSD"}
