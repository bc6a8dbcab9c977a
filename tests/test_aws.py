"""The client factory: region resolution, loopback credentials, error translation."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from cryptoconsumer.aws import NO_CREDENTIALS, AwsTarget, Clients, is_loopback, translate
from cryptoconsumer.errors import AwsError, CredentialsError, InputError


def test_region_comes_from_the_option_first(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Clients(AwsTarget(region="eu-west-1")).region == "eu-west-1"


def test_aws_region_is_honoured_when_botocore_has_no_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")

    assert Clients(AwsTarget()).region == "ap-south-1"


def test_no_region_at_all_is_invalid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")

    with pytest.raises(InputError, match="no AWS region: pass --region"):
        Clients(AwsTarget())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:4566", True),
        ("http://localhost:5000", True),
        ("http://[::1]:4566", True),
        ("https://sqs.us-east-1.amazonaws.com", False),
        ("http://10.0.0.5:4566", False),
        (None, False),
    ],
)
def test_loopback_detection(url: str | None, expected: bool) -> None:
    assert is_loopback(url) is expected


def test_a_loopback_endpoint_gets_throwaway_credentials_when_none_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    local = Clients(AwsTarget(endpoint_url="http://127.0.0.1:4566"))
    remote = Clients(AwsTarget(endpoint_url="https://example.invalid"))

    assert local.session.get_credentials().access_key == "testing"
    assert remote.session.get_credentials() is None


def test_translate_gives_one_actionable_line() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetRole")
    expired = ClientError({"Error": {"Code": "ExpiredToken", "Message": "old"}}, "GetRole")

    assert str(translate(denied, "reading role r")) == "reading role r: AccessDenied: no"
    assert isinstance(translate(expired, "x"), CredentialsError)
    assert str(translate(NoCredentialsError(), "x")) == NO_CREDENTIALS
    unreachable = translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "x")
    assert isinstance(unreachable, AwsError) and "cannot reach" in str(unreachable)


def test_the_invoke_client_outwaits_any_function_and_never_resends() -> None:
    clients = Clients(AwsTarget(region="us-east-1"))

    config = clients.lambda_invoker.meta.config

    assert config.read_timeout == 910
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert clients.lambda_.meta.config.read_timeout == 70
