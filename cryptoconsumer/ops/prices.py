"""What the table holds: the newest tick per ticker (`latest`) and one ticker's rows over a
window (`history`). Numbers stay Decimal from DynamoDB to the screen."""

from __future__ import annotations

import concurrent.futures
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from cryptoconsumer.aws import Clients, translated
from cryptoconsumer.errors import AwsError, InputError

DEFAULT_TICKERS = ("BTCUSD", "ETHUSD", "DOGEUSD")
# The handler's sort key format; compared as strings, so the query bound must match it exactly.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Tickers are two 1-10 character currency codes (see the handler's _CURRENCY_CODE_PATTERN).
TICKER = re.compile(r"[A-Z0-9]{2,20}")


@dataclass(frozen=True)
class Tick:
    """One item of the table, as stored."""

    ticker: str
    last_refreshed: str
    exchange_rate: Decimal
    bid_price: Decimal | None = None
    ask_price: Decimal | None = None
    from_currency_code: str | None = None
    to_currency_code: str | None = None
    from_currency_name: str | None = None
    to_currency_name: str | None = None
    time_zone: str | None = None
    sequence_number: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Tick:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        values = {name: deserializer.deserialize(value) for name, value in item.items()}
        known = {name: values.get(name) for name in cls.__dataclass_fields__}
        return cls(**known)

    def as_json(self) -> dict[str, str | None]:
        """Every field as a string (or null): JSON numbers would lose Decimal digits."""
        return {
            name: None if getattr(self, name) is None else str(getattr(self, name))
            for name in self.__dataclass_fields__
        }


def check_ticker(text: str) -> str:
    ticker = text.strip().upper()
    # ASCII first: "ß".upper() is "SS", a ticker nobody asked for.
    if not text.strip().isascii() or not TICKER.fullmatch(ticker):
        raise InputError(f"--ticker {text!r} is not a ticker (letters and digits, e.g. BTCUSD)")
    return ticker


def no_table(table: str) -> AwsError:
    return AwsError(
        f"table {table} does not exist: is the stack deployed? (see `cryptoconsumer status`)",
        "ResourceNotFoundException",
    )


def _query(clients: Clients, table: str, doing: str, **params: Any) -> list[dict[str, Any]]:
    client = clients.dynamodb
    with translated(doing):
        try:
            return [
                item
                for page in client.get_paginator("query").paginate(TableName=table, **params)
                for item in page.get("Items", [])
            ]
        except client.exceptions.ResourceNotFoundException:
            raise no_table(table) from None


def newest(clients: Clients, table: str, ticker: str) -> Tick | None:
    client = clients.dynamodb
    with translated(f"reading the newest {ticker} from table {table}"):
        try:
            answer = client.query(
                TableName=table,
                KeyConditionExpression="ticker = :ticker",
                ExpressionAttributeValues={":ticker": {"S": ticker}},
                ScanIndexForward=False,
                Limit=1,
            )
        except client.exceptions.ResourceNotFoundException:
            raise no_table(table) from None
    items = answer.get("Items", [])
    return Tick.from_item(items[0]) if items else None


def latest(clients: Clients, table: str, tickers: tuple[str, ...]) -> list[tuple[str, Tick | None]]:
    """The newest item of each ticker, in the order asked; one Query each, all at once."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(tickers))) as pool:
        found = list(pool.map(lambda ticker: newest(clients, table, ticker), tickers))
    return list(zip(tickers, found, strict=True))


def since_bound(since_seconds: int, now: datetime | None = None) -> str:
    moment = (now or datetime.now(timezone.utc)) - timedelta(seconds=since_seconds)
    return moment.astimezone(timezone.utc).strftime(TIME_FORMAT)


def history(clients: Clients, table: str, ticker: str, since: str) -> list[Tick]:
    """Every row of `ticker` with last_refreshed >= `since`, oldest first (paginated Query)."""
    items = _query(
        clients,
        table,
        f"reading {ticker} history from table {table}",
        KeyConditionExpression="ticker = :ticker AND last_refreshed >= :since",
        ExpressionAttributeValues={":ticker": {"S": ticker}, ":since": {"S": since}},
        ScanIndexForward=True,
    )
    return [Tick.from_item(item) for item in items]
