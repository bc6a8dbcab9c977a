"""Lambda event filter patterns (FilterCriteria) for a Kinesis mapping, judged before any call.

The grammar is EventBridge's as Lambda documents it: a pattern is a JSON object whose leaves are
arrays of matchers (a value, or one of prefix, suffix, equals-ignore-case, anything-but,
numeric, exists, wildcard, cidr), with `$or` for alternatives. For Kinesis, Lambda filters only
on the record's `data` key (the payload, parsed when it is JSON), so a pattern's top level may
name only `data` (or `$or` of such patterns). Patterns are compared as parsed JSON, never as
text: AWS answers the pattern strings it stored, which need not be spelled as we sent them.

The local emulator matches records with the same grammar (`local/filters.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

DATA_FIELD = "data"
OR = "$or"
OPERATORS = frozenset(
    {
        "prefix",
        "suffix",
        "equals-ignore-case",
        "anything-but",
        "numeric",
        "exists",
        "wildcard",
        "cidr",
    }
)
NUMERIC_OPERATORS = frozenset({"<", "<=", "=", ">=", ">"})
# Lambda's default quota of filters per mapping (it can be raised to 10 by a quota request;
# the API model states no maximum); each pattern's length limit is the model's `Pattern` max.
MAX_FILTERS = 5

# The handler's two payload shapes (lambda_handler/consumer_payloads.py): the producer's flat
# names, and Alpha Vantage's numbered names, bare or under WRAPPER_KEY.
FLAT_CODES = ("from_currency_code", "to_currency_code")
NUMBERED_CODES = ("1. From_Currency Code", "3. To_Currency Code")
WRAPPER_KEY = "Realtime Currency Exchange Rate"


class InvalidFilter(ValueError):
    """A pattern Lambda would refuse (InvalidParameterValueException), and why."""


def max_pattern_chars() -> int:
    from cryptoconsumer.lambda_model import shape_max

    return shape_max("Pattern")


def _check_node(node: Any, path: str) -> None:
    if not isinstance(node, dict):
        raise InvalidFilter(f"{path or 'the pattern'} must be a JSON object")
    if not node:
        raise InvalidFilter(f"{path or 'the pattern'} is empty")
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        if key == OR:
            if not isinstance(value, list) or len(value) < 2:
                raise InvalidFilter(f"{where} must be an array of at least two patterns")
            for index, branch in enumerate(value):
                _check_node(branch, f"{where}[{index}]")
        elif isinstance(value, dict):
            _check_node(value, where)
        elif isinstance(value, list):
            if not value:
                raise InvalidFilter(f"{where}: empty arrays are not allowed")
            for matcher in value:
                _check_matcher(matcher, where)
        else:
            raise InvalidFilter(f"{where} must be an object or an array")


def _check_matcher(matcher: Any, where: str) -> None:
    if matcher is None or isinstance(matcher, str | int | float | bool):
        return
    if not isinstance(matcher, dict) or len(matcher) != 1:
        raise InvalidFilter(f"{where}: a matcher is a value or an object with one operator")
    [(operator, operand)] = matcher.items()
    if operator not in OPERATORS:
        raise InvalidFilter(f"{where}: unknown operator {operator!r}")
    if operator == "exists" and not isinstance(operand, bool):
        raise InvalidFilter(f"{where}: exists takes true or false")
    if operator == "numeric":
        if not isinstance(operand, list) or not operand or len(operand) % 2:
            raise InvalidFilter(f"{where}: numeric takes operator/value pairs")
        for symbol, number in zip(operand[::2], operand[1::2], strict=True):
            if symbol not in NUMERIC_OPERATORS:
                raise InvalidFilter(f"{where}: unknown numeric operator {symbol!r}")
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise InvalidFilter(f"{where}: numeric compares with numbers")
    if operator in {"prefix", "suffix", "wildcard", "cidr"} and not isinstance(
        operand, str | dict | list
    ):
        raise InvalidFilter(f"{where}: {operator} takes a string")
    if operator == "equals-ignore-case" and not isinstance(operand, str):
        raise InvalidFilter(f"{where}: equals-ignore-case takes a string")


def parse_pattern(text: str) -> dict[str, Any]:
    """One filter's pattern, checked as Lambda checks it; InvalidFilter naming the bad part."""
    limit = max_pattern_chars()
    if len(text) > limit:
        raise InvalidFilter(f"a pattern is at most {limit} characters (this one has {len(text)})")
    try:
        pattern = json.loads(text)
    except ValueError as err:
        raise InvalidFilter(f"the pattern is not valid JSON: {err}") from None
    except RecursionError:
        raise InvalidFilter("the pattern is nested too deeply to be JSON") from None
    _check_node(pattern, "")
    return dict(pattern)


