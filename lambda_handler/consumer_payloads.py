"""Payload parsing: one user record's bytes -> a validated Tick and its DynamoDB item, or why not.

Pure: no I/O, no boto3. Every way a payload can be wrong is a ``BadRecord`` with a reason; the
caller (consumer_records) also guards against anything this module did not foresee.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, Inexact, Rounded
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT

WRAPPER_KEY = "Realtime Currency Exchange Rate"
# Producer's flat name -> Alpha Vantage's numbered name.
NUMBERED_FIELD_NAMES: dict[str, str] = {
    "from_currency_code": "1. From_Currency Code",
    "from_currency_name": "2. From_Currency Name",
    "to_currency_code": "3. To_Currency Code",
    "to_currency_name": "4. To_Currency Name",
    "exchange_rate": "5. Exchange Rate",
    "last_refreshed": "6. Last Refreshed",
    "time_zone": "7. Time Zone",
    "bid_price": "8. Bid Price",
    "ask_price": "9. Ask Price",
}
# Alpha Vantage answers "-" for a bid or ask it does not have; that means "absent", not "bad".
ABSENT_PRICE_MARKERS = frozenset({"", "-"})

DYNAMODB_ITEM_MAX_BYTES = 400 * 1024
# Attribute names, codes, timestamp and three numbers of at most 38 digits with sign, point and
# exponent: an upper bound on everything in an item but its free texts and sequence number.
BOUNDED_ATTRIBUTES_BYTES = 1024
# DynamoDB numbers: 38 significant digits, magnitude between 1E-130 and 9.99...E+125.
DYNAMODB_MIN_ADJUSTED_EXPONENT = -130
DYNAMODB_MAX_ADJUSTED_EXPONENT = 125

AttributeValue = dict[str, str]
DynamoDBItem = dict[str, AttributeValue]


@dataclass(slots=True)
class Tick:
    """One validated exchange-rate observation, normalised and ready to become an item."""

    from_currency_code: str
    to_currency_code: str
    last_refreshed: str
    exchange_rate: Decimal
    from_currency_name: str | None = None
    to_currency_name: str | None = None
    time_zone: str | None = None
    bid_price: Decimal | None = None
    ask_price: Decimal | None = None

    @property
    def ticker(self) -> str:
        return self.from_currency_code + self.to_currency_code

    @property
    def key(self) -> tuple[str, str]:
        return (self.ticker, self.last_refreshed)


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A payload that can never become an item, and why."""

    reason: str


class Rejected(Exception):
    """Raised inside payload parsing with the reason a record is bad."""


class UnrepresentableNumber:
    """A JSON number that Decimal cannot hold (an exponent beyond any context's limits)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _json_number(text: str) -> Decimal | UnrepresentableNumber:
    try:
        return Decimal(text)
    except ArithmeticError:
        # Decimal("1e99999999999999999999") raises InvalidOperation; keep the document readable
        # and let the field that holds it (if any field we use does) be refused by name.
        return UnrepresentableNumber(text)


# Numbers as Decimals, never floats; parse_constant keeps NaN/Infinity as Decimals so they get
# their own reason. Built once: json.loads with hooks would build a decoder per call.
_DECODER = json.JSONDecoder(
    parse_float=_json_number, parse_int=_json_number, parse_constant=Decimal
)

# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------

# Decimal() alone would also take "1_000" and non-ASCII digits; a tick must be plain digits.
_NUMBER_PATTERN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NON_FINITE_WORDS = frozenset({"nan", "snan", "inf", "infinity"})


def parse_positive_number(value: object, field_name: str) -> Decimal:
    """A JSON number (already a Decimal) or numeric string, finite, > 0 and storable exactly."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if _NUMBER_PATTERN.fullmatch(text):
            try:
                number = Decimal(text)
            except ArithmeticError:
                raise Rejected(f"{field_name} is outside DynamoDB's number range") from None
        elif text.lower().lstrip("+-") in _NON_FINITE_WORDS:
            raise Rejected(f"{field_name} is not finite")
        else:
            raise Rejected(f"{field_name} is not numeric")
    elif isinstance(value, UnrepresentableNumber):
        raise Rejected(f"{field_name} is outside DynamoDB's number range")
    else:
        # bool is deliberately refused here too: True is not an exchange rate.
        raise Rejected(f"{field_name} is not numeric")
    if not number.is_finite():
        raise Rejected(f"{field_name} is not finite")
    if number <= 0:
        raise Rejected(f"{field_name} must be greater than zero")
    if not (DYNAMODB_MIN_ADJUSTED_EXPONENT <= number.adjusted() <= DYNAMODB_MAX_ADJUSTED_EXPONENT):
        raise Rejected(f"{field_name} is outside DynamoDB's number range")
    try:
        # The context boto3's TypeSerializer uses: it refuses to round, and so do we.
        DYNAMODB_CONTEXT.create_decimal(number)
    except (Inexact, Rounded):
        raise Rejected(f"{field_name} has more than 38 significant digits") from None
    except ArithmeticError:
        raise Rejected(f"{field_name} is outside DynamoDB's number range") from None
    return number


