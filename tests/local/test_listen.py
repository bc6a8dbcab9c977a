"""Where `local start` may listen, and the other values `local start` and `demo` refuse."""

from __future__ import annotations

import pytest

from cryptoconsumer.errors import InputError
from cryptoconsumer.local.demo import DemoOptions
from cryptoconsumer.local.listen import check_listen_address, check_shards, check_stream


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost"])
def test_loopback_addresses_are_accepted(host: str) -> None:
    assert check_listen_address(host, 4566, allow_remote=False).remote is False


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "8.8.8.8", "example.com"]
)
def test_other_addresses_need_allow_remote(host: str) -> None:
    with pytest.raises(InputError, match=r"not a loopback address.*--allow-remote"):
        check_listen_address(host, 4566, allow_remote=False)

    assert check_listen_address(host, 4566, allow_remote=True).remote is True


@pytest.mark.parametrize(
    ("host", "port", "message"),
    [
        ("", 4566, "must not be empty"),
        ("   ", 4566, "must not be empty"),
        (" 127.0.0.1", 4566, "spaces or control characters"),
        ("127.0.0.1\n", 4566, "spaces or control characters"),
        ("\x1b[2J", 4566, "spaces or control characters"),
        ("127.0.0.1", 65536, "between 0 and 65535"),
        ("127.0.0.1", 99999, "between 0 and 65535"),
        ("127.0.0.1", -1, "between 0 and 65535"),
    ],
)
def test_bad_hosts_and_ports_are_refused(host: str, port: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_listen_address(host, port, allow_remote=True)


@pytest.mark.parametrize("port", [0, 1, 4566, 65535])
def test_every_port_in_range_is_accepted(port: int) -> None:
    assert check_listen_address("127.0.0.1", port, allow_remote=False).port == port


@pytest.mark.parametrize("shards", [0, -1, 501, 10**9])
def test_shards_outside_kinesis_range_are_refused(shards: int) -> None:
    with pytest.raises(InputError, match="between 1 and 500"):
        check_shards(shards)


@pytest.mark.parametrize(
    ("name", "region"),
    [("", "us-east-1"), ("a b", "us-east-1"), ("x" * 129, "us-east-1"), ("ok", "us-east-1\n")],
)
def test_stream_names_and_regions_are_checked(name: str, region: str) -> None:
    with pytest.raises(InputError):
        check_stream(name, region)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (DemoOptions(records=0), "--records"),
        (DemoOptions(records=-5), "--records"),
        (DemoOptions(records=10**7), "--records"),
        (DemoOptions(bad_records=-1), "--bad-records"),
        (DemoOptions(bad_records=10**6), "--bad-records"),
        (DemoOptions(timeout=float("nan")), "--timeout"),
        (DemoOptions(timeout=float("inf")), "--timeout"),
        (DemoOptions(timeout=0), "--timeout"),
        (DemoOptions(timeout=-1), "--timeout"),
        (DemoOptions(timeout=10**6), "--timeout"),
    ],
)
def test_demo_options_out_of_range_are_refused(options: DemoOptions, message: str) -> None:
    with pytest.raises(InputError, match=message):
        options.validate()
