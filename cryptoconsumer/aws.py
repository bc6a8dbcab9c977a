"""The one place that makes boto3 sessions and clients and translates botocore errors.

Every command builds one `Clients` from an `AwsTarget`; tests swap the endpoint (a moto
server) or hand in a session whose event hooks inject real-AWS behaviour, never the code.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from cryptoconsumer.errors import AwsError, CredentialsError, CryptoConsumerError, InputError

if TYPE_CHECKING:
    import boto3

T = TypeVar("T")

# Throttling and transient faults are botocore's job: standard mode backs off with jitter on
# ThrottlingException, Throttling, TooManyRequestsException, LimitExceededException and 5xx.
RETRY_CONFIG = {"mode": "standard", "max_attempts": 10}

NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
    "(or pass --profile)"
)
NO_REGION = "no AWS region: pass --region or set AWS_DEFAULT_REGION (or AWS_REGION)"


@dataclass(frozen=True)
class AwsTarget:
    """Where the calls go: what the common options --region/--profile/--endpoint-url say."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None


def check_endpoint_url(url: str, source: str = "--endpoint-url") -> str:
    """An endpoint is http(s)://host[:port][/path]; anything else would only fail later."""
    from urllib.parse import urlsplit

    problem = ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        problem = str(err)
    else:
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
            problem = "it contains spaces or control characters"
        elif parts.scheme not in ("http", "https"):
            problem = "it must start with http:// or https://"
        elif not parts.hostname:
            problem = "it has no host"
        elif port == 0:
            problem = "its port must be 1-65535"
    if problem:
        raise InputError(f"{source} {url!r} is not a usable endpoint URL: {problem}")
    return url


def check_target(target: AwsTarget) -> None:
    """What can be judged of the target before any call: the endpoint's shape, the region's."""
    from cryptoconsumer.regions import check_region

    endpoint = target.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if target.endpoint_url:
        check_endpoint_url(target.endpoint_url)
    elif endpoint:
        check_endpoint_url(endpoint, "AWS_ENDPOINT_URL")
    if target.region:
        check_region(target.region, custom_endpoint=bool(endpoint))


