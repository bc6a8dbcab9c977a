"""`--filter`, `--only-tickers`, `--filter-kms-key`, `--mapping-metrics` through the CLI: the
plan text shows old -> new patterns, filters changed outside are drift, and a change of
filters updates the mapping in place (no replacement, checkpoints kept)."""

from __future__ import annotations

import json
import re

from tests.aws_state import the_mapping

USD = '{"data": {"to_currency_code": ["USD"]}}'
EUR = '{"data": {"to_currency_code": ["EUR"]}}'


def up(run, stream_arn, *extra):
    result = run("up", "--stream-arn", stream_arn, "--output", "json", *extra)
    assert result.exit_code == 0, str(result)
    return result.json()


def mapping_change(document):
    (change,) = [c for c in document["changes"] if c["resource"] == "mapping"]
    return change


def test_plan_text_shows_the_patterns_old_and_new_and_up_updates_in_place(
    run, api_calls, stream_arn
):
    first = up(run, stream_arn, "--filter", USD)
    created = mapping_change(first)
    assert created["action"] == "create"
    assert any("dropped by AWS" in d for d in created["details"])

    plan = run("plan", "--stream-arn", stream_arn, "--filter", EUR)
    assert plan.exit_code == 0, str(plan)
    assert re.search(r"~ +mapping", plan.stdout)
    text = " ".join(plan.stdout.split())
    assert (
        'filters: [{"data":{"to_currency_code":["USD"]}}] -> '
        '[{"data":{"to_currency_code":["EUR"]}}]' in text
    ), plan.stdout
    assert "filter = " in text  # the recorded setting changes too

    api_calls.clear()
    second = up(run, stream_arn, "--filter", EUR)
    assert mapping_change(second)["action"] == "update"
    assert second["outputs"]["mapping_uuid"] == first["outputs"]["mapping_uuid"]
    lambda_mutations = [op for op in api_calls.mutating() if op.startswith("lambda:")]
    assert lambda_mutations == ["lambda:UpdateEventSourceMapping"], api_calls.operations()


def test_the_recorded_filter_is_kept_and_filters_changed_outside_are_drift(run, aws, stream_arn):
    up(run, stream_arn, "--only-tickers", "BTCUSD")
    mapping = the_mapping(aws)
    aws("lambda").update_event_source_mapping(
        UUID=mapping["UUID"], FilterCriteria={"Filters": [{"Pattern": USD}]}
    )

    # --only-tickers was recorded: a bare `status` still wants it.
    found = run("status", "--stream-arn", stream_arn, "--output", "json")
    assert found.exit_code == 3, str(found)
    (row,) = [r for r in found.json()["resources"] if r["resource"] == "mapping"]
    [line] = row["drift"]
    assert line.startswith('filters: [{"data":{"to_currency_code":["USD"]}}] -> [{"data":{"$or":')

    fixed = up(run, stream_arn)
    assert mapping_change(fixed)["action"] == "update"
    [pattern] = the_mapping(aws)["FilterCriteria"]["Filters"]
    assert "BTC" in json.dumps(json.loads(pattern["Pattern"]))


def test_bad_filters_end_in_one_line_and_exit_2_before_any_call(run, api_calls, stream_arn):
    for args, message in [
        (["--filter", '{"partitionKey": ["x"]}'], "a Kinesis mapping filters only on"),
        (["--filter", '{"data": {"a": [{"prefx": "1"}]}}'], "unknown operator 'prefx'"),
        (["--filter", USD, "--only-tickers", "BTCUSD"], "--only-tickers and --filter"),
    ]:
        api_calls.clear()
        result = run("plan", "--stream-arn", stream_arn, *args)
        assert result.exit_code == 2, str(result)
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert api_calls.calls == []


def test_a_filter_key_without_filters_given_or_recorded_is_refused(run, api_calls, stream_arn):
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    api_calls.clear()
    result = run("plan", "--stream-arn", stream_arn, "--filter-kms-key", key)
    assert result.exit_code == 2, str(result)
    assert "--filter-kms-key encrypts the filters: it needs --filter" in result.stderr
    # Only the record is read: it could have held the filters.
    assert api_calls.calls == [("ssm", "GetParameter")]
