"""destroy: confirmation, dry run, nothing-to-destroy, and the table it keeps unless told."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from tests.aws_state import inventory

TABLE = "crypto_intraday"


def _deploy(run, stream_arn):
    result = run("up", "--stream-arn", stream_arn)
    assert result.exit_code == 0, str(result)


def test_without_a_terminal_destroy_needs_yes(run, moto, aws, stream_arn):
    _deploy(run, stream_arn)
    before = inventory(aws)
    moto.clear_log()

    result = run("destroy", "--delete-table")

    assert result.exit_code == 2, str(result)
    assert result.error_lines == [
        "error: destroy needs --yes when there is no terminal to confirm on"
    ]
    assert moto.mutating() == []
    assert inventory(aws) == before


def test_at_a_terminal_destroy_asks_and_a_no_deletes_nothing(
    run, moto, aws, stream_arn, monkeypatch
):
    from cryptoconsumer.cli import stack_cmds

    monkeypatch.setattr(
        stack_cmds, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True))
    )
    _deploy(run, stream_arn)
    before = inventory(aws)
    moto.clear_log()

    refused = run("destroy", input="n\n")

    assert refused.exit_code == 2, str(refused)
    assert "Delete these resources?" in refused.stderr
    # CliRunner does not echo the typed answer, so the error follows the prompt on its line.
    assert refused.error_lines[-1].endswith("error: not confirmed; nothing was deleted")
    assert moto.mutating() == []
    assert inventory(aws) == before

    accepted = run("destroy", input="y\n")

    assert accepted.exit_code == 0, str(accepted)
    assert inventory(aws).tables == (TABLE,)
    assert inventory(aws).functions == ()


def test_destroying_a_stack_that_does_not_exist_is_not_an_error(run, moto):
    result = run("destroy", "--stack", "ghost", "--yes", "--output", "json")

    assert result.exit_code == 0, str(result)
    assert "nothing to destroy" in result.stderr
    document = result.json()
    assert document["stack"] == "ghost"
    assert {change["action"] for change in document["changes"]} == {"none"}
    assert moto.mutating() == []


def test_destroy_dry_run_prints_the_plan_and_deletes_nothing(run, moto, aws, stream_arn):
    _deploy(run, stream_arn)
    before = inventory(aws)
    moto.clear_log()

    result = run("destroy", "--dry-run", "--output", "json")

    assert result.exit_code == 0, str(result)
    document = result.json()
    assert document["dry_run"] is True
    assert [(c["resource"], c["action"]) for c in document["changes"]] == [
        ("mapping", "delete"),
        ("function", "delete"),
        ("log_group", "delete"),
        ("role", "delete"),
        ("queue", "delete"),
        ("table", "retain"),
        *[("alarm", "delete")] * 4,
        ("topic", "delete"),
        ("settings", "delete"),
        ("dashboard", "delete"),
    ]
    (table,) = [c for c in document["changes"] if c["resource"] == "table"]
    assert any("--delete-table" in detail for detail in table["details"])
    assert moto.mutating() == []
    assert inventory(aws) == before

    text = run("destroy", "--dry-run", "--delete-table")
    assert text.exit_code == 0
    assert ["-", "table", TABLE] in [line.split() for line in text.stdout.splitlines()]
    assert inventory(aws) == before


def test_destroy_keeps_the_table_and_says_how_to_delete_it(run, aws, stream_arn):
    _deploy(run, stream_arn)

    result = run("destroy", "--yes")

    assert result.exit_code == 0, str(result)
    assert (
        f"table {TABLE} kept with its data; delete it with: "
        "cryptoconsumer destroy --stack crypto --delete-table"
    ) in result.stderr
    assert inventory(aws).tables == (TABLE,)

    second = run("destroy", "--yes")
    assert second.exit_code == 0, str(second)
    assert "nothing to destroy" in second.stderr
    assert "--delete-table" in second.stderr

    third = run("destroy", "--yes", "--delete-table")
    assert third.exit_code == 0, str(third)
    assert inventory(aws).empty


def _faulty(moto, monkeypatch):
    """The CLI's clients, with tests/faults.py hooks (no delays, only what a test injects)."""
    import boto3

    from cryptoconsumer.aws import Clients
    from cryptoconsumer.cli import stack_cmds
    from tests.faults import Timings, aws_like

    session = boto3.Session(region_name="us-east-1")
    none = Timings(**{name: 0.0 for name in Timings.__dataclass_fields__})
    faults = aws_like(session, timings=none, endpoint_url=moto.url)
    monkeypatch.setattr(stack_cmds, "_clients", lambda target: Clients(target, session=session))
    return faults