# --------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------

_TIMESTAMP_PATTERN = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[T ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?"
    r"\s*(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII | re.IGNORECASE,
)


def normalise_timestamp(text: str) -> tuple[str, bool]:
    """``YYYY-MM-DD HH:MM:SS`` from a space- or ``T``-separated ISO 8601 time.

    Fractions of a second are dropped (truncated). An explicit offset (``Z``, ``+05:30``,
    ``-0800``, ``+01``) is converted to UTC; the boolean says whether that happened.
    Raises ValueError when the text is not such a time.
    """
    text = text.strip()
    match = _TIMESTAMP_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError("not an ISO 8601 date and time")
    moment = datetime(
        int(match["year"]),
        int(match["month"]),
        int(match["day"]),
        int(match["hour"]),
        int(match["minute"]),
        int(match["second"] or 0),
    )
    offset_text = match["offset"]
    if offset_text is None:
        # 19 characters with a space at 10 is already the stored form (datetime() has checked
        # the calendar): no need to format it again.
        if len(text) == 19 and text[10] == " ":
            return text, False
        return _format_naive(moment), False
    if offset_text.upper() == "Z":
        offset = timedelta(0)
    else:
        digits = offset_text[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"offset out of range: {offset_text!r}")
        offset = timedelta(hours=hours, minutes=minutes)
        if offset_text[0] == "-":
            offset = -offset
    try:
        utc_moment = moment.replace(tzinfo=timezone(offset)).astimezone(timezone.utc)
    except OverflowError as overflow:
        raise ValueError("out of range once converted to UTC") from overflow
    return _format_naive(utc_moment), True


def _format_naive(moment: datetime) -> str:
    # strftime would not zero-pad years below 1000 on every platform.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


# --------------------------------------------------------------------------------------------
# Payloads
# --------------------------------------------------------------------------------------------

_CURRENCY_CODE_PATTERN = re.compile(r"[A-Za-z0-9]{1,10}")


def parse_payload(raw: bytes) -> Tick | BadRecord:
    """One user record's bytes -> a Tick, or the reason it can never be one."""
    parsed = parse_item(raw, None)
    return parsed if isinstance(parsed, BadRecord) else parsed[0]


def parse_item(raw: bytes, sequence_number: str | None) -> tuple[Tick, DynamoDBItem] | BadRecord:
    """One user record's bytes -> its Tick and DynamoDB item, or the reason it has none."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return BadRecord("payload is not valid UTF-8")
    try:
        document = _DECODER.decode(text.removeprefix("\ufeff"))
    except (ValueError, RecursionError):
        return BadRecord("payload is not valid JSON")
    if not isinstance(document, dict):
        return BadRecord("payload is not a JSON object")
    if WRAPPER_KEY in document:
        document = document[WRAPPER_KEY]
        if not isinstance(document, dict):
            return BadRecord(f"{WRAPPER_KEY!r} is not a JSON object")
    try:
        tick = _tick_from_fields(document)
        _check_item_size(tick, sequence_number)
        item = item_attributes(tick, sequence_number)
    except Rejected as rejection:
        return BadRecord(str(rejection))
    return tick, item


def _field(fields: Mapping[str, Any], name: str) -> Any:
    """A field by its flat name, falling back to Alpha Vantage's numbered name."""
    if name in fields:
        return fields[name]
    return fields.get(NUMBERED_FIELD_NAMES[name])


def _currency_code(fields: Mapping[str, Any], name: str) -> str:
    value = _field(fields, name)
    if value is None:
        raise Rejected(f"missing {name}")
    if not isinstance(value, str) or not _CURRENCY_CODE_PATTERN.fullmatch(value.strip()):
        raise Rejected(f"{name} is not 1-10 letters or digits")
    return value.strip().upper()


