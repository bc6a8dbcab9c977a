"""`latest` and `history`: the table read back with every digit, and the sparkline."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryptoconsumer.aws import Clients
from cryptoconsumer.cli import ops_cmds
from cryptoconsumer.ops.sparkline import BLOCKS, sparkline, summarise

from .conftest import Deployed, json_of, session_with_hooks

LONG_RATE = "37021.123456789012345678901234567890"  # 38 significant digits


def put(deployed: Deployed, ticker: str, when: str, rate: str, **extra: str) -> None:
    item = {
        "ticker": {"S": ticker},
        "last_refreshed": {"S": when},
        "exchange_rate": {"N": rate},
        "from_currency_code": {"S": ticker[:-3]},
        "to_currency_code": {"S": ticker[-3:]},
    }
    item.update({name: {"N": value} for name, value in extra.items()})
    deployed.client("dynamodb").put_item(TableName=deployed.table_name, Item=item)


def ago(minutes: float) -> str:
    moment = datetime.now(timezone.utc) - timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def test_latest_reads_the_newest_item_of_each_default_ticker(deployed: Deployed, cli: Any) -> None:
    put(deployed, "BTCUSD", "2026-11-24 14:05:01", "1")
    put(
        deployed, "BTCUSD", "2026-11-24 14:05:02", LONG_RATE, bid_price="37021.1", ask_price="37022"
    )
    put(deployed, "ETHUSD", "2026-11-24 09:00:00", "2001.5")

    result = cli("latest", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["table"] == deployed.table_name
    assert document["missing"] == ["DOGEUSD"]
    btc, eth = document["items"]
    assert btc == {
        "ticker": "BTCUSD",
        "last_refreshed": "2026-11-24 14:05:02",
        "exchange_rate": LONG_RATE,
        "bid_price": "37021.1",
        "ask_price": "37022",
        "from_currency_code": "BTC",
        "to_currency_code": "USD",
        "from_currency_name": None,
        "to_currency_name": None,
        "time_zone": None,
        "sequence_number": None,
    }
    assert (eth["ticker"], eth["exchange_rate"]) == ("ETHUSD", "2001.5")


def test_latest_queries_newest_first_one_item_per_ticker(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries: list[dict[str, Any]] = []
    session = session_with_hooks(
        **{"provide-client-params.dynamodb.Query": lambda params, **_: queries.append(params)}
    )
    monkeypatch.setattr(ops_cmds, "_clients", lambda target: Clients(target, session=session))

    result = cli("latest", "--ticker", "btcusd", "--ticker", "BTCUSD", "--ticker", "SOLEUR")

    assert result.exit_code == 0
    assert sorted(q["ExpressionAttributeValues"][":ticker"]["S"] for q in queries) == [
        "BTCUSD",
        "SOLEUR",
    ]
    assert all(q["ScanIndexForward"] is False and q["Limit"] == 1 for q in queries)


def test_latest_text_shows_missing_tickers(deployed: Deployed, cli: Any) -> None:
    put(deployed, "BTCUSD", "2026-11-24 14:05:02", LONG_RATE)

    result = cli("latest")

    assert result.exit_code == 0
    assert LONG_RATE in result.stdout
    assert "ETHUSD" in result.stdout and "no items" in result.stdout


@pytest.mark.parametrize(
    "command", [["latest", "--ticker", "BTC-USD"], ["history", "--ticker", "x"]]
)
def test_a_malformed_ticker_exits_2(aws_env: None, cli: Any, command: list[str]) -> None:
    result = cli(*command)

    assert result.exit_code == 2
    assert "is not a ticker" in result.stderr


def test_a_missing_table_is_one_clear_line(deployed: Deployed, cli: Any) -> None:
    result = cli("latest", "--stack", "nosuch")

    assert result.exit_code == 1
    assert "table nosuch_intraday does not exist" in result.stderr


def test_history_returns_every_row_in_the_window_across_pages(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for minutes, rate in (
        (90, "1"),
        (50, "10.5"),
        (40, "11"),
        (30, "10"),
        (20, "12.25"),
        (1, LONG_RATE),
    ):
        put(deployed, "BTCUSD", ago(minutes), rate)
    put(deployed, "ETHUSD", ago(5), "3")

    def small_pages(params: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**params, "Limit": 2}

    session = session_with_hooks(**{"provide-client-params.dynamodb.Query": small_pages})
    monkeypatch.setattr(ops_cmds, "_clients", lambda target: Clients(target, session=session))

    result = cli("history", "--ticker", "BTCUSD", "--since", "1h", "--output", "json")

    assert result.exit_code == 0, result.stderr
    document = json_of(result)
    assert document["ticker"] == "BTCUSD"
    assert document["count"] == 5
    assert [row["exchange_rate"] for row in document["rows"]] == [
        "10.5",
        "11",
        "10",
        "12.25",
        LONG_RATE,
    ]
    assert document["since"] <= document["rows"][0]["last_refreshed"]


def test_history_text_draws_a_sparkline_with_min_max_last(deployed: Deployed, cli: Any) -> None:
    for minutes, rate in ((40, "10"), (30, "20"), (20, "15"), (10, "30")):
        put(deployed, "ETHUSD", ago(minutes), rate)

    result = cli("history", "--ticker", "ETHUSD")

    assert result.exit_code == 0, result.stderr
    assert "ETHUSD ▁▅▃█" in result.stdout
    assert "min 10  max 30  last 30  (+200.00% since" in result.stdout


def test_history_without_rows_says_so(deployed: Deployed, cli: Any) -> None:
    result = cli("history", "--ticker", "DOGEUSD", "--since", "5m")

    assert result.exit_code == 0
    assert "DOGEUSD: no rows since" in result.stdout


def test_sparkline_maps_lowest_to_the_bottom_block_and_highest_to_the_top() -> None:
    assert sparkline([Decimal(1), Decimal(2), Decimal(3)]) == "▁▅█"
    assert sparkline([Decimal("5.5")] * 3) == "▄▄▄"
    assert sparkline([]) == ""


def test_sparkline_keeps_the_closing_value_of_each_group() -> None:
    values = [Decimal(n) for n in (1, 9, 2, 8)]

    # Groups (1, 9) and (2, 8) close at 9 and 8.
    assert sparkline(values, width=2) == "█▁"


@given(
    st.lists(
        st.decimals(min_value=-(10**6), max_value=10**6, allow_nan=False, places=6),
        min_size=1,
        max_size=300,
    ),
    st.integers(1, 80),
)
def test_sparkline_width_and_extremes(values: list[Decimal], width: int) -> None:
    line = sparkline(values, width)

    assert len(line) == min(width, len(values))
    assert set(line) <= set(BLOCKS)
    if len(values) <= width and min(values) != max(values):
        assert line[values.index(min(values))] == BLOCKS[0]
        assert line[values.index(max(values))] == BLOCKS[-1]


def test_summary_keeps_decimal_digits() -> None:
    summary = summarise([Decimal("0.1"), Decimal("0.30000000000000000001")])

    assert summary is not None
    assert summary.high == Decimal("0.30000000000000000001")
    assert summary.change_percent == Decimal("200.00")
    assert summarise([]) is None
