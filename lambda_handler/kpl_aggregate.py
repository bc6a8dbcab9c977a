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

``unpack`` is what the handler uses: a frame it cannot read (too short, checksum mismatch,
malformed top-level protobuf, no user record at all) raises ``AggregateError`` and the whole
Kinesis record is bad; a user record it cannot read comes back as a ``BrokenUserRecord`` in its
place, so its neighbours are still written. ``deaggregate`` is the strict form: any problem
raises.

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


@dataclass(frozen=True, slots=True)
class BrokenUserRecord:
    """A user record that cannot be read; ``data`` is its data when found, else its protobuf."""

    reason: str
    data: bytes
    partition_key: str | None = None


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


@dataclass(frozen=True, slots=True)
class _Frame:
    partition_keys: list[bytes]
    explicit_hash_keys: list[bytes]
    encoded_records: list[bytes]


def _read_frame(blob: bytes) -> _Frame:
    if not is_aggregated(blob) or len(blob) < len(KPL_MAGIC) + KPL_DIGEST_BYTES:
        raise AggregateError("KPL aggregate shorter than its header and checksum")
    message = blob[len(KPL_MAGIC) : -KPL_DIGEST_BYTES]
    digest = blob[-KPL_DIGEST_BYTES:]
    if hashlib.md5(message, usedforsecurity=False).digest() != digest:
        raise AggregateError("KPL aggregate checksum mismatch")
    frame = _Frame([], [], [])
    for field_number, _, value in _protobuf_fields(message):
        if field_number == 1:
            frame.partition_keys.append(_expect_bytes(value, "partition key"))
        elif field_number == 2:
            frame.explicit_hash_keys.append(_expect_bytes(value, "hash key"))
        elif field_number == 3:
            frame.encoded_records.append(_expect_bytes(value, "record"))
    return frame


def unpack(blob: bytes) -> list[AggregatedUserRecord | BrokenUserRecord]:
    """Every user record of an aggregate, in order; unreadable ones as BrokenUserRecord.

    Raises AggregateError when the frame itself cannot be read or holds no user record.
    """
    frame = _read_frame(blob)
    if not frame.encoded_records:
        raise AggregateError("KPL aggregate holds no user record")
    unpacked: list[AggregatedUserRecord | BrokenUserRecord] = []
    for encoded in frame.encoded_records:
        try:
            unpacked.append(
                _decode_user_record(encoded, frame.partition_keys, frame.explicit_hash_keys)
            )
        except AggregateError as error:
            unpacked.append(_broken(encoded, str(error), frame.partition_keys))
    return unpacked


def deaggregate(blob: bytes) -> list[AggregatedUserRecord]:
    """The user records of a KPL aggregate: magic, AggregatedRecord protobuf, MD5 of it.

    Raises AggregateError when the checksum does not match or anything in it is malformed.
    """
    frame = _read_frame(blob)
    for key in (*frame.partition_keys, *frame.explicit_hash_keys):
        _decode_text(key, "key")
    return [
        _decode_user_record(encoded, frame.partition_keys, frame.explicit_hash_keys)
        for encoded in frame.encoded_records
    ]


@dataclass(slots=True)
class _RecordFields:
    partition_key_index: int | None = None
    explicit_hash_key_index: int | None = None
    data: bytes | None = None


def _record_fields(encoded: bytes) -> _RecordFields:
    fields = _RecordFields()
    for field_number, _, value in _protobuf_fields(encoded):
        if field_number == 1:
            fields.partition_key_index = _expect_int(value, "partition_key_index")
        elif field_number == 2:
            fields.explicit_hash_key_index = _expect_int(value, "explicit_hash_key_index")
        elif field_number == 3:
            fields.data = _expect_bytes(value, "data")
    return fields


def _decode_user_record(
    encoded: bytes, partition_keys: Sequence[bytes], explicit_hash_keys: Sequence[bytes]
) -> AggregatedUserRecord:
    fields = _record_fields(encoded)
    if fields.partition_key_index is None or fields.data is None:
        raise AggregateError("user record without partition_key_index or data")
    if fields.partition_key_index >= len(partition_keys):
        raise AggregateError("partition_key_index outside the partition key table")
    hash_key_index = fields.explicit_hash_key_index
    if hash_key_index is not None and hash_key_index >= len(explicit_hash_keys):
        raise AggregateError("explicit_hash_key_index outside the explicit hash key table")
    return AggregatedUserRecord(
        partition_key=_decode_text(partition_keys[fields.partition_key_index], "partition key"),
        explicit_hash_key=(
            None
            if hash_key_index is None
            else _decode_text(explicit_hash_keys[hash_key_index], "explicit hash key")
        ),
        data=fields.data,
    )


def _broken(encoded: bytes, reason: str, partition_keys: Sequence[bytes]) -> BrokenUserRecord:
    """What can still be read of a broken user record: its data and key, when they are there."""
    try:
        fields = _record_fields(encoded)
    except AggregateError:
        return BrokenUserRecord(reason, encoded)
    partition_key = None
    index = fields.partition_key_index
    if index is not None and index < len(partition_keys):
        partition_key = partition_keys[index].decode("utf-8", "backslashreplace")
    return BrokenUserRecord(
        reason, fields.data if fields.data is not None else encoded, partition_key
    )