def _optional_text(fields: Mapping[str, Any], name: str) -> str | None:
    value = _field(fields, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Rejected(f"{name} is not a string")
    if not value.isascii():
        _require_encodable(value, name)
    return value.strip() or None


def _require_encodable(text: str, name: str) -> None:
    # json.loads turns an escape such as "\ud800" into a lone surrogate, which no UTF-8 encoder
    # (and so no DynamoDB request) accepts.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Rejected(f"{name} is not valid Unicode text (it holds a lone surrogate)") from None


def _optional_price(fields: Mapping[str, Any], name: str) -> Decimal | None:
    value = _field(fields, name)
    if value is None or (isinstance(value, str) and value.strip() in ABSENT_PRICE_MARKERS):
        return None
    return parse_positive_number(value, name)


def _last_refreshed(fields: Mapping[str, Any]) -> tuple[str, bool]:
    value = _field(fields, "last_refreshed")
    if value is None:
        raise Rejected("missing last_refreshed")
    if not isinstance(value, str):
        raise Rejected("last_refreshed is not a string")
    try:
        return normalise_timestamp(value)
    except ValueError:
        raise Rejected("last_refreshed is not a parseable date and time") from None


def _tick_from_fields(fields: Mapping[str, Any]) -> Tick:
    from_currency_code = _currency_code(fields, "from_currency_code")
    to_currency_code = _currency_code(fields, "to_currency_code")
    exchange_rate_value = _field(fields, "exchange_rate")
    if exchange_rate_value is None:
        raise Rejected("missing exchange_rate")
    exchange_rate = parse_positive_number(exchange_rate_value, "exchange_rate")
    last_refreshed, converted_to_utc = _last_refreshed(fields)
    time_zone = _optional_text(fields, "time_zone")
    return Tick(
        from_currency_code=from_currency_code,
        to_currency_code=to_currency_code,
        last_refreshed=last_refreshed,
        exchange_rate=exchange_rate,
        from_currency_name=_optional_text(fields, "from_currency_name"),
        to_currency_name=_optional_text(fields, "to_currency_name"),
        # time_zone describes last_refreshed, which is now in UTC.
        time_zone="UTC" if converted_to_utc else time_zone,
        bid_price=_optional_price(fields, "bid_price"),
        ask_price=_optional_price(fields, "ask_price"),
    )


# --------------------------------------------------------------------------------------------
# The item
# --------------------------------------------------------------------------------------------


def item_attributes(tick: Tick, sequence_number: str | None) -> DynamoDBItem:
    """The item in DynamoDB's wire form; numbers with exactly the digits sent, never floats.

    str() of a number parse_positive_number accepted is what boto3's TypeSerializer would send:
    DYNAMODB_CONTEXT.create_decimal() of it is exact, so it changes neither digits nor exponent.
    """
    item: DynamoDBItem = {
        "ticker": {"S": tick.ticker},
        "last_refreshed": {"S": tick.last_refreshed},
        "from_currency_code": {"S": tick.from_currency_code},
        "to_currency_code": {"S": tick.to_currency_code},
        "exchange_rate": {"N": str(tick.exchange_rate)},
    }
    if tick.from_currency_name is not None:
        item["from_currency_name"] = {"S": tick.from_currency_name}
    if tick.to_currency_name is not None:
        item["to_currency_name"] = {"S": tick.to_currency_name}
    if tick.time_zone is not None:
        item["time_zone"] = {"S": tick.time_zone}
    if tick.bid_price is not None:
        item["bid_price"] = {"N": str(tick.bid_price)}
    if tick.ask_price is not None:
        item["ask_price"] = {"N": str(tick.ask_price)}
    if sequence_number is not None:
        # ~56 digits, beyond DynamoDB's 38: stored as a string.
        item["sequence_number"] = {"S": sequence_number}
    return item


def _check_item_size(tick: Tick, sequence_number: str | None) -> None:
    """An oversized item would make DynamoDB reject its whole 25-item request.

    Every attribute but the names and the time zone is short ASCII by construction (codes,
    timestamp and numbers passed their patterns; consumer_records accepts only digit sequence
    numbers), so only those three texts can make an item large.
    """
    size = BOUNDED_ATTRIBUTES_BYTES + len(sequence_number or "")
    for text in (tick.from_currency_name, tick.to_currency_name, tick.time_zone):
        if text is not None:
            size += len(text) if text.isascii() else len(text.encode("utf-8"))
    if size > DYNAMODB_ITEM_MAX_BYTES:
        raise Rejected("item would exceed DynamoDB's 400 KB item size limit")