def _check_kinesis_top(pattern: dict[str, Any], path: str) -> None:
    for key, value in pattern.items():
        if key == OR:
            for index, branch in enumerate(value):
                _check_kinesis_top(branch, f"{path}{OR}[{index}].")
        elif key != DATA_FIELD:
            raise InvalidFilter(
                f"{path}{key}: a Kinesis mapping filters only on the record's data "
                f'(write the pattern under "data", e.g. {{"data": {{"field": ["value"]}}}})'
            )


def parse_kinesis_pattern(text: str) -> dict[str, Any]:
    """A pattern for a Kinesis mapping: the grammar, and only `data` at its top level."""
    pattern = parse_pattern(text)
    _check_kinesis_top(pattern, "")
    return pattern


def check_filters(texts: Sequence[str], flag: str = "--filter") -> None:
    """Every pattern of a mapping, and how many; InvalidFilter naming the flag and the part."""
    if len(texts) > MAX_FILTERS:
        raise InvalidFilter(
            f"{flag}: at most {MAX_FILTERS} patterns per mapping (Lambda's default quota; "
            f"got {len(texts)}): join alternatives with $or"
        )
    for number, text in enumerate(texts, start=1):
        try:
            parse_kinesis_pattern(text)
        except InvalidFilter as err:
            which = f" #{number}" if len(texts) > 1 else ""
            raise InvalidFilter(f"{flag}{which}: {err}") from None
    if len({canonical(text) for text in texts}) != len(texts):
        raise InvalidFilter(f"{flag}: the same pattern is given twice")


def canonical(text: str) -> str:
    """A pattern's JSON with sorted keys and no spaces: equal patterns, equal text."""
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def same_patterns(first: Iterable[str], second: Iterable[str]) -> bool:
    """Filters are ORed, so their order does not matter; each compared as parsed JSON."""
    return sorted(canonical(t) for t in first) == sorted(canonical(t) for t in second)


def ticker_pattern(pairs: Sequence[tuple[str, str]]) -> str:
    """One pattern delivering exactly the ticks of these (base, quote) pairs.

    A ticker is the from and the to currency code together, so pairs are grouped by quote:
    `BTCUSD,ETHUSD,BTCEUR` is (from BTC or ETH, to USD) or (from BTC, to EUR), each in every
    payload shape the handler reads (flat names; numbered names, bare or wrapped). The handler
    upper-cases codes, so they are matched ignoring case.
    """
    by_quote: dict[str, list[str]] = {}
    for base, quote in pairs:
        by_quote.setdefault(quote, []).append(base)
    branches: list[dict[str, Any]] = []
    for quote, bases in by_quote.items():
        from_values = [{"equals-ignore-case": base} for base in bases]
        to_values = [{"equals-ignore-case": quote}]
        numbered = {NUMBERED_CODES[0]: from_values, NUMBERED_CODES[1]: to_values}
        branches += [
            {FLAT_CODES[0]: from_values, FLAT_CODES[1]: to_values},
            numbered,
            {WRAPPER_KEY: numbered},
        ]
    return json.dumps({DATA_FIELD: {OR: branches}}, separators=(",", ":"))
