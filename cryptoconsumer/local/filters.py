"""Lambda's event filtering for Kinesis records (FilterCriteria), on moto's EventBridge matcher.

Lambda matches each filter pattern against the Kinesis record's own fields (`partitionKey`,
`sequenceNumber`, `approximateArrivalTimestamp`, `kinesisSchemaVersion`, `data`), with `data`
decoded from base64 and parsed as JSON when it is valid JSON. A record that is not valid JSON
can be matched only by a pattern that does not look inside `data`. Filters are ORed: a record
matching any of them is delivered; one that matches none is dropped (it still moves the
checkpoint, and counts as FilteredOutEventCount).

`moto.events.models.EventPattern` does the matching (exact values, prefix, suffix,
equals-ignore-case, anything-but, numeric, exists, wildcard, cidr, `$or`, nested fields). Where
it differs from AWS's documented behaviour, this module fills the gap:
- a JSON `true` is not the number 1 (and `false` is not 0): Python's `True == 1` made moto match
  `[1]` against `true` and apply numeric comparisons to booleans;
- fields inside arrays of objects are matched element by element (`{"items": {"id": [1]}}`
  matches `{"items": [{"id": 2}, {"id": 1}]}`); moto does not descend into arrays;
- an unknown operator (`{"prefx": "a"}`) is an invalid pattern, refused when the mapping is
  created or updated; moto matched everything with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptoconsumer.filter_patterns import (  # noqa: F401 - re-exported for the emulator
    DATA_FIELD,
    MAX_FILTERS,
    InvalidFilter,
    parse_pattern,
)
from cryptoconsumer.local.events import StreamRecord

_ABSENT = object()


def _matcher_class() -> Any:
    from moto.events.models import UNDEFINED, EventPattern

    class KinesisFilterPattern(EventPattern):  # type: ignore[misc]
        def _does_item_match_filters(self, item: Any, filters: list[Any]) -> bool:
            # JSON keeps booleans and numbers apart; Python's True == 1 does not.
            typed = [f for f in filters if not _is_scalar(f) or _same_kind(item, f)]
            return bool(typed) and bool(super()._does_item_match_filters(item, typed))

    def _is_scalar(value: Any) -> bool:
        return value is None or isinstance(value, str | int | float | bool)

    def _same_kind(item: Any, scalar: Any) -> bool:
        values = item if isinstance(item, list) else [item]
        return any(
            value is UNDEFINED or isinstance(value, bool) == isinstance(scalar, bool)
            for value in values
        )

    original_named = EventPattern._does_item_match_named_filter

    def named(item: Any, pattern: dict[str, Any]) -> bool:
        operator = next(iter(pattern))
        if operator == "numeric":
            values = item if isinstance(item, list) else [item]
            numbers = [v for v in values if not isinstance(v, bool)]
            if not numbers:
                return False
            item = numbers if isinstance(item, list) else numbers[0]
        return bool(original_named(item, pattern))

    KinesisFilterPattern._does_item_match_named_filter = staticmethod(named)
    return KinesisFilterPattern


def _flatten(node: Any, prefix: str, into: dict[str, Any]) -> None:
    """moto's flat "a.b.c" view, descending into arrays of objects as AWS does."""
    if isinstance(node, dict) and node:
        for key, value in node.items():
            _flatten(value, f"{prefix}.{key}" if prefix else key, into)
    elif isinstance(node, list) and any(isinstance(v, dict) for v in node):
        for value in node:
            if isinstance(value, dict):
                _flatten(value, prefix, into)
            else:
                _add(into, prefix, value)
    else:
        _add(into, prefix, node)


def _add(into: dict[str, Any], key: str, value: Any) -> None:
    if key not in into:
        into[key] = value
        return
    existing = into[key]
    merged = existing if isinstance(existing, list) else [existing]
    into[key] = merged + (value if isinstance(value, list) else [value])


def _mentions_data(pattern: dict[str, Any]) -> bool:
    return DATA_FIELD in pattern


def _without_data(pattern: dict[str, Any]) -> dict[str, Any] | None:
    """The pattern for a record whose data is not JSON: any part that looks inside `data`
    cannot match; None when nothing of it can."""
    if _mentions_data(pattern):
        return None
    if "$or" in pattern:
        branches = [b for b in (_without_data(b) for b in pattern["$or"]) if b is not None]
        if not branches:
            return None
        rest = {k: v for k, v in pattern.items() if k != "$or"}
        return {**rest, "$or": branches} if len(branches) > 1 else {**rest, **branches[0]}
    return pattern


@dataclass(frozen=True)
class RecordFilter:
    """A mapping's FilterCriteria, compiled once; `matches` decides each record."""

    patterns: tuple[dict[str, Any], ...]

    @classmethod
    def from_criteria(cls, criteria: dict[str, Any] | None) -> RecordFilter | None:
        """None when the mapping has no filters (every record is delivered)."""
        filters = (criteria or {}).get("Filters") or []
        patterns = tuple(parse_pattern(str(f.get("Pattern", ""))) for f in filters)
        return cls(patterns) if patterns else None

    def matches(self, record: StreamRecord) -> bool:
        fields: dict[str, Any] = {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.partition_key,
            "sequenceNumber": record.sequence_number,
            "approximateArrivalTimestamp": record.arrival,
        }
        data = _json_payload(record.data)
        if data is _ABSENT:
            patterns: Iterable[dict[str, Any] | None] = (_without_data(p) for p in self.patterns)
        else:
            fields[DATA_FIELD] = data
            patterns = self.patterns
        flat: dict[str, Any] = {}
        _flatten(fields, "", flat)
        matcher = _matcher()
        return any(
            pattern is not None and matcher(None, pattern)._does_event_match(flat, pattern)
            for pattern in patterns
        )


def _json_payload(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _ABSENT


_MATCHER: list[Any] = []


def _matcher() -> Any:
    if not _MATCHER:
        _MATCHER.append(_matcher_class())
    return _MATCHER[0]
