"""Fixtures for the consumer Lambda's tests.

The handler runs in Lambda with the zip root on sys.path and no package around it, so the tests
import it the same way: `import data_consumer_lambda`, with `lambda_handler/` put on sys.path here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from tests.aws_state import TICKS_TABLE

HANDLER_DIR = Path(__file__).resolve().parents[2] / "lambda_handler"
HELPERS_DIR = Path(__file__).resolve().parent
for import_root in (HANDLER_DIR, HELPERS_DIR):
    if str(import_root) not in sys.path:
        sys.path.insert(0, str(import_root))

import data_consumer_lambda  # noqa: E402

REGION = "us-east-1"
TABLE_NAME = "test_intraday"
QUEUE_NAME = "test_data_consumer-dlq"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a clean environment: nothing can reach a real account."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SQS",
        "DYNAMO_TABLE_NAME",
        "DEAD_LETTER_QUEUE_URL",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def consumer(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The handler module with fresh clients and millisecond backoff, so retry tests run fast."""
    data_consumer_lambda.reset_clients()
    monkeypatch.setattr(data_consumer_lambda, "BACKOFF_BASE_SECONDS", 0.001)
    monkeypatch.setattr(data_consumer_lambda, "BACKOFF_CAP_SECONDS", 0.02)
    yield data_consumer_lambda
    data_consumer_lambda.reset_clients()


@pytest.fixture
def aws(consumer: ModuleType) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def table(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE_NAME,
        **TICKS_TABLE,
    )
    monkeypatch.setenv("DYNAMO_TABLE_NAME", TABLE_NAME)
    return TABLE_NAME


@pytest.fixture
def queue_url(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", url)
    return url
