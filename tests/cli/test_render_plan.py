"""The plan as a diff: one symbol line per resource, `field: old -> new` lines, a summary; at 80
and 200 columns no value is broken; colour only on a terminal and never with NO_COLOR; and
`plan --detailed-exitcode` (0 no changes, 2 changes, 1 any error)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryptoconsumer.cli import plan_text
from cryptoconsumer.plan import Plan
from cryptoconsumer.resources.base import Change

WIDTHS = (80, 200)
ESCAPE = re.compile(r"\x1b|\x9b")
TABLE, QUEUE, ROLE = "crypto_intraday", "crypto_data_consumer-dlq", "crypto_data_consumer-role"
FUNCTION, LOG_GROUP = "crypto_data_consumer", "/aws/lambda/crypto_data_consumer"
ACCOUNT = "123456789012"
STREAM = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/kinesis-crypto-stream-intraday"
OTHER_STREAM = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/kinesis-crypto-stream-intraday-eu"
QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{QUEUE}"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{QUEUE}"
OLD_SHA, NEW_SHA = (
    "Fo2y1/h2vcvoVAbaTFRCB9JdtifPj/Zz5b6u3Js657A=",
    "q0x1Zb3JvY2tzL2Jhc2U2NC1zaGEyNTYtY29kZQ==",
)
UUID = "531f0c3c-bde7-4bdb-899f-afd64bb08c35"
POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole"


def _plan(*changes: Change, kind: str = "up") -> Plan:
    return Plan(kind, "crypto", "us-east-1", changes)  # type: ignore[arg-type]


# Each plan as the resource modules build it (their exact detail strings), and its summary.
PLANS = {
    "create": (
        _plan(
            Change(
                "table",
                TABLE,
                "create",
                (
                    "key ticker (S) + last_refreshed (S)",
                    "on-demand",
                    "point-in-time recovery on",
                    "deletion protection on",
                ),
            ),
            Change("queue", QUEUE, "create", ("14-day retention", "SSE-SQS encryption")),
            Change("log_group", LOG_GROUP, "create", ("retention 30 days",)),
            Change(
                "role",
                ROLE,
                "create",
                (
                    "trusted by lambda.amazonaws.com in this account",
                    "inline policy cryptoconsumer-least-privilege",
                    f"attach {POLICY}",
                ),
            ),
            Change(
                "function",
                FUNCTION,
                "create",
                ("python3.12 arm64, 256 MB, 20 s", f"code {OLD_SHA} (13083 bytes)"),
            ),
            Change(
                "mapping",
                f"kinesis-crypto-stream-intraday -> {FUNCTION}",
                "create",
                (
                    f"from {STREAM}",
                    "batch 100, start LATEST",
                    "retries 3, max age 3600 s, bisect on error, ReportBatchItemFailures",
                ),
            ),
        ),
        "Plan: 6 to create, 0 to update, 0 to delete.",
    ),
    "update": (
        _plan(
            Change("table", TABLE, "none"),
            Change("queue", QUEUE, "update", ("message retention: 345600 s -> 1209600 s",)),
            Change("log_group", LOG_GROUP, "none"),
            Change("role", ROLE, "update", (f"managed policy {POLICY}: attach",)),
            Change(
                "function",
                FUNCTION,
                "update",
                (
                    f"code: CodeSha256 {OLD_SHA} -> {NEW_SHA}",
                    "timeout: 20 -> 30",
                    f"environment DEAD_LETTER_QUEUE_URL: None -> {QUEUE_URL}",
                ),
            ),
            Change(
                "mapping",
                UUID,
                "update",
                ("batch size: 100 -> 500", f"on-failure destination: None -> {QUEUE_ARN}"),
            ),
        ),
        "Plan: 0 to create, 4 to update, 0 to delete; 2 unchanged.",
    ),
    "replace": (
        _plan(
            Change("table", TABLE, "none"),
            Change(
                "role", ROLE, "update", ("inline policy x differs from least privilege: rewrite",)
            ),
            Change(
                "consumer",
                f"{FUNCTION}-efo",
                "create",
                ("register on kinesis-crypto-stream-intraday-eu (enhanced fan-out)",),
            ),
            Change(
                "mapping",
                UUID,
                "replace",
                (
                    f"source: {STREAM} -> {OTHER_STREAM}",
                    "starting position: LATEST -> TRIM_HORIZON",
                    "checkpoints reset",
                ),
            ),
        ),
        "Plan: 1 to create, 1 to update, 1 to replace, 0 to delete; 1 unchanged.",
    ),
    "delete": (
        _plan(
            Change("mapping", UUID, "delete", (f"from {STREAM}",)),
            Change("function", FUNCTION, "delete"),
            Change("log_group", LOG_GROUP, "delete", ("its log events are lost",)),
            Change(
                "role", ROLE, "delete", ("delete inline policy cryptoconsumer-least-privilege",)
            ),
            Change("queue", QUEUE, "delete", ("3 message(s) in it are lost",)),
            Change(
                "table", TABLE, "delete", ("turn deletion protection off", "deletes every item")
            ),
            kind="destroy",
        ),
        "Plan: 0 to create, 0 to update, 6 to delete.",
    ),
    "retain": (
        _plan(
            Change("table", TABLE, "none"),
            Change(
                "queue",
                QUEUE,
                "retain",
                (
                    "no longer used (--no-dlq); kept with its 3 message(s); "
                    "`destroy --no-dlq` removes it",
                ),
            ),
            Change(
                "function",
                FUNCTION,
                "update",
                (f"environment DEAD_LETTER_QUEUE_URL: {QUEUE_URL} -> None",),
            ),
        ),
        "Plan: 0 to create, 1 to update, 0 to delete, 1 to retain; 1 unchanged.",
    ),
    "no change": (
        _plan(
            Change("table", TABLE, "none"),
            Change("queue", QUEUE, "none"),
            Change("log_group", LOG_GROUP, "none"),
            Change("role", ROLE, "none"),
            Change(
                "function",
                "someone-elses-function",
                "none",
                ("not tagged for this stack; left alone",),
            ),
            Change("mapping", UUID, "none"),
        ),
        "Plan: 0 to create, 0 to update, 0 to delete; 6 unchanged.",
    ),
}


def render(plan: Plan, width: int, dry_run: bool = True, outputs: dict | None = None) -> str:
    return plan_text.render_plan(plan, dry_run=dry_run, width=width, outputs=outputs).plain


def assert_never_folded(text: str, width: int) -> None:
    """A line is longer than the width only when its last word fits no line at all."""
    for line in text.splitlines():
        if len(line) <= width:
            continue
        head, _, last = line.rstrip().rpartition(" ")
        assert len(head) <= width, f"wrapped too late: {line!r}"
        assert len(last) > width - plan_text.MAX_HANG, f"could have wrapped: {line!r}"


def assert_plan_text(plan: Plan, text: str, width: int, summary: str) -> None:
    lines = text.splitlines()
    words = [line.split() for line in lines]
    tokens = {token for line in words for token in line}
    loose = {token.strip(",()") for token in tokens}
    changed = [change for change in plan.changes if change.action != "none"]
    # One header line per changed resource, in plan order, with its symbol first.
    headers = [
        line for line in words if line and line[0] in plan_text.SYMBOLS.values() and len(line) > 2
    ]
    assert [line[:2] for line in headers] == [
        [plan_text.SYMBOLS[change.action], change.resource] for change in changed
    ]
    for change in changed:
        for token in [*change.name.split(), *(t for d in change.details for t in d.split())]:
            assert token in tokens, f"{token!r} broken or missing at {width} columns"
    for change in plan.changes:
        if change.action == "none":
            assert change.name in loose, change.name
    assert_never_folded(text, width)
    assert [line for line in lines if line.strip()][-1] == summary
    verb = "would change" if plan.mutating else "no changes"
    assert lines[0] == f"stack crypto in us-east-1: {verb}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(PLANS))
def test_each_kind_of_plan_reads_as_a_diff_at_80_and_200_columns(name: str, width: int) -> None:
    plan, summary = PLANS[name]

    text = render(plan, width)

    assert_plan_text(plan, text, width, summary)


def test_a_field_change_is_one_line_when_it_fits_and_split_before_the_arrow_when_not() -> None:
    plan, _ = PLANS["replace"]

    wide, narrow = render(plan, 200), render(plan, 80)

    assert f"        source: {STREAM} -> {OTHER_STREAM}" in wide.splitlines()
    assert "        starting position: LATEST -> TRIM_HORIZON" in narrow.splitlines()
    at_80 = narrow.splitlines()
    index = at_80.index(f"        source: {STREAM}")
    assert at_80[index + 1] == f"          -> {OTHER_STREAM}"
    assert "  -/+ mapping   " + UUID in at_80


def test_unchanged_resources_have_no_symbol_and_are_listed_together_with_their_notes() -> None:
    plan, _ = PLANS["no change"]

    lines = render(plan, 200).splitlines()

    start = next(n for n, line in enumerate(lines) if line.startswith("  unchanged: "))
    end = lines.index("", start)
    assert all(line.startswith("      ") for line in lines[start + 1 : end])
    assert " ".join(line.strip() for line in lines[start:end]) == (
        "unchanged: table crypto_intraday, queue crypto_data_consumer-dlq, log_group "
        "/aws/lambda/crypto_data_consumer, role crypto_data_consumer-role, function "
        "someone-elses-function (not tagged for this stack; left alone), mapping " + UUID
    )
    assert not any(line.lstrip().startswith(("+", "~", "-", "=")) for line in lines)


def test_after_up_the_summary_says_what_was_done_and_the_outputs_are_whole() -> None:
    plan, _ = PLANS["update"]
    outputs = {
        "stream_arn": STREAM,
        "table_arn": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{TABLE}",
        "queue_url": QUEUE_URL,
        "role_arn": f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
        "function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{FUNCTION}",
        "mapping_uuid": None,
        "bucket": None,
        "dashboard_url": "https://us-east-1.console.aws.amazon.com/cloudwatch/home"
        "?region=us-east-1#dashboards:name=crypto-consumer",
    }

    text = render(plan, 80, dry_run=False, outputs=outputs)

    lines = text.splitlines()
    assert lines[0] == "stack crypto in us-east-1: changed"
    assert "Done: 0 created, 4 updated, 0 deleted; 2 unchanged." in lines
    start = lines.index("outputs:")
    shown = dict(line.split() for line in lines[start + 1 :])
    assert shown == {key: value or "-" for key, value in outputs.items()}
    assert_never_folded(text, 80)


words = st.text(alphabet="abc:/-=", min_size=1, max_size=120)


@given(st.lists(words, max_size=30), st.integers(min_value=20, max_value=220))
def test_wrap_never_breaks_a_word_and_overflows_only_for_a_word_too_long_for_any_line(
    items: list[str], width: int
) -> None:
    lines = plan_text.wrap(items, width, " " * 8, " " * 12)

    assert " ".join(line.strip() for line in lines).split(" ") == (items or [""])
    for line in lines:
        if len(line) > width:
            head, _, last = line.rpartition(" ")
            assert len(head) <= width and len(last) > width - 12


# -- through the CLI, against the moto server ------------------------------------------------


@pytest.fixture
def columns(monkeypatch: pytest.MonkeyPatch):
    from cryptoconsumer.cli import terminal

    def set_width(width: int) -> None:
        for console in (terminal.out.real, terminal.err.real):
            monkeypatch.setattr(console, "_width", width)

    return set_width


MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
SOME_MOMENT = "2026-01-01T00:00:00Z"  # as long as any moment, so lines wrap the same


def _plan_of(result) -> Plan:
    """The plan the JSON document describes, to check the text of the same run against."""
    document = result.json()
    return _plan(
        *(
            Change(c["resource"], c["name"], c["action"], tuple(c["details"]))
            for c in document["changes"]
        )
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_plan_up_and_destroy_text_through_the_cli(
    run, make_stream, aws, columns, width: int
) -> None:
    columns(width)
    stream = make_stream()
    other = make_stream()

    def check(args: tuple[str, ...], summary: str) -> str:
        text = run(*args)
        assert text.exit_code == 0, str(text)
        document = (
            run(*args, "--output", "json") if "--dry-run" in args or args[0] == "plan" else None
        )
        if document is not None:
            # A replacement's start is the moment of planning: the two runs differ in it.
            document.stdout = MOMENT.sub(SOME_MOMENT, document.stdout)
            stdout = MOMENT.sub(SOME_MOMENT, text.stdout)
            assert_plan_text(_plan_of(document), stdout, width, summary)
        assert not ESCAPE.search(text.stdout + text.stderr)
        return text.stdout

    check(("plan", "--stream-arn", stream), "Plan: 13 to create, 0 to update, 0 to delete.")
    created = run("up", "--stream-arn", stream)
    assert created.exit_code == 0, str(created)
    assert "Done: 13 created, 0 updated, 0 deleted." in created.stdout
    outputs = run("up", "--stream-arn", stream, "--output", "json").json()["outputs"]
    for value in outputs.values():
        assert (value or "-") in created.stdout.split()  # no bucket without s3: "-"
    assert_never_folded(created.stdout, width)

    check(
        ("plan", "--stream-arn", stream),
        "Plan: 0 to create, 0 to update, 0 to delete; 13 unchanged.",
    )
    check(
        ("plan", "--stream-arn", stream, "--batch-size", "500", "--timeout", "30"),
        # The dashboard draws the timeout: it is updated too.
        "Plan: 0 to create, 4 to update, 0 to delete; 9 unchanged.",
    )
    check(
        ("plan", "--stream-arn", other, "--replace-mapping"),
        # The dashboard graphs the stream by name: it is updated too.
        "Plan: 0 to create, 3 to update, 1 to replace, 0 to delete; 9 unchanged.",
    )
    check(("destroy", "--dry-run"), "Plan: 0 to create, 0 to update, 12 to delete, 1 to retain.")
    check(
        ("destroy", "--dry-run", "--delete-table"), "Plan: 0 to create, 0 to update, 13 to delete."
    )


def test_up_with_nothing_to_change_says_no_changes(run, stream_arn) -> None:
    assert run("up", "--stream-arn", stream_arn).exit_code == 0

    again = run("up", "--stream-arn", stream_arn)

    assert again.exit_code == 0, str(again)
    assert again.stdout.splitlines()[0] == "stack crypto in us-east-1: no changes"
    assert "outputs:" in again.stdout


def test_the_destroy_prompt_shows_the_diff(run, stream_arn, monkeypatch, columns) -> None:
    from types import SimpleNamespace

    from cryptoconsumer.cli import stack_cmds

    columns(80)
    assert run("up", "--stream-arn", stream_arn).exit_code == 0
    monkeypatch.setattr(
        stack_cmds, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True))
    )

    refused = run("destroy", input="n\n")

    assert refused.exit_code == 2, str(refused)
    lines = refused.stderr.splitlines()
    assert "stack crypto in us-east-1: would change" in lines
    assert ["-", "function", FUNCTION] in [line.split() for line in lines]
    assert "Plan: 0 to create, 0 to update, 12 to delete, 1 to retain." in lines
    assert "Delete these resources?" in refused.stderr


# -- colour: a terminal only, never with NO_COLOR ---------------------------------------------


def _console(monkeypatch: pytest.MonkeyPatch, no_color: bool, terminal: bool):
    import io

    from cryptoconsumer.cli.console import GuardedConsole

    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    buffer = io.StringIO()
    console = GuardedConsole(
        file=buffer,
        force_terminal=terminal,
        color_system="standard",
        markup=False,
        highlight=False,
        soft_wrap=True,
        width=80,
    )
    return console, buffer


@pytest.mark.parametrize(
    ("no_color", "terminal", "coloured"),
    [(False, True, True), (True, True, False), (False, False, False), (True, False, False)],
)
def test_colour_only_on_a_terminal_without_no_color_and_every_symbol_stays(
    monkeypatch: pytest.MonkeyPatch, no_color: bool, terminal: bool, coloured: bool
) -> None:
    plan, _ = PLANS["replace"]
    console, buffer = _console(monkeypatch, no_color, terminal)

    console.print(plan_text.render_plan(plan, dry_run=True, width=80))

    written = buffer.getvalue()
    assert bool(ESCAPE.search(written)) is coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", written) == render(plan, 80) + "\n"


def _on_a_pty(args: list[str], env: dict[str, str]) -> str:
    """Run the CLI with a pseudo-terminal as stdout; what it wrote there."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "cryptoconsumer", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=60)
    os.close(leader)
    assert process.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode()


