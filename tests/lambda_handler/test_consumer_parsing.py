"""Pure parsing: payloads, numbers, timestamps, deduplication, dead-letter messages, budgets."""

from __future__ import annotations

import base64
import json
import string
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import consumer_dead_letters as dead_letters
import consumer_payloads as payloads
import consumer_records as records
import consumer_runtime as runtime
import pytest
from consumer_events import flat_tick, numbered_tick, sequence_number, to_json_bytes
from hypothesis import given
from hypothesis import strategies as st

# --- payload forms ---------------------------------------------------------------------------


def test_flat_payload_becomes_a_tick_with_every_field() -> None:
    tick = payloads.parse_payload(to_json_bytes(flat_tick()))

    assert tick == payloads.Tick(
        from_currency_code="BTC",
        to_currency_code="USD",
        last_refreshed="2026-11-24 14:05:01",
        exchange_rate=Decimal("37021.5"),
        from_currency_name="Bitcoin",
        to_currency_name="United States Dollar",
        time_zone="UTC",
        bid_price=Decimal("37021.4"),
        ask_price=Decimal("37021.6"),
    )
    assert tick.ticker == "BTCUSD"


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "wrapped"])
def test_numbered_payload_matches_the_flat_one(wrapped: bool) -> None:
    flat = flat_tick()
    assert payloads.parse_payload(
        to_json_bytes(numbered_tick(flat, wrapped))
    ) == payloads.parse_payload(to_json_bytes(flat))


def test_json_numbers_and_numeric_strings_keep_their_digits() -> None:
    payload = (
        b'{"from_currency_code": "eth", "to_currency_code": "btc", '
        b'"exchange_rate": 0.053210000000000000000000000000000001, '
        b'"last_refreshed": "2026-11-24 14:05:01", "bid_price": "0.05320", "ask_price": 1E-3}'
    )
    tick = payloads.parse_payload(payload)

    assert isinstance(tick, payloads.Tick)
    assert str(tick.exchange_rate) == "0.053210000000000000000000000000000001"
    assert str(tick.bid_price) == "0.05320"
    assert str(tick.ask_price) == "0.001"
    assert tick.ticker == "ETHBTC"
    item = payloads.item_attributes(tick, "1")
    assert item["exchange_rate"] == {"N": "0.053210000000000000000000000000000001"}


def test_unknown_fields_are_ignored_and_absent_optionals_are_left_out() -> None:
    payload = to_json_bytes(
        {
            "from_currency_code": "BTC",
            "to_currency_code": "USD",
            "exchange_rate": "1",
            "last_refreshed": "2026-11-24 14:05:01",
            "volume": "12",
            "bid_price": "-",
        }
    )
    tick = payloads.parse_payload(payload)
    assert isinstance(tick, payloads.Tick)

    item = payloads.item_attributes(tick, sequence_number(1))

    assert item == {
        "ticker": {"S": "BTCUSD"},
        "last_refreshed": {"S": "2026-11-24 14:05:01"},
        "from_currency_code": {"S": "BTC"},
        "to_currency_code": {"S": "USD"},
        "exchange_rate": {"N": "1"},
        "sequence_number": {"S": sequence_number(1)},
    }


# --- bad payloads ----------------------------------------------------------------------------

