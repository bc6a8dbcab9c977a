"""Fixtures for the operations commands: a stack deployed on in-process moto, and the CLI.

The stack is deployed exactly as `up` does it (`stack.plan_up` + `stack.execute`); commands
run through typer's CliRunner against `cryptoconsumer.cli.app`, with fake credentials.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner, Result

from cryptoconsumer import stack
from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.config import StackConfig, StackOptions, build_config
from cryptoconsumer.resources.base import Context

REGION = "us-east-1"
STREAM_NAME = "ticks"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Fake credentials and nothing that could point a command at a real account."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "CRYPTOCONSUMER_")):
            monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty-aws-file"
    empty.touch()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def mocked(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto.awslambda.models import LambdaBackend

    # moto would run the mapped function in Docker on every PutRecord; the tests play the
    # event source mapping themselves (or let the local emulator's poller do it).
    monkeypatch.setattr(LambdaBackend, "send_kinesis_message", lambda self, *a, **k: None)
    with mock_aws():
        yield


@dataclass
class Deployed:
    config: StackConfig
    clients: Clients
    stream_arn: str
    outputs: dict[str, Any]

    @property
    def function_name(self) -> str:
        return self.config.function.name

    @property
    def table_name(self) -> str:
        return self.config.table.name

    @property
    def queue_url(self) -> str:
        return str(self.outputs["queue_url"])

    def client(self, service: str) -> Any:
        return self.clients.client(service)


def deploy(stream_arn: str, clients: Clients, **options: Any) -> Deployed:
    config = build_config(StackOptions(stream_arn=stream_arn, region=REGION, **options))
    ctx = Context(
        clients=clients, config=config, poll_delay=0.01, propagation_seconds=5, settle_seconds=5
    )
    outputs = stack.execute(stack.plan_up(config, clients, ctx=ctx))
    return Deployed(config, clients, stream_arn, outputs)


def create_stream(clients: Clients, name: str = STREAM_NAME, shards: int = 1) -> str:
    kinesis = clients.kinesis
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return str(
        kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    )


@pytest.fixture
def clients(mocked: None) -> Clients:
    return Clients(AwsTarget(region=REGION))


@pytest.fixture
def deployed(clients: Clients) -> Deployed:
    return deploy(create_stream(clients), clients)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `cryptoconsumer ARGS --region us-east-1`; stdout and stderr kept apart.

    Tables are drawn 200 columns wide so that assertions do not depend on wrapping.
    """
    from cryptoconsumer.cli import app, terminal

    monkeypatch.setattr(terminal.out.real, "_width", 200)
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, [*args, "--region", REGION], input=input, catch_exceptions=False)

    return run


def json_of(result: Result) -> Any:
    """The one JSON document on stdout; fails if stdout holds anything else."""
    return json.loads(result.stdout)


def session_with_hooks(**hooks: Callable[..., Any]) -> boto3.Session:
    """A session whose clients call `hooks` (event name -> handler), e.g. to play Invoke."""
    session = boto3.Session(region_name=REGION)
    for event, handler in hooks.items():
        session.events.register(event, handler)
    return session