def test_on_a_real_terminal_the_plan_is_coloured_unless_no_color(moto, stream_arn) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", COLUMNS="80")
    args = ["plan", "--stream-arn", stream_arn, "--endpoint-url", moto.url]

    coloured = _on_a_pty(args, env)
    plain = _on_a_pty(args, {**env, "NO_COLOR": "1"})

    assert ESCAPE.search(coloured)
    assert not ESCAPE.search(plain), repr(plain)
    assert "  +   table     crypto_intraday" in plain.replace("\r\n", "\n").splitlines()
    assert "Plan: 13 to create, 0 to update, 0 to delete." in plain


# -- plan --detailed-exitcode ------------------------------------------------------------------


def test_detailed_exitcode_is_2_with_changes_and_0_without(run, stream_arn) -> None:
    assert run("plan", "--stream-arn", stream_arn).exit_code == 0  # without the flag: 0

    changes = run("plan", "--stream-arn", stream_arn, "--detailed-exitcode")
    as_json = run("plan", "--stream-arn", stream_arn, "--detailed-exitcode", "--output", "json")
    assert run("up", "--stream-arn", stream_arn).exit_code == 0
    none = run("plan", "--stream-arn", stream_arn, "--detailed-exitcode")
    drift = run("plan", "--stream-arn", stream_arn, "--batch-size", "7", "--detailed-exitcode")

    assert changes.exit_code == 2, str(changes)
    assert "Plan: 13 to create" in changes.stdout
    assert as_json.exit_code == 2 and as_json.json()["changes"]
    assert none.exit_code == 0, str(none)
    assert drift.exit_code == 2, str(drift)


