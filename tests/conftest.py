"""Fixtures shared by every test: a fake AWS environment and a logging moto server.

Each pytest-xdist worker is its own process with its own server on a free loopback port and
its own moto state, so no name is shared between workers; within a worker, tests run one at a
time and each starts from an empty moto (`moto` resets it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.faults import bucket_tags_at_create
from tests.harness import api_calls, run
from tests.moto_server import MotoServer

# Real S3 tags a bucket in CreateBucket itself; the moto server shares this process.
bucket_tags_at_create()

# CliRunner fixtures (tests/harness.py), offered to every test that asks for them.
__all__ = ["api_calls", "run"]

REGION = "us-east-1"
ACCOUNT = "123456789012"

# Variables that could point a test at a real account or change what a command does.
LEAKY_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fake credentials, region us-east-1, no profile, no config files, no endpoint override."""
    import os

    empty = tmp_path_factory.getbasetemp() / "empty-aws-file"
    empty.touch()
    for name in LEAKY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith(("CRYPTOCONSUMER_", "AWS_ENDPOINT_URL_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One server per worker process, on 127.0.0.1 and a port the OS picked."""
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server: MotoServer) -> MotoServer:
    """The worker's server with an empty moto state and an empty request log."""
    moto_server.reset()
    return moto_server


@pytest.fixture
def aws(moto: MotoServer) -> Callable[[str], Any]:
    """boto3 clients for the test itself, pointed at the server (reads and setup only)."""
    import boto3

    session = boto3.Session(region_name=REGION)
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            made[service] = session.client(service, endpoint_url=moto.url, region_name=REGION)
        return made[service]

    return client


_stream_numbers = itertools.count(1)


@pytest.fixture
def make_stream(moto: MotoServer, aws: Callable[[str], Any]) -> Callable[..., str]:
    """Create a Kinesis stream on the server and return its ARN; names never repeat."""

    def make(name: str | None = None, shards: int = 1) -> str:
        kinesis = aws("kinesis")
        name = name or f"ticks-{next(_stream_numbers)}"
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        summary = kinesis.describe_stream_summary(StreamName=name)
        moto.clear_log()
        return str(summary["StreamDescriptionSummary"]["StreamARN"])

    return make


@pytest.fixture
def stream_arn(make_stream: Callable[..., str]) -> str:
    return make_stream()