BAD_PAYLOADS: list[tuple[str, bytes, str]] = [
    ("not utf-8", b"\xff\xfe{}", "not valid UTF-8"),
    ("not json", b"BTCUSD 37021.5", "not valid JSON"),
    ("not an object", b"[1, 2]", "not a JSON object"),
    ("wrapper not an object", b'{"Realtime Currency Exchange Rate": "x"}', "not a JSON object"),
    ("missing from code", to_json_bytes(flat_tick(from_currency_code=None)), "missing from_"),
    ("missing to code", to_json_bytes(flat_tick(to_currency_code=None)), "missing to_"),
    ("missing rate", to_json_bytes(flat_tick(exchange_rate=None)), "missing exchange_rate"),
    ("missing time", to_json_bytes(flat_tick(last_refreshed=None)), "missing last_refreshed"),
    ("rate not numeric", to_json_bytes(flat_tick(exchange_rate="abc")), "not numeric"),
    ("rate is a bool", to_json_bytes(flat_tick(exchange_rate=True)), "not numeric"),
    ("rate underscores", to_json_bytes(flat_tick(exchange_rate="1_000")), "not numeric"),
    ("rate NaN string", to_json_bytes(flat_tick(exchange_rate="NaN")), "not finite"),
    ("rate NaN literal", b'{"exchange_rate": NaN}', "missing from_currency_code"),
    (
        "rate NaN json",
        to_json_bytes(flat_tick(exchange_rate=None))[:-1] + b', "exchange_rate": NaN}',
        "not finite",
    ),
    (
        "rate Infinity json",
        to_json_bytes(flat_tick(exchange_rate=None))[:-1] + b', "exchange_rate": -Infinity}',
        "not finite",
    ),
    ("rate Infinity string", to_json_bytes(flat_tick(exchange_rate="Infinity")), "not finite"),
    ("rate zero", to_json_bytes(flat_tick(exchange_rate="0")), "greater than zero"),
    ("rate negative", to_json_bytes(flat_tick(exchange_rate=Decimal("-2.5"))), "greater than"),
    (
        "rate too precise",
        to_json_bytes(flat_tick(exchange_rate="1." + "1" * 38)),
        "more than 38 significant digits",
    ),
    ("rate too large", to_json_bytes(flat_tick(exchange_rate="1E+126")), "number range"),
    ("rate too small", to_json_bytes(flat_tick(exchange_rate="1E-131")), "number range"),
    ("time unparseable", to_json_bytes(flat_tick(last_refreshed="yesterday")), "not a parseable"),
    ("time impossible", to_json_bytes(flat_tick(last_refreshed="2026-02-30 10:00:00")), "parse"),
    ("time not a string", to_json_bytes(flat_tick(last_refreshed=1_795_528_701)), "not a string"),
    ("code too long", to_json_bytes(flat_tick(from_currency_code="ABCDEFGHIJK")), "1-10 letters"),
    ("code empty", to_json_bytes(flat_tick(to_currency_code="")), "1-10 letters"),
    ("code punctuation", to_json_bytes(flat_tick(to_currency_code="US$")), "1-10 letters"),
    ("code not ascii", to_json_bytes(flat_tick(to_currency_code="ÉUR")), "1-10 letters"),
    ("code a number", to_json_bytes(flat_tick(to_currency_code=Decimal(1))), "1-10 letters"),
    ("bid not numeric", to_json_bytes(flat_tick(bid_price="n/a")), "bid_price is not numeric"),
    ("ask negative", to_json_bytes(flat_tick(ask_price="-1")), "ask_price must be greater"),
    ("name not a string", to_json_bytes(flat_tick(from_currency_name=[1])), "not a string"),
    (
        "item too large",
        to_json_bytes(flat_tick(from_currency_name="x" * 410_000)),
        "400 KB item size limit",
    ),
]


@pytest.mark.parametrize(
    ("payload", "expected_reason"),
    [(payload, reason) for _, payload, reason in BAD_PAYLOADS],
    ids=[name for name, _, _ in BAD_PAYLOADS],
)
def test_bad_payloads_are_rejected_with_their_reason(payload: bytes, expected_reason: str) -> None:
    parsed = payloads.parse_payload(payload)

    assert isinstance(parsed, payloads.BadRecord)
    assert expected_reason in parsed.reason


def test_null_and_dash_bid_ask_mean_absent() -> None:
    tick = payloads.parse_payload(to_json_bytes(flat_tick(bid_price="-", ask_price="")))
    assert isinstance(tick, payloads.Tick)
    assert (tick.bid_price, tick.ask_price) == (None, None)


# --- timestamps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "converted"),
    [
        ("2026-11-24 14:05:01", "2026-11-24 14:05:01", False),
        ("2026-11-24T14:05:01", "2026-11-24 14:05:01", False),
        ("2026-11-24T14:05", "2026-11-24 14:05:00", False),
        ("2026-11-24T14:05:01.987654", "2026-11-24 14:05:01", False),
        ("2026-11-24T14:05:01Z", "2026-11-24 14:05:01", True),
        ("2026-11-24T14:05:01z", "2026-11-24 14:05:01", True),
        ("2026-11-24T14:05:01+00:00", "2026-11-24 14:05:01", True),
        ("2026-11-24T14:05:01+05:30", "2026-11-24 08:35:01", True),
        ("2026-11-24T01:05:01+0200", "2026-11-23 23:05:01", True),
        ("2026-12-31T22:00:00-03", "2027-01-01 01:00:00", True),
        ("2026-11-24 14:05:01.5 -08:00", "2026-11-24 22:05:01", True),
    ],
)
def test_timestamps_are_normalised_to_utc_seconds(
    text: str, expected: str, converted: bool
) -> None:
    assert payloads.normalise_timestamp(text) == (expected, converted)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-24",
        "24/11/2026 14:05:01",
        "2026-11-24 25:00:00",
        "2026-11-24 14:05:61",
        "2026-13-01 00:00:00",
        "2026-11-24T14:05:01+24:00",
        "2026-11-24T14:05:01 UTC",
        "9999-12-31T23:00:00-05:00",
        "",
    ],
)
def test_unparseable_timestamps_raise(text: str) -> None:
    with pytest.raises(ValueError):
        payloads.normalise_timestamp(text)


