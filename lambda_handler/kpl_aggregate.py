"""Kinesis Producer Library aggregates, unpacked with the standard library alone.

An aggregate is the magic bytes F3 89 9A C2, a protobuf ``AggregatedRecord``, then the 16-byte MD5
of those protobuf bytes::

    message AggregatedRecord {
      repeated string partition_key_table     = 1;
      repeated string explicit_hash_key_table = 2;
      repeated Record records                 = 3;
    }
    message Record {
      required uint64 partition_key_index     = 1;
      optional uint64 explicit_hash_key_index = 2;
      required bytes  data                    = 3;
      repeated Tag    tags                    = 4;
    }

Imported by plain name (``import kpl_aggregate``): the Lambda zip root is on sys.path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

KPL_MAGIC = b"\xf3\x89\x9a\xc2"
KPL_DIGEST_BYTES = 16


@dataclass(frozen=True, slots=True)
class AggregatedUserRecord:
    partition_key: str
    explicit_hash_key: str | None
    data: bytes


class AggregateError(ValueError):
    """An aggregate that cannot be unpacked; the whole Kinesis record is bad."""


_WIRE_VARINT = 0
_WIRE_FIXED64 = 1
_WIRE_LENGTH_DELIMITED = 2
_WIRE_FIXED32 = 5


def is_aggregated(blob: bytes) -> bool:
    return blob.startswith(KPL_MAGIC)


def _read_varint(buffer: bytes, position: int) -> tuple[int, int]:
    value = 0
    for shift in range(0, 70, 7):
        if position >= len(buffer):
            raise AggregateError("truncated varint")
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
    raise AggregateError("varint longer than 10 bytes")


def _protobuf_fields(message: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field; varints as int, the rest as bytes."""
    position = 0
    while position < len(message):
        tag, position = _read_varint(message, position)
        field_number, wire_type = tag >> 3, tag & 0x7
        if field_number == 0:
            raise AggregateError("field number 0")
        if wire_type == _WIRE_VARINT:
            value, position = _read_varint(message, position)
            yield field_number, wire_type, value
            continue
        if wire_type == _WIRE_LENGTH_DELIMITED:
            length, position = _read_varint(message, position)
        elif wire_type == _WIRE_FIXED64:
            length = 8
        elif wire_type == _WIRE_FIXED32:
            length = 4
        else:
            raise AggregateError(f"unsupported wire type {wire_type}")
        end = position + length
        if end > len(message):
            raise AggregateError("field runs past the end of the message")
        yield field_number, wire_type, message[position:end]
        position = end


def _expect_bytes(value: int | bytes, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise AggregateError(f"{what} has the wrong wire type")
    return value


def _expect_int(value: int | bytes, what: str) -> int:
    if not isinstance(value, int):
        raise AggregateError(f"{what} has the wrong wire type")
    return value


def _decode_text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise AggregateError(f"{what} is not UTF-8") from None


def deaggregate(blob: bytes) -> list[AggregatedUserRecord]:
    """The user records of a KPL aggregate: magic, AggregatedRecord protobuf, MD5 of it.

    Raises AggregateError when the checksum does not match or the protobuf is malformed.
    """
    if not is_aggregated(blob) or len(blob) < len(KPL_MAGIC) + KPL_DIGEST_BYTES:
        raise AggregateError("KPL aggregate shorter than its header and checksum")
    message = blob[len(KPL_MAGIC) : -KPL_DIGEST_BYTES]
    digest = blob[-KPL_DIGEST_BYTES:]
    if hashlib.md5(message, usedforsecurity=False).digest() != digest:
        raise AggregateError("KPL aggregate checksum mismatch")
    partition_keys: list[str] = []
    explicit_hash_keys: list[str] = []
    encoded_records: list[bytes] = []
    for field_number, _, value in _protobuf_fields(message):
        if field_number == 1:
            partition_keys.append(_decode_text(_expect_bytes(value, "partition key"), "key"))
        elif field_number == 2:
            explicit_hash_keys.append(_decode_text(_expect_bytes(value, "hash key"), "key"))
        elif field_number == 3:
            encoded_records.append(_expect_bytes(value, "record"))
    return [
        _decode_user_record(encoded, partition_keys, explicit_hash_keys)
        for encoded in encoded_records
    ]


def _decode_user_record(
    encoded: bytes, partition_keys: Sequence[str], explicit_hash_keys: Sequence[str]
) -> AggregatedUserRecord:
    partition_key_index: int | None = None
    explicit_hash_key_index: int | None = None
    data: bytes | None = None
    for field_number, _, value in _protobuf_fields(encoded):
        if field_number == 1:
            partition_key_index = _expect_int(value, "partition_key_index")
        elif field_number == 2:
            explicit_hash_key_index = _expect_int(value, "explicit_hash_key_index")
        elif field_number == 3:
            data = _expect_bytes(value, "data")
    if partition_key_index is None or data is None:
        raise AggregateError("user record without partition_key_index or data")
    if partition_key_index >= len(partition_keys):
        raise AggregateError("partition_key_index outside the partition key table")
    if explicit_hash_key_index is not None and explicit_hash_key_index >= len(explicit_hash_keys):
        raise AggregateError("explicit_hash_key_index outside the explicit hash key table")
    return AggregatedUserRecord(
        partition_key=partition_keys[partition_key_index],
        explicit_hash_key=(
            None if explicit_hash_key_index is None else explicit_hash_keys[explicit_hash_key_index]
        ),
        data=data,
    )
