"""The adoption's worlds: the seed CDK stack deployed by moto's CloudFormation, in-process with
tests/faults.py making it behave like real AWS, or on the worker's moto server for the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cryptoconsumer import adopt
from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.config import GIVEN, Layer, StackOptions
from cryptoconsumer.progress import RecordingReporter
from cryptoconsumer.resources.base import Context
from tests.adopt import seed
from tests.faults import AwsLike, Timings, aws_like
from tests.local.conftest import harness

# The local emulator with its poller, for the end-to-end test.
__all__ = ["harness"]

REGION = "us-east-1"


@dataclass
class AdoptWorld:
    session: Any
    faults: AwsLike
    clients: Clients
    seed: seed.Seed
    reporter: RecordingReporter

    def plain(self, service: str) -> Any:
        """A client without the hooks, to look at the result as it is."""
        return boto3.client(service, region_name=REGION)

    def prepare(self, force_unknown: bool = False, **options: Any) -> adopt.Adoption:
        layers = [Layer(GIVEN, StackOptions(**options))]
        ctx = Context(
            clients=self.clients,
            config=None,  # type: ignore[arg-type]  # set per plan by adopt.prepare
            reporter=self.reporter,
            poll_delay=0.02,
            propagation_seconds=10,
            settle_seconds=10,
        )
        return adopt.prepare(
            layers, self.clients, seed.STACK_NAME, force_unknown=force_unknown, ctx=ctx
        )

    def adopt(self, **options: Any) -> adopt.Adopted:
        return adopt.execute(self.prepare(**options))


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[AdoptWorld]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        deployed = seed.deploy(lambda service: boto3.client(service, region_name=REGION))
        session = boto3.Session(region_name=REGION)
        faults = aws_like(session, timings=Timings())
        clients = Clients(AwsTarget(region=REGION), session=session)
        yield AdoptWorld(session, faults, clients, deployed, RecordingReporter())
