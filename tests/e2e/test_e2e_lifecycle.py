"""The installed executable, end to end, against a moto server on a loopback port.

Once with --endpoint-url and once with AWS_ENDPOINT_URL in the environment.
"""

from __future__ import annotations

import pytest

from tests.aws_state import inventory


@pytest.mark.parametrize("endpoint_from", ["option", "environment"])
def test_up_status_up_destroy_status(cli, moto, aws, stream_arn, endpoint_from):
    if endpoint_from == "option":
        common, env = ["--endpoint-url", moto.url], {}
    else:
        common, env = [], {"AWS_ENDPOINT_URL": moto.url}

    first = cli("up", "--stream-arn", stream_arn, "--output", "json", *common, env=env)
    assert first.returncode == 0, str(first)
    created = first.json()
    assert {c["action"] for c in created["changes"]} == {"create"}
    assert created["outputs"]["function_arn"].endswith(":function:crypto_data_consumer")
    found = inventory(aws)
    assert len(found.mappings) == 1 and found.functions == ("crypto_data_consumer",)

    healthy = cli("status", "--stream-arn", stream_arn, "--output", "json", *common, env=env)
    assert healthy.returncode == 0, str(healthy)
    assert healthy.json()["deployed"] is True and healthy.json()["healthy"] is True

    moto.clear_log()
    second = cli("up", "--stream-arn", stream_arn, "--output", "json", *common, env=env)
    assert second.returncode == 0, str(second)
    assert {c["action"] for c in second.json()["changes"]} == {"none"}
    assert second.json()["outputs"] == created["outputs"]
    assert moto.mutating() == [], moto.operations()
    assert "up to date: nothing to change" in second.stderr

    gone = cli("destroy", "--yes", "--delete-table", *common, env=env)
    assert gone.returncode == 0, str(gone)
    assert inventory(aws).empty

    missing = cli("status", "--stream-arn", stream_arn, "--output", "json", *common, env=env)
    assert missing.returncode == 3, str(missing)
    assert missing.json()["deployed"] is False


def test_bad_input_exits_2_with_one_line_and_no_request(cli, moto):
    result = cli(
        "up",
        "--stream-arn",
        "arn:aws:kinesis:us-east-1:123456789012:stream/ticks",
        "--batch-size",
        "0",
        "--endpoint-url",
        moto.url,
    )

    assert result.returncode == 2, str(result)
    assert result.stdout == ""
    assert result.stderr.splitlines() == ["error: --batch-size 0 is out of range (1-10000)"]
    assert moto.requests == []


def test_a_real_pipe_gets_exactly_one_json_document(cli, moto, stream_arn):
    result = cli("plan", "--stream-arn", stream_arn, "--output", "json", "--endpoint-url", moto.url)

    assert result.returncode == 0, str(result)
    assert result.json()["dry_run"] is True
    assert moto.mutating() == []