def test_detailed_exitcode_from_the_environment(run, stream_arn, monkeypatch) -> None:
    monkeypatch.setenv("CRYPTOCONSUMER_DETAILED_EXITCODE", "1")

    assert run("plan", "--stream-arn", stream_arn).exit_code == 2
    assert run("plan", "--stream-arn", stream_arn, "--batch-size", "x").exit_code == 1


@pytest.mark.parametrize(
    "bad",
    [
        ("--batch-size", "not-a-number"),  # refused by the option parser
        ("--output", "xml"),  # refused by the option parser
        ("--batch-size", "0"),  # refused by the desired-state validation
        ("--stack", ""),
    ],
)
def test_with_detailed_exitcode_bad_input_is_1_not_2(run, api_calls, stream_arn, bad) -> None:
    without = run("plan", "--stream-arn", stream_arn, *bad)
    api_calls.clear()

    with_flag = run("plan", "--stream-arn", stream_arn, *bad, "--detailed-exitcode")

    assert without.exit_code == 2, str(without)
    assert with_flag.exit_code == 1, str(with_flag)
    assert with_flag.stdout == ""
    assert api_calls.calls == []


def test_with_detailed_exitcode_aws_errors_and_blocked_plans_are_1(
    run, make_stream, stream_arn
) -> None:
    missing = stream_arn.replace("ticks", "missing-stream")
    assert run("up", "--stream-arn", stream_arn).exit_code == 0
    other = make_stream()

    no_stream = run("plan", "--stream-arn", missing, "--detailed-exitcode")
    blocked = run("plan", "--stream-arn", other, "--detailed-exitcode")

    assert no_stream.exit_code == 1, str(no_stream)
    assert blocked.exit_code == 1, str(blocked)
    assert "--replace-mapping" in blocked.stderr


def test_plan_notes_and_blocked_changes_are_shown() -> None:
    plan = Plan(
        "up",
        "crypto",
        "us-east-1",
        (Change("mapping", UUID, "replace", ("checkpoints reset",), blocked="needs a flag"),),
        notes=("the new mapping starts 10 min back: the old one's iterator age",),
    )

    lines = render(plan, 80).splitlines()

    assert "        blocked: needs a flag" in lines
    assert "  note: the new mapping starts 10 min back: the old one's iterator age" in lines