def error_code(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def error_message(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")) or str(err)


def translate(err: Exception, doing: str) -> CryptoConsumerError:
    """Turn a botocore exception into the tool's own, with a message a person can act on."""
    from botocore import exceptions as bce

    if isinstance(err, CryptoConsumerError):
        return err
    if isinstance(err, bce.NoCredentialsError | bce.PartialCredentialsError):
        return CredentialsError(NO_CREDENTIALS)
    if isinstance(err, bce.ProfileNotFound):
        return InputError(f"AWS profile not found: {err.kwargs.get('profile', '')}")
    if isinstance(err, bce.NoRegionError):
        return InputError(NO_REGION)
    if isinstance(err, bce.EndpointConnectionError | bce.ConnectionClosedError):
        return AwsError(f"{doing}: cannot reach AWS endpoint ({err})", "EndpointConnectionError")
    if isinstance(err, bce.ClientError):
        code = error_code(err)
        if code in {
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidSignatureException",
            "SignatureDoesNotMatch",
        }:
            return CredentialsError(f"{doing}: AWS rejected the credentials ({code})", code)
        return AwsError(f"{doing}: {code}: {error_message(err)}", code)
    if isinstance(err, bce.WaiterError):
        return AwsError(f"{doing}: {err}", "WaiterError")
    if isinstance(err, bce.BotoCoreError):
        return AwsError(f"{doing}: {err}", type(err).__name__)
    raise err


@contextlib.contextmanager
def translated(doing: str) -> Iterator[None]:
    """Re-raise any botocore error inside the block as the tool's own exception."""
    from botocore import exceptions as bce

    try:
        yield
    except (bce.BotoCoreError, bce.ClientError) as err:
        raise translate(err, doing) from err


def call(doing: str, fn: Callable[..., T], **params: Any) -> T:
    with translated(doing):
        return fn(**params)


def is_loopback(endpoint_url: str | None) -> bool:
    if not endpoint_url:
        return False
    from urllib.parse import urlparse

    host = urlparse(endpoint_url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _botocore_session(
    profile: str | None, region: str | None, credentials: tuple[str, str] | None = None
) -> Any:
    import botocore.session
    from botocore import exceptions as bce

    from cryptoconsumer.regions import data_loader

    session = botocore.session.Session(profile=profile)
    if profile is not None and profile not in session.available_profiles:
        raise bce.ProfileNotFound(profile=profile)
    # The loader botocore would make (create_loader(data_path)), shared with every session.
    session.register_component("data_loader", data_loader(session.get_config_variable("data_path")))
    if region:
        session.set_config_variable("region", region)
    if credentials:
        session.set_credentials(*credentials)
    return session


def _region_of(session: Any) -> str | None:
    """The region a boto3 or botocore session is configured for."""
    if hasattr(session, "region_name"):
        return session.region_name  # type: ignore[no-any-return]
    return session.get_config_variable("region")  # type: ignore[no-any-return]


def _has_credentials(session: Any) -> bool:
    from botocore import exceptions as bce

    try:
        return session.get_credentials() is not None
    except bce.BotoCoreError:
        return False


class Clients:
    """boto3 clients for one target, created once and shared across threads.

    boto3 clients are thread-safe but sessions are not, so clients are built under a lock.
    """

    SERVICES = (
        "dynamodb",
        "sqs",
        "logs",
        "iam",
        "lambda",
        "kinesis",
        "sts",
        "kms",
        "cloudwatch",
        "ssm",
        "cloudformation",
        # alarms and notifications
        "sns",
    )

    def __init__(self, target: AwsTarget, session: boto3.Session | None = None) -> None:
        from botocore import exceptions as bce
        from botocore.config import Config

        # A botocore session unless one is handed in (tests hook a boto3 one): boto3 adds
        # nothing the CLI uses and ~50 ms of imports to every command.
        try:
            self.session: Any = session or _botocore_session(target.profile, target.region)
        except bce.ProfileNotFound as err:
            raise translate(err, "loading the AWS profile") from err
        # botocore reads AWS_DEFAULT_REGION only; AWS_REGION is what Lambda and most SDKs set.
        region = target.region or _region_of(self.session) or os.environ.get("AWS_REGION")
        if not region:
            raise InputError(NO_REGION)
        self.endpoint_url = target.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        if self.endpoint_url:
            check_endpoint_url(self.endpoint_url)
        if session is None:
            from cryptoconsumer.regions import check_region

            # A region from the profile or AWS_DEFAULT_REGION is judged like --region.
            source = "--region" if target.region else "the configured region"
            check_region(region, custom_endpoint=bool(self.endpoint_url), option=source)
        self.region: str = region
        if (
            session is None
            and is_loopback(self.endpoint_url)
            and not _has_credentials(self.session)
        ):
            # A local emulator accepts any key; sparing people a fake `aws configure` for it.
            self.session = _botocore_session(None, region, ("testing", "testing"))
        self._config = Config(retries=dict(RETRY_CONFIG), connect_timeout=10, read_timeout=70)
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    def client(self, service: str, key: str | None = None, config: Any = None) -> Any:
        key = key or service
        with self._lock:
            if key not in self._clients:
                kwargs: dict[str, Any] = {
                    "region_name": self.region,
                    "config": self._config.merge(config) if config else self._config,
                }
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                make = getattr(self.session, "client", None) or self.session.create_client
                self._clients[key] = make(service, **kwargs)
            return self._clients[key]

    @property
    def lambda_invoker(self) -> Any:
        """A Lambda client for synchronous Invoke: it waits as long as a function may run
        (900 s) and never re-sends an invocation that may already be running."""
        from botocore.config import Config

        return self.client(
            "lambda",
            key="lambda-invoke",
            config=Config(read_timeout=910, retries={"mode": "standard", "total_max_attempts": 1}),
        )

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def logs(self) -> Any:
        return self.client("logs")

    @property
    def iam(self) -> Any:
        return self.client("iam")

    @property
    def lambda_(self) -> Any:
        return self.client("lambda")

    @property
    def kinesis(self) -> Any:
        return self.client("kinesis")

    @property
    def sts(self) -> Any:
        return self.client("sts")

    @property
    def kms(self) -> Any:
        return self.client("kms")

    @property
    def cloudwatch(self) -> Any:
        return self.client("cloudwatch")

    @property
    def ssm(self) -> Any:
        return self.client("ssm")

    @property
    def cloudformation(self) -> Any:
        return self.client("cloudformation")

    @property
    def sns(self) -> Any:
        return self.client("sns")

    def account_id(self) -> str:
        """The caller's account; also proves credentials work before anything changes."""
        with self._lock:
            cached = self._clients.get("__account__")
        if cached:
            return str(cached)
        identity = call("checking AWS credentials", self.sts.get_caller_identity)
        with self._lock:
            self._clients["__account__"] = identity["Account"]
        return str(identity["Account"])