def test_offset_timestamp_sets_time_zone_to_utc() -> None:
    tick = payloads.parse_payload(
        to_json_bytes(flat_tick(last_refreshed="2026-11-24T15:05:01+01:00", time_zone="CET"))
    )
    assert isinstance(tick, payloads.Tick)
    assert (tick.last_refreshed, tick.time_zone) == ("2026-11-24 14:05:01", "UTC")


# --- property: any valid tick round-trips with its exact digits ------------------------------

currency_codes = st.text(string.ascii_letters + string.digits, min_size=1, max_size=10)
names = st.none() | st.text(min_size=1, max_size=40).map(str.strip).filter(bool)


@st.composite
def exact_numbers(draw: st.DrawFn) -> str:
    """Positive number text DynamoDB can store: <= 38 significant digits, sane exponent."""
    significant = draw(st.integers(min_value=1, max_value=10**38 - 1))
    digits = str(significant)
    if draw(st.booleans()):
        point = draw(st.integers(min_value=0, max_value=len(digits)))
        trailing_zeros = "0" * draw(st.integers(0, 38 - len(digits)))
        whole, fraction = digits[:point] or "0", digits[point:] + trailing_zeros
        return f"{whole}.{fraction}" if fraction else whole
    exponent = draw(st.integers(min_value=-90, max_value=90))
    return f"{digits[0]}.{digits[1:]}E{exponent:+d}" if len(digits) > 1 else f"{digits}e{exponent}"


@st.composite
def moments(draw: st.DrawFn) -> tuple[str, str]:
    """(timestamp text as sent, the UTC text expected back)."""
    moment = draw(st.datetimes(datetime(1971, 1, 1), datetime(2099, 12, 31)))
    moment = moment.replace(microsecond=0)
    separator = draw(st.sampled_from([" ", "T"]))
    text = moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
    offset_minutes = draw(st.none() | st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59))
    if offset_minutes is None:
        return text, moment.strftime("%Y-%m-%d %H:%M:%S")
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    expected = moment - timedelta(minutes=offset_minutes)
    return f"{text}{sign}{hours:02d}:{minutes:02d}", expected.strftime("%Y-%m-%d %H:%M:%S")


@given(
    from_code=currency_codes,
    to_code=currency_codes,
    from_name=names,
    to_name=names,
    rate=exact_numbers(),
    bid=st.none() | exact_numbers(),
    ask=st.none() | exact_numbers(),
    moment=moments(),
    numbers_as_json=st.booleans(),
    form=st.sampled_from(["flat", "numbered", "wrapped"]),
)
def test_any_valid_tick_round_trips_with_exact_digits(
    from_code: str,
    to_code: str,
    from_name: str | None,
    to_name: str | None,
    rate: str,
    bid: str | None,
    ask: str | None,
    moment: tuple[str, str],
    numbers_as_json: bool,
    form: str,
) -> None:
    sent_time, expected_time = moment

    def number(text: str | None) -> Any:
        if text is None:
            return None
        return Decimal(text) if numbers_as_json else text

    flat = flat_tick(
        from_currency_code=from_code,
        to_currency_code=to_code,
        from_currency_name=from_name,
        to_currency_name=to_name,
        exchange_rate=number(rate),
        bid_price=number(bid),
        ask_price=number(ask),
        last_refreshed=sent_time,
        time_zone=None,
    )
    document = flat if form == "flat" else numbered_tick(flat, wrapped=form == "wrapped")

    tick = payloads.parse_payload(to_json_bytes(document))

    assert isinstance(tick, payloads.Tick), tick
    item = payloads.item_attributes(tick, sequence_number(7))
    assert item["ticker"] == {"S": (from_code + to_code).upper()}
    assert item["last_refreshed"] == {"S": expected_time}
    assert item["exchange_rate"] == {"N": str(Decimal(rate))}
    assert Decimal(item["exchange_rate"]["N"]).as_tuple() == Decimal(rate).as_tuple()
    for attribute, sent in (("bid_price", bid), ("ask_price", ask)):
        if sent is None:
            assert attribute not in item
        else:
            assert Decimal(item[attribute]["N"]).as_tuple() == Decimal(sent).as_tuple()
    assert item.get("from_currency_name") == (None if from_name is None else {"S": from_name})
    assert item.get("to_currency_name") == (None if to_name is None else {"S": to_name})
    assert item["sequence_number"] == {"S": sequence_number(7)}


