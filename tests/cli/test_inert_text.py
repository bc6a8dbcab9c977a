"""Text from outside never drives the terminal: every command's text output shows hostile values
from records and from AWS escaped, on one line, while its JSON holds them exactly.

The hostile values are put where they really come from (a record dead-lettered by the real
handler, a log event, a table item, a function's environment, an AWS answer or error), with
the stack deployed on in-process moto by the fixtures of tests/ops.
"""

from __future__ import annotations

import base64
import io
import json
import time
import unicodedata
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody

from cryptoconsumer.aws import Clients
from cryptoconsumer.cli import ops_cmds, stack_cmds
from cryptoconsumer.cli.inert import ESCAPED_CATEGORIES, guard, inert
from tests.faults import error
from tests.ops.conftest import REGION, Deployed, aws_env, cli, clients, deployed, mocked
from tests.ops.dead_letters import dead_letter_a_bad_record, failed_batch_body, put_ticks, send
from tests.ops.dead_letters import tick as tick_payload

# Fixtures of tests/ops, used here by name.
__all__ = ["aws_env", "cli", "clients", "deployed", "mocked"]

# Title, clear screen, 8-bit CSI, carriage return, backspaces, a bidi override and isolate,
# a newline that would start a line of its own, NUL, a zero-width space, DEL.
HOSTILE = (
    "\x1b]0;pwned\x07\x1b[2J\x9b31mred\rOVER\x08\x08\u202eevil\u2066"
    "\nerror: spoofed line\x00\u200b\x7fend"
)
# What SQS accepts in a message body (#x9 #xA #xD #x20-#xD7FF ...): no C0 but CR/LF/TAB.
SQS_HOSTILE = "\x9b2J\rOVER\u202eevil\x85\nerror: spoofed line"
SPOOF = "error: spoofed line"


def raw_controls(text: str) -> list[str]:
    """Every character that could drive a terminal, except the line breaks of the layout."""
    return [
        f"U+{ord(char):04X}"
        for char in text
        if char != "\n" and unicodedata.category(char) in ESCAPED_CATEGORIES
    ]


def assert_inert(result: Any) -> None:
    for stream in (result.stdout, result.stderr):
        assert raw_controls(stream) == [], stream
        # The value's own newline never starts a line: the spoofed text is not at a line start.
        assert not any(line.lstrip().startswith(SPOOF) for line in stream.splitlines()), stream


def hooked(monkeypatch: pytest.MonkeyPatch, **hooks: Any) -> None:
    """Every command's clients come from a session with these botocore hooks."""
    session = boto3.Session(region_name=REGION)
    for event, handler in hooks.items():
        session.events.register(event, handler)
    for module in (ops_cmds, stack_cmds):
        monkeypatch.setattr(module, "_clients", lambda target: Clients(target, session=session))


# -- the helper itself ---------------------------------------------------------------------


def test_inert_escapes_every_control_format_and_separator_character() -> None:
    shown = inert(HOSTILE + "\u2028\u2029\U000e0041\ud800")

    assert raw_controls(shown) == []
    assert "\n" not in shown
    for escape in (
        "\\x1b]0;pwned\\x07",
        "\\x1b[2J",
        "\\x9b31m",
        "\\rOVER\\x08\\x08",
        "\\u202eevil\\u2066",
        "\\nerror: spoofed line\\x00\\u200b\\x7fend",
        "\\u2028\\u2029\\U000e0041\\ud800",
    ):
        assert escape in shown


def test_inert_leaves_ordinary_text_alone() -> None:
    text = "Bitcoin ₿ 比特币 café — 37021.12 USD (ok) [x] *y* `z` \\x1b"

    assert inert(text) == text
    assert inert(None) == "None" and inert(3) == "3"
    assert inert("a\tb") == "a\\tb" and inert("a\tb", keep_tabs=True) == "a\tb"
    assert guard("line one\nline two\tx\x1b[2J") == "line one\nline two\tx\\x1b[2J"