def test_a_failed_delete_is_reported_everything_else_goes_and_a_rerun_finishes(
    run, moto, aws, stream_arn, monkeypatch
):
    _deploy(run, stream_arn)
    faults = _faulty(moto, monkeypatch)
    faults.failing["lambda.DeleteFunction"] = 10_000  # HTTP 500 after botocore's retries

    failed = run("destroy", "--yes", "--delete-table", "--output", "json")

    assert failed.exit_code == 1, str(failed)
    assert [line for line in failed.error_lines if line.startswith("error:")] == [
        "error: deleting function crypto_data_consumer: ServiceException: "
        "We encountered an internal error. Please try again.",
        "error: settings /cryptoconsumer/crypto/settings: not deleted: kept, so that running "
        "destroy again finds what is left",
        "error: destroy incomplete: 1 delete(s) failed, 1 held back; every other delete was "
        "done; run destroy again to finish",
    ]
    document = failed.json()
    assert document["failures"] == [
        {
            "resource": "function",
            "name": "crypto_data_consumer",
            "outcome": "failed",
            "error": "deleting function crypto_data_consumer: ServiceException: "
            "We encountered an internal error. Please try again.",
        },
        {
            "resource": "settings",
            "name": "/cryptoconsumer/crypto/settings",
            "outcome": "held back",
            "error": "kept, so that running destroy again finds what is left",
        },
    ]
    left = inventory(aws)
    assert left.functions == ("crypto_data_consumer",)
    assert (left.tables, left.queues, left.roles, left.log_groups, left.mappings) == (
        (),
        (),
        (),
        (),
        (),
    )

    faults.failing.clear()
    again = run("destroy", "--yes", "--delete-table", "--output", "json")

    assert again.exit_code == 0, str(again)
    assert [
        (c["resource"], c["action"]) for c in again.json()["changes"] if c["action"] != "none"
    ] == [("function", "delete"), ("settings", "delete")]
    assert inventory(aws).empty


def test_a_mapping_that_cannot_be_deleted_holds_back_the_rest_in_text(
    run, moto, aws, stream_arn, monkeypatch
):
    _deploy(run, stream_arn)
    before = inventory(aws)
    faults = _faulty(moto, monkeypatch)
    faults.failing["lambda.DeleteEventSourceMapping"] = 10_000

    failed = run("destroy", "--yes")

    assert failed.exit_code == 1, str(failed)
    errors = [line for line in failed.error_lines if line.startswith("error:")]
    # the mapping, what it held back (the table is kept; the record stays for the re-run), summary
    # (the four alarms and their topic stay too, watching the function that still runs)
    assert len(errors) == 1 + 5 + 5 + 1
    assert errors[0].startswith("error: deleting mapping ")
    assert errors[1].startswith("error: alarm crypto-dead-letters: not deleted: mapping ")
    assert errors[5].startswith("error: function crypto_data_consumer: not deleted: mapping ")
    assert errors[-1].startswith("error: destroy incomplete: 1 delete(s) failed, 10 held back")
    # Only the dashboard went: it graphs, it feeds and holds nothing.
    assert inventory(aws) == replace(before, dashboards=())