# --- deduplication ---------------------------------------------------------------------------


def _tick(rate: str, last_refreshed: str = "2026-11-24 14:05:01") -> payloads.Tick:
    return payloads.Tick("BTC", "USD", last_refreshed, Decimal(rate))


def _source(sequence: str, user_record_index: int | None = None) -> records.SourceRecord:
    return records.SourceRecord(sequence, "pk", "arn", None, user_record_index)


def test_duplicates_keep_the_highest_sequence_number_compared_as_integers() -> None:
    ticks = [
        (_tick("3"), _source("10")),
        (_tick("1"), _source("9")),  # "9" > "10" as text; as a number it is older
        (_tick("2"), _source("2")),
        (_tick("5", "2026-11-24 14:06:01"), _source("1")),
    ]

    items, duplicates = records.deduplicate(ticks)

    assert duplicates == 2
    by_time = {item.key[1]: item for item in items}
    winner = by_time["2026-11-24 14:05:01"]
    assert winner.item["exchange_rate"] == {"N": "3"}
    assert winner.item["sequence_number"] == {"S": "10"}
    assert winner.sequence_numbers == frozenset({"10", "9", "2"})
    assert by_time["2026-11-24 14:06:01"].sequence_numbers == frozenset({"1"})


def test_within_one_aggregate_the_later_user_record_wins() -> None:
    items, duplicates = records.deduplicate(
        [(_tick("1"), _source("5", 0)), (_tick("2"), _source("5", 1)), (_tick("0.5"), _source("4"))]
    )
    assert duplicates == 2
    assert [item.item["exchange_rate"] for item in items] == [{"N": "2"}]


# --- dead-letter messages --------------------------------------------------------------------


def _letter(data: bytes, user_record_index: int | None = None) -> records.DeadLetter:
    source = records.SourceRecord(
        sequence_number(3), "BTCUSD", "arn:stream", 1.5, user_record_index
    )
    return records.DeadLetter("payload is not valid JSON", source, base64.b64encode(data).decode())


def test_dead_letter_message_carries_the_record_and_its_origin() -> None:
    fields = dead_letters.dead_letter_fields(_letter(b"oops", user_record_index=2))

    assert fields == {
        "reason": "payload is not valid JSON",
        "sequence_number": sequence_number(3),
        "partition_key": "BTCUSD",
        "event_source_arn": "arn:stream",
        "approximate_arrival": 1.5,
        "data_base64": base64.b64encode(b"oops").decode(),
        "user_record_index": 2,
    }


def test_oversized_dead_letter_is_truncated_to_fit_and_says_so() -> None:
    data = bytes(range(256)) * 1200  # ~300 KiB, ~400 KiB once base64-encoded
    letter = _letter(data)

    fields = dead_letters.dead_letter_fields(letter)

    body = json.dumps(fields).encode()
    assert len(body) <= dead_letters.SQS_MESSAGE_MAX_BYTES
    assert len(body) > dead_letters.SQS_MESSAGE_MAX_BYTES - 8
    assert fields["truncated"] is True
    assert letter.data_base64.startswith(fields["data_base64"])
    assert data.startswith(base64.b64decode(fields["data_base64"], validate=True))


def test_message_batches_respect_count_and_size_limits() -> None:
    small = ["x" * 100] * 23
    assert [len(batch) for batch in dead_letters.pack_message_batches(small)] == [10, 10, 3]

    large = ["y" * 100_000] * 5
    batches = dead_letters.pack_message_batches(large)
    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert sorted(index for batch in batches for index in batch) == list(range(5))


# --- time budget -----------------------------------------------------------------------------


class _Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.mark.parametrize(
    ("remaining_ms", "expected_budget_s"),
    [
        (900_000, 898.0),  # 10% would be 90 s; the margin is capped at 2 s
        (10_000, 9.0),  # 10%
        (1_000, 0.75),  # 10% would be 0.1 s; at least 250 ms
        (100, -0.15),  # already past: nothing will be attempted
    ],
)
def test_deadline_keeps_a_safety_margin(remaining_ms: int, expected_budget_s: float) -> None:
    deadline = runtime.Deadline.for_invocation(_Context(remaining_ms), now=100.0)
    assert deadline.expires_at == pytest.approx(100.0 + expected_budget_s)


def test_deadline_without_context_uses_the_default_budget() -> None:
    deadline = runtime.Deadline.for_invocation(None, now=0.0)
    assert deadline.expires_at == pytest.approx((runtime.DEFAULT_BUDGET_MS - 2_000) / 1000)
