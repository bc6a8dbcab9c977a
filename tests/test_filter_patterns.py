"""`--only-tickers`' pattern, matched as Lambda matches it (the emulator's matcher): it delivers
exactly the records the handler would file under those tickers, in every payload shape the
handler reads, and no other record.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from cryptoconsumer.config import only_tickers_pattern
from cryptoconsumer.filter_patterns import canonical, same_patterns
from cryptoconsumer.local.demo import MALFORMED_KINDS, malformed_record
from cryptoconsumer.local.events import StreamRecord
from cryptoconsumer.local.filters import RecordFilter
from cryptoconsumer.produce import parse_tickers, synthetic_ticks, tick_json, tick_record
from lambda_handler.consumer_payloads import NUMBERED_FIELD_NAMES, WRAPPER_KEY, parse_item

START = datetime(2026, 12, 1, tzinfo=timezone.utc)
EVERY_TICKER = "BTCUSD,ETHUSD,DOGEUSD,BTCEUR,ETHEUR,SOLGBP,XRPJPY,LTCUSD"


def as_record(data: bytes, number: int) -> StreamRecord:
    return StreamRecord("shardId-000000000000", str(number), "key", data, 1.0)


def numbered(tick: dict[str, Any]) -> dict[str, Any]:
    return {NUMBERED_FIELD_NAMES[name]: value for name, value in tick.items()}


def payloads() -> list[bytes]:
    """The producer's ticks for many tickers, the same ticks in Alpha Vantage's numbered shape
    (bare and wrapped) and in lower case, and the demo's malformed records."""
    ticks = list(synthetic_ticks(parse_tickers(EVERY_TICKER), 40, START, random.Random(7)))
    shown = [tick_record(t).data for t in ticks]
    for tick in ticks[:16]:
        plain = {k: str(v) if isinstance(v, Decimal) else v for k, v in tick.items()}
        shown.append(json.dumps(numbered(plain)).encode())
        shown.append(json.dumps({WRAPPER_KEY: numbered(plain)}).encode())
        lower = {**tick, "from_currency_code": tick["from_currency_code"].lower()}
        shown.append(tick_json(lower))
    shown += [malformed_record(i).data for i in range(len(MALFORMED_KINDS) * 2)]
    shown += [b"BTCUSD", b'"BTCUSD"', b"[]", b'{"to_currency_code": "USD"}']
    return shown


def handler_ticker(data: bytes) -> str | None:
    parsed = parse_item(data, "1")
    return None if not isinstance(parsed, tuple) else parsed[0].ticker


@pytest.mark.parametrize("tickers", ["BTCUSD", "BTCUSD,ETHUSD", "ETHEUR,BTCUSD,SOLGBP", "ADAUSD"])
def test_only_tickers_delivers_exactly_the_handlers_records_of_those_tickers(tickers: str) -> None:
    wanted = {base + quote for base, quote in parse_tickers(tickers)}
    record_filter = RecordFilter.from_criteria(
        {"Filters": [{"Pattern": only_tickers_pattern(tickers)}]}
    )
    assert record_filter is not None
    delivered = expected = 0
    for number, data in enumerate(payloads()):
        matched = record_filter.matches(as_record(data, number))
        assert matched == (handler_ticker(data) in wanted), data
        delivered += matched
        expected += handler_ticker(data) in wanted
    assert delivered == expected
    if tickers != "ADAUSD":
        assert delivered > 0


def test_patterns_compare_as_parsed_json_in_any_order() -> None:
    one, two = '{"data": {"a": [1], "b": ["x"]}}', '{"data":{"c":[true]}}'
    assert canonical(one) == '{"data":{"a":[1],"b":["x"]}}'
    assert same_patterns([one, two], [two, '{"data":{"b":["x"],"a":[1]}}'])
    assert not same_patterns([one], [one, two])
    assert not same_patterns([one], ['{"data": {"a": [2], "b": ["x"]}}'])