def test_the_consoles_escape_what_a_renderer_forgot(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.table import Table

    from cryptoconsumer.cli import terminal

    table = Table()
    table.add_column("raw")
    table.add_row(HOSTILE)
    terminal.out.print(HOSTILE)
    terminal.out.print(table)
    terminal.err.print(HOSTILE, style="red")

    written = capsys.readouterr()
    assert raw_controls(written.out + written.err) == []
    assert "\\x1b]0;pwned" in written.out and "\\x1b]0;pwned" in written.err


def test_the_error_line_and_progress_lines_are_one_inert_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cryptoconsumer.cli import terminal

    exit_ = terminal.abort(f"AWS said: {HOSTILE}", 1)
    reporter = terminal.TerminalReporter()
    reporter.info(f"created table {HOSTILE}")
    with reporter.waiting(f"waiting for function {HOSTILE}"):
        pass

    written = capsys.readouterr()
    assert exit_.exit_code == 1
    lines = written.err.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("error: AWS said: \\x1b]0;pwned\\x07")
    assert lines[1].startswith("  created table \\x1b]0;pwned")
    assert lines[2].startswith("  waiting for function \\x1b]0;pwned")
    assert raw_controls(written.err) == []


def test_status_watch_shows_an_aws_error_inert(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptoconsumer.cli import live
    from cryptoconsumer.errors import AwsError

    def read() -> None:
        raise AwsError(f"throttled: {HOSTILE}")

    def stop(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(live, "sleep", stop)
    live.watch(read, lambda reading: reading, None, 1)

    written = capsys.readouterr()
    assert "error: throttled: \\x1b]0;pwned" in written.out
    assert raw_controls(written.out + written.err) == []


def test_the_demo_table_shows_item_fields_inert(capsys: pytest.CaptureFixture[str]) -> None:
    from cryptoconsumer.cli.local_cmds import _render_demo
    from cryptoconsumer.local.demo import DemoResult

    result = DemoResult(
        produced=1,
        bad_produced=0,
        table_items=1,
        dead_lettered=0,
        seconds=1.0,
        latest={"BTCUSD": {"last_refreshed": HOSTILE, "exchange_rate": HOSTILE}},
    )

    _render_demo(result)

    written = capsys.readouterr().out
    assert raw_controls(written) == []
    assert "\\x1b]0;pwned" in written


# -- dlq list and dlq redrive ----------------------------------------------------------------


def test_dlq_list_shows_hostile_payloads_and_bodies_escaped_and_json_exact(
    deployed: Deployed, cli: Any
) -> None:
    dead_letter_a_bad_record(deployed, HOSTILE.encode())
    body = failed_batch_body(deployed, "shardId-000000000000", "1", "5", 5, condition=HOSTILE)
    body["responseContext"]["functionError"] = HOSTILE
    send(deployed, body)
    send(deployed, SQS_HOSTILE)

    text = cli("dlq", "list")
    as_json = cli("dlq", "list", "--output", "json")

    assert text.exit_code == 0, text.stderr
    assert_inert(text)
    assert "\\x1b]0;pwned" in text.stdout and "\\x9b2J" in text.stdout
    document = json.loads(as_json.stdout)
    by_kind = {message["kind"]: message for message in document["messages"]}
    bad = by_kind["bad_record"]["bad_record"]
    assert base64.b64decode(bad["data_base64"]) == HOSTILE.encode()
    assert "\x1b]0;pwned\x07\x1b[2J" in bad["preview"]
    assert by_kind["batch"]["batch"]["condition"] == HOSTILE
    assert by_kind["batch"]["batch"]["function_error"] == HOSTILE
    assert by_kind["unknown"]["body"] == SQS_HOSTILE
    assert json.dumps(HOSTILE) in as_json.stdout  # JSON-escaped exactly as json.dumps does


def _answer_with_a_hostile_function_error(**_: Any) -> Any:
    class Http:
        status_code = 200
        headers: dict[str, str] = {}  # noqa: RUF012

    payload = json.dumps({"errorType": "RuntimeError", "errorMessage": HOSTILE}).encode()
    return Http(), {
        "StatusCode": 200,
        "FunctionError": "Unhandled",
        "ExecutedVersion": "$LATEST",
        "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
    }


def test_dlq_redrive_progress_and_details_are_inert(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put = put_ticks(deployed, [tick_payload("1.5")])
    shard, sequence = put[0]["ShardId"], put[0]["SequenceNumber"]
    send(deployed, failed_batch_body(deployed, shard, sequence, sequence, 1))
    hooked(monkeypatch, **{"before-call.lambda.Invoke": _answer_with_a_hostile_function_error})

    text = cli("dlq", "redrive")

    assert text.exit_code == 3, text.stderr
    assert_inert(text)
    assert "function error Unhandled: \\x1b]0;pwned" in text.stderr

    as_json = cli("dlq", "redrive", "--output", "json")

    (message,) = json.loads(as_json.stdout)["messages"]
    assert message["detail"] == f"function error Unhandled: {HOSTILE}"


# -- logs ------------------------------------------------------------------------------------


def test_logs_show_hostile_messages_inert_and_json_exact(deployed: Deployed, cli: Any) -> None:
    logs = deployed.client("logs")
    group, stream = f"/aws/lambda/{deployed.function_name}", "2026/11/25/[$LATEST]abc"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    structured = "[ERROR]\t2026-11-25T12:00:00.000Z\treq-1\t" + json.dumps(
        {"message": HOSTILE, "partition_key": HOSTILE}
    )
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": now - 2000, "message": HOSTILE},
            {"timestamp": now - 1000, "message": structured},
        ],
    )

    text = cli("logs", "--since", "5m")
    as_json = cli("logs", "--since", "5m", "--output", "json")

    assert text.exit_code == 0, text.stderr
    assert_inert(text)
    assert len(text.stdout.splitlines()) == 2
    assert "ERROR \\x1b]0;pwned" in text.stdout
    assert [event["message"] for event in json.loads(as_json.stdout)] == [HOSTILE, structured]


# -- latest and history ----------------------------------------------------------------------


def test_latest_and_history_show_item_fields_inert_and_json_exact(
    deployed: Deployed, cli: Any
) -> None:
    when = f"2099-12-31 23:59:59{HOSTILE}"
    deployed.client("dynamodb").put_item(
        TableName=deployed.table_name,
        Item={
            "ticker": {"S": "BTCUSD"},
            "last_refreshed": {"S": when},
            "exchange_rate": {"N": "37021.5"},
            "from_currency_name": {"S": HOSTILE},
        },
    )

    for args in (("latest", "--ticker", "BTCUSD"), ("history", "--ticker", "BTCUSD")):
        text = cli(*args)
        as_json = cli(*args, "--output", "json")

        assert text.exit_code == 0, text.stderr
        assert_inert(text)
        assert "\\x1b]0;pwned" in text.stdout
        document = json.loads(as_json.stdout)
        (item,) = document.get("items") or document["rows"]
        assert item["last_refreshed"] == when
        assert item["from_currency_name"] == HOSTILE


# -- status, check, plan, up: values from AWS answers ------------------------------------------


def _hostile_mapping(parsed: dict[str, Any], **_: Any) -> None:
    for found in parsed.get("EventSourceMappings", [parsed]):
        if "UUID" in found:
            found["LastProcessingResult"] = f"PROBLEM: {HOSTILE}"
            found["StateTransitionReason"] = HOSTILE


def _hostile_environment(deployed: Deployed) -> None:
    configuration = deployed.client("lambda").get_function_configuration(
        FunctionName=deployed.function_name
    )
    variables = dict(configuration["Environment"]["Variables"])
    variables["DYNAMO_TABLE_NAME"] = HOSTILE
    deployed.client("lambda").update_function_configuration(
        FunctionName=deployed.function_name, Environment={"Variables": variables}
    )


def test_status_shows_states_reasons_and_drift_inert_and_json_exact(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hostile_environment(deployed)
    hooked(
        monkeypatch,
        **{
            "after-call.lambda.ListEventSourceMappings": _hostile_mapping,
            "after-call.lambda.GetEventSourceMapping": _hostile_mapping,
        },
    )
    args = ("status", "--stream-arn", deployed.stream_arn)

    text = cli(*args)
    as_json = cli(*args, "--output", "json")

    assert text.exit_code == 3, text.stderr
    assert_inert(text)
    assert "PROBLEM: \\x1b]0;pwned" in text.stdout
    document = json.loads(as_json.stdout)
    assert any(HOSTILE in reason for reason in document["problems"])
    (function,) = [row for row in document["resources"] if row["resource"] == "function"]
    assert (
        f"environment DYNAMO_TABLE_NAME: {HOSTILE} -> {deployed.table_name}" in (function["drift"])
    )


def test_check_shows_the_reasons_inert(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptoconsumer.ops import canary

    monkeypatch.setattr(canary, "POLL_SECONDS", 0.05)
    hooked(monkeypatch, **{"after-call.lambda.ListEventSourceMappings": _hostile_mapping})

    text = cli("check", "--timeout", "1")
    as_json = cli("check", "--timeout", "1", "--output", "json")

    assert text.exit_code == 3, text.stderr  # nothing reads the stream on in-process moto
    assert_inert(text)
    assert "reason: " in text.stdout and "PROBLEM: \\x1b]0;pwned" in text.stdout
    assert any(HOSTILE in reason for reason in json.loads(as_json.stdout)["reasons"])


def test_plan_and_up_show_values_from_aws_inert_and_json_exact(
    deployed: Deployed, cli: Any
) -> None:
    _hostile_environment(deployed)
    args = ("--stream-arn", deployed.stream_arn)
    expected = f"environment DYNAMO_TABLE_NAME: {HOSTILE} -> {deployed.table_name}"

    planned = cli("plan", *args)
    as_json = cli("plan", *args, "--output", "json")

    assert planned.exit_code == 0, planned.stderr
    assert_inert(planned)
    assert "environment DYNAMO_TABLE_NAME: \\x1b]0;pwned" in planned.stdout
    (function,) = [c for c in json.loads(as_json.stdout)["changes"] if c["resource"] == "function"]
    assert expected in function["details"]

    applied = cli("up", *args)

    assert applied.exit_code == 0, applied.stderr
    assert_inert(applied)
    assert "environment DYNAMO_TABLE_NAME: \\x1b]0;pwned" in applied.stdout


def test_an_aws_error_message_is_one_inert_error_line(
    deployed: Deployed, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hooked(
        monkeypatch,
        **{
            "before-call.dynamodb.Query": lambda **_: error("AccessDeniedException", HOSTILE),
            "before-call.sqs.GetQueueUrl": lambda **_: error("AccessDenied", HOSTILE, 403),
            "before-call.lambda.GetFunction": lambda **_: error("AccessDeniedException", HOSTILE),
        },
    )

    plan = ("plan", "--stream-arn", deployed.stream_arn)
    for args in (("latest",), ("history", "--ticker", "BTCUSD"), ("dlq", "list"), plan):
        for output in ("text", "json"):
            result = cli(*args, "--output", output)

            assert result.exit_code == 1, (args, result.stdout, result.stderr)
            assert_inert(result)
            (line,) = result.stderr.splitlines()
            assert line.startswith("error: ") and "\\x1b]0;pwned" in line, line
            assert result.stdout == ""
