"""The stack remembers how it was made: a bare command uses the settings `up` recorded."""

from __future__ import annotations

import json

from tests.aws_state import inventory, the_mapping
from tests.cli.test_cli_stack_file import settings_of

NAMES = ["--table-name", "prices.v2", "--function-name", "consume-prices", "--queue-name", "dead"]


def _up(run, stream_arn: str, *extra: str) -> None:
    result = run("up", "--stream-arn", stream_arn, *extra)
    assert result.exit_code == 0, str(result)


def test_a_bare_status_uses_what_up_recorded(run, aws, stream_arn):
    _up(run, stream_arn, "--batch-size", "500", "--starting-position", "TRIM_HORIZON")

    bare = run("status", "--output", "json")

    assert bare.exit_code == 0, str(bare)
    document = bare.json()
    assert document["settings"]["recorded"] is True
    values = {v["option"]: (v["value"], v["origin"]) for v in document["settings"]["values"]}
    assert values["batch-size"] == (500, "recorded")
    assert values["starting-position"] == ("TRIM_HORIZON", "recorded")
    assert values["stream-arn"] == (stream_arn, "recorded")
    # The text view says where the settings came from, too.
    assert "batch-size=500 (recorded)" in run("status").stdout


def test_a_change_made_outside_up_is_drift_and_a_bare_up_repairs_it(run, aws, stream_arn):
    _up(run, stream_arn, "--batch-size", "500")
    uuid = the_mapping(aws)["UUID"]
    aws("lambda").update_event_source_mapping(UUID=uuid, BatchSize=42)

    drifted = run("status", "--output", "json")
    what_if = run("status", "--batch-size", "42", "--output", "json")
    repaired = run("up", "--output", "json")

    assert drifted.exit_code == 3, str(drifted)
    (mapping_row,) = [r for r in drifted.json()["resources"] if r["resource"] == "mapping"]
    assert mapping_row["drift"] == ["batch size: 42 -> 500"]
    assert what_if.exit_code == 0, str(what_if)  # "what if": against the value given
    assert repaired.exit_code == 0, str(repaired)
    assert the_mapping(aws)["BatchSize"] == 500
    assert run("status").exit_code == 0


def test_custom_names_are_found_from_the_stack_name_alone(run, aws, moto, stream_arn):
    _up(run, stream_arn, "--stack", "blue", *NAMES)
    endpoint = ["--endpoint-url", moto.url]

    assert run("status", "--stack", "blue").exit_code == 0
    latest = run("latest", "--stack", "blue", "--output", "json", *endpoint)
    assert latest.exit_code == 0 and latest.json()["table"] == "prices.v2", str(latest)
    listed = run("dlq", "list", "--stack", "blue", "--output", "json", *endpoint)
    assert listed.exit_code == 0 and listed.json()["queue_url"].endswith("/dead"), str(listed)
    gone = run("destroy", "--stack", "blue", "--yes", "--delete-table")
    assert gone.exit_code == 0, str(gone)
    assert inventory(aws).empty, inventory(aws)


def test_the_record_is_one_parameter_and_a_no_op_up_reads_it_once(run, aws, moto, stream_arn):
    _up(run, stream_arn, "--memory", "512")
    parameter = aws("ssm").get_parameter(Name="/cryptoconsumer/crypto/settings")["Parameter"]
    body = json.loads(parameter["Value"])
    assert body["managed_by"] == "cryptoconsumer" and body["stack"] == "crypto"
    assert body["settings"] == {"memory": 512, "stream_arn": stream_arn}
    tags = aws("ssm").list_tags_for_resource(
        ResourceType="Parameter", ResourceId="/cryptoconsumer/crypto/settings"
    )["TagList"]
    assert {"Key": "cryptoconsumer:stack", "Value": "crypto"} in tags
    moto.clear_log()

    again = run("up")

    assert again.exit_code == 0, str(again)
    assert moto.mutating() == []
    assert [str(r) for r in moto.requests].count("ssm:GetParameter") == 1


def test_a_foreign_parameter_of_our_name_is_never_overwritten(run, aws, moto, stream_arn):
    aws("ssm").put_parameter(
        Name="/cryptoconsumer/crypto/settings", Value="someone else's", Type="String"
    )
    moto.clear_log()

    refused = run("up", "--stream-arn", stream_arn)

    assert refused.exit_code == 1, str(refused)
    assert "is not cryptoconsumer's record" in refused.stderr
    assert moto.mutating() == []
    found = aws("ssm").get_parameter(Name="/cryptoconsumer/crypto/settings")["Parameter"]
    assert found["Value"] == "someone else's"


def test_reset_forgets_a_recorded_setting(run, aws, stream_arn):
    _up(run, stream_arn, "--batch-size", "500")

    planned = run("plan", "--reset", "batch-size", "--output", "json")
    bad = run("plan", "--reset", "batch-sise")

    assert planned.exit_code == 0, str(planned)
    assert "batch-size" not in settings_of(planned)
    (mapping,) = [c for c in planned.json()["changes"] if c["resource"] == "mapping"]
    assert mapping["details"] == ["batch size: 500 -> 100"]
    assert bad.exit_code == 2 and "is not a setting `up` records" in bad.stderr
