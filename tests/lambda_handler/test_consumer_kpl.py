"""KPL aggregate decoding, against the small encoder in consumer_events."""

from __future__ import annotations

import hashlib

import kpl_aggregate
import pytest
from consumer_events import KPL_MAGIC, aggregate_message, encode_aggregate, frame_aggregate
from hypothesis import given
from hypothesis import strategies as st


def test_user_records_come_back_in_order_with_their_keys() -> None:
    blob = encode_aggregate(
        [("BTCUSD", b'{"a": 1}'), ("ETHUSD", b'{"b": 2}'), ("BTCUSD", b"")],
        explicit_hash_keys=[None, "340282366920938463463374607431768211455", None],
        with_tags=True,
    )

    assert kpl_aggregate.is_aggregated(blob)
    assert kpl_aggregate.deaggregate(blob) == [
        kpl_aggregate.AggregatedUserRecord("BTCUSD", None, b'{"a": 1}'),
        kpl_aggregate.AggregatedUserRecord(
            "ETHUSD", "340282366920938463463374607431768211455", b'{"b": 2}'
        ),
        kpl_aggregate.AggregatedUserRecord("BTCUSD", None, b""),
    ]


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=300)),
        max_size=40,
    )
)
def test_any_aggregate_round_trips(user_records: list[tuple[str, bytes]]) -> None:
    decoded = kpl_aggregate.deaggregate(encode_aggregate(user_records))

    assert [(record.partition_key, record.data) for record in decoded] == user_records


def test_checksum_mismatch_is_an_error() -> None:
    blob = bytearray(encode_aggregate([("BTCUSD", b"{}")]))
    blob[-1] ^= 0xFF

    with pytest.raises(kpl_aggregate.AggregateError, match="checksum"):
        kpl_aggregate.deaggregate(bytes(blob))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"\x1a\x05\x08\x00", "past the end"),  # record length 5, only 2 bytes follow
        (b"\x0a\x02PK\x1a\x02\x08\x05", "without partition_key_index or data"),
        (b"\x0a\x02PK\x1a\x04\x08\x03\x1a\x00", "outside the partition key table"),
        (b"\x0a\x02PK\x1a\x06\x08\x00\x10\x01\x1a\x00", "outside the explicit hash key table"),
        (b"\x0a\x02PK\x1a\x04\x0a\x00\x1a\x00", "wrong wire type"),
        (b"\x0b", "unsupported wire type"),
        (b"\x08" + b"\xff" * 11, "varint longer"),
        (b"\x0a\x02\xff\xfe", "not UTF-8"),
    ],
)
def test_malformed_protobuf_is_an_error(message: bytes, expected: str) -> None:
    with pytest.raises(kpl_aggregate.AggregateError, match=expected):
        kpl_aggregate.deaggregate(frame_aggregate(message))


def test_too_short_to_hold_a_checksum_is_an_error() -> None:
    with pytest.raises(kpl_aggregate.AggregateError, match="shorter"):
        kpl_aggregate.deaggregate(KPL_MAGIC + hashlib.md5(b"").digest()[:10])


def test_unknown_fields_are_skipped() -> None:
    message = aggregate_message([("PK", b"data")])
    # field 9 as fixed64 and field 10 as fixed32: a newer producer's additions
    extended = message + b"\x49" + b"\x00" * 8 + b"\x55" + b"\x00" * 4
    assert kpl_aggregate.deaggregate(frame_aggregate(extended)) == [
        kpl_aggregate.AggregatedUserRecord("PK", None, b"data")
    ]


def test_plain_json_is_not_an_aggregate() -> None:
    assert not kpl_aggregate.is_aggregated(b'{"from_currency_code": "BTC"}')
