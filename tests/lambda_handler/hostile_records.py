"""Hostile records, shared by the handler's tests and the end-to-end run on the local emulator.

Each entry: (name, the bytes, the reason its dead letter must carry).
"""

from __future__ import annotations

import hashlib
import json

from consumer_events import KPL_MAGIC, encode_aggregate, flat_tick, frame_aggregate, to_json_bytes


def good(minute: int) -> bytes:
    return to_json_bytes(flat_tick(last_refreshed=f"2026-11-24 15:{minute:02d}:00"))


def with_raw(field: str, raw_json: str) -> bytes:
    """A tick whose `field` is the JSON text `raw_json`, exactly as written (escapes included)."""
    document = flat_tick(**{field: None})
    text = json.dumps(document)
    return (text[:-1] + f', "{field}": {raw_json}}}').encode("ascii")


HUGE_EXPONENT = "1e99999999999999999999"

# (name, payload, reason the dead letter must carry)
HOSTILE_PAYLOADS: list[tuple[str, bytes, str]] = [
    *[
        (
            f"lone surrogate in {field}",
            with_raw(field, '"Bit\\ud800coin"'),
            f"{field} is not valid Unicode text (it holds a lone surrogate)",
        )
        for field in ("from_currency_name", "to_currency_name", "time_zone")
    ],
    (
        "lone low surrogate, numbered form",
        b'{"1. From_Currency Code": "BTC", "3. To_Currency Code": "USD", '
        b'"5. Exchange Rate": "1", "6. Last Refreshed": "2026-11-24 15:00:00", '
        b'"4. To_Currency Name": "\\udfff"}',
        "to_currency_name is not valid Unicode text",
    ),
    ("surrogate in a code", with_raw("to_currency_code", '"\\ud800"'), "to_currency_code is not"),
    ("surrogate in the time", with_raw("last_refreshed", '"\\ud800"'), "last_refreshed is not"),
    ("surrogate in the rate", with_raw("exchange_rate", '"\\ud800"'), "exchange_rate is not"),
    *[
        (
            f"huge exponent in {field} as {form}",
            with_raw(field, f'"{HUGE_EXPONENT}"' if form == "string" else HUGE_EXPONENT),
            f"{field} is outside DynamoDB's number range",
        )
        for field in ("exchange_rate", "bid_price", "ask_price")
        for form in ("string", "number")
    ],
    (
        "huge negative exponent",
        with_raw("exchange_rate", "1e-99999999999999999999"),
        "exchange_rate is outside DynamoDB's number range",
    ),
    ("exponent just past the range", with_raw("exchange_rate", "1e126"), "number range"),
    ("huge int", with_raw("exchange_rate", "9" * 5000), "outside DynamoDB's number range"),
    (
        "huge int string",
        with_raw("exchange_rate", '"' + "9" * 100_000 + '"'),
        "outside DynamoDB's number range",
    ),
    ("39 digits", with_raw("exchange_rate", "1" * 39), "more than 38 significant digits"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "payload is not valid JSON"),
    (
        "deep nesting inside a field",
        with_raw("from_currency_name", "[" * 50_000 + "]" * 50_000),
        "payload is not valid JSON",
    ),
    ("rate an object", with_raw("exchange_rate", '{"value": 1}'), "exchange_rate is not numeric"),
    ("rate a list", with_raw("exchange_rate", "[1]"), "exchange_rate is not numeric"),
    ("rate null", with_raw("exchange_rate", "null"), "missing exchange_rate"),
    ("rate true", with_raw("exchange_rate", "true"), "exchange_rate is not numeric"),
    ("rate -Infinity", with_raw("exchange_rate", "-Infinity"), "exchange_rate is not finite"),
    ("code a list", with_raw("from_currency_code", '["BTC"]'), "from_currency_code is not"),
    ("time an object", with_raw("last_refreshed", "{}"), "last_refreshed is not a string"),
    ("year zero", with_raw("last_refreshed", '"0000-01-01 00:00:00"'), "last_refreshed is not"),
    (
        "offset out of range",
        with_raw("last_refreshed", '"2026-11-24 15:00:00+99:99"'),
        "last_refreshed is not",
    ),
    (
        "offset past year 9999",
        with_raw("last_refreshed", '"9999-12-31 23:59:59-01:00"'),
        "last_refreshed is not",
    ),
    ("wrapper null", b'{"Realtime Currency Exchange Rate": null}', "is not a JSON object"),
    (
        "giant name",
        to_json_bytes(flat_tick(to_currency_name="\u20ac" * 140_000)),
        "400 KB item size limit",
    ),
    ("empty payload", b"", "payload is not valid JSON"),
    ("NUL bytes only", b"\x00" * 64, "payload is not valid JSON"),
    ("UTF-16", '{"a": 1}'.encode("utf-16"), "payload is not valid UTF-8"),
    ("overlong UTF-8", b'{"a": "\xc0\xaf"}', "payload is not valid UTF-8"),
    ("encoded surrogate", b'{"a": "\xed\xa0\x80"}', "payload is not valid UTF-8"),
    ("a JSON string", b'"\\ud800"', "payload is not a JSON object"),
    ("a JSON number", HUGE_EXPONENT.encode(), "payload is not a JSON object"),
]


def field_bytes(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | 2, len(payload)]) + payload


BROKEN_AGGREGATES: list[tuple[str, bytes, str]] = [
    ("empty message", frame_aggregate(b""), "bad KPL aggregate: KPL aggregate holds no user"),
    (
        "partition keys only",
        frame_aggregate(field_bytes(1, b"BTCUSD") + field_bytes(2, b"123")),
        "holds no user record",
    ),
    (
        "records under an unknown field number",
        frame_aggregate(
            field_bytes(1, b"PK") + field_bytes(5, b"\x08\x00" + field_bytes(3, b"{}"))
        ),
        "holds no user record",
    ),
    ("checksum only", KPL_MAGIC + hashlib.md5(b"").digest(), "holds no user record"),
    ("truncated", encode_aggregate([("PK", good(1))])[:-20], "checksum mismatch"),
    ("magic only", KPL_MAGIC, "shorter than its header"),
    ("garbage with a good checksum", frame_aggregate(b"\xff" * 12), "bad KPL aggregate:"),
]
