"""The resource tests' world: moto made eventually consistent by tests/faults.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cryptoconsumer import stack
from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.config import StackConfig, StackOptions, build_config
from cryptoconsumer.progress import RecordingReporter
from cryptoconsumer.resources.base import Context
from tests.faults import AwsLike, Timings, aws_like

REGION = "us-east-1"


@dataclass
class World:
    session: Any
    faults: AwsLike
    clients: Clients
    stream_arn: str
    reporter: RecordingReporter

    def config(self, **options: Any) -> StackConfig:
        return build_config(StackOptions(stream_arn=self.stream_arn, region=REGION, **options))

    def context(self, config: StackConfig) -> Context:
        return Context(
            clients=self.clients,
            config=config,
            reporter=self.reporter,
            poll_delay=0.02,
            propagation_seconds=10,
            settle_seconds=10,
        )

    def up(self, replace_mapping: bool = False, **options: Any) -> dict[str, Any]:
        config = self.config(**options)
        prepared = stack.plan_up(
            config, self.clients, replace_mapping=replace_mapping, ctx=self.context(config)
        )
        return stack.execute(prepared)

    def destroy(self, delete_table: bool = False) -> None:
        config = self.config()
        prepared = stack.plan_destroy(
            config, self.clients, delete_table=delete_table, ctx=self.context(config)
        )
        stack.execute(prepared)

    def plain(self, service: str) -> Any:
        """A client without the hooks, to look at the result as it is."""
        return boto3.client(service, region_name=REGION)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name=REGION)
        kinesis.create_stream(StreamName="ticks", ShardCount=1)
        arn = kinesis.describe_stream_summary(StreamName="ticks")["StreamDescriptionSummary"][
            "StreamARN"
        ]
        session = boto3.Session(region_name=REGION)
        faults = aws_like(session, timings=Timings())
        clients = Clients(AwsTarget(region=REGION), session=session)
        yield World(session, faults, clients, arn, RecordingReporter())
