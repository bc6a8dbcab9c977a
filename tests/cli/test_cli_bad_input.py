"""Bad input: exit 2, one `error:` line on stderr, nothing on stdout, and not one AWS call.

Two witnesses prove "not one call": the moto server's request log and a wrapper around
botocore's single entry point for every operation in this process.
"""

from __future__ import annotations

import pytest

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/ticks"

# (extra arguments, a fragment the one error line must contain)
BAD_UP_INPUT = [
    # stream ARN
    (["--stream-arn", "ticks"], "malformed stream ARN 'ticks'"),
    (["--stream-arn", "arn:aws:kinesis:us-east-1:123456789012:table/ticks"], "malformed"),
    (["--stream-arn", "arn:aws:kinesis:us-east-1:12345:stream/ticks"], "malformed"),
    (["--stream-arn", "arn:aws:sqs:us-east-1:123456789012:stream/ticks"], "malformed"),
    (["--stream-arn", "arn:aws:kinesis:useast1:123456789012:stream/ticks"], "malformed"),
    (["--stream-arn", "arn:aws:kinesis:us-east-1:123456789012:stream/"], "malformed"),
    (["--stream-arn", ARN, "--region", "eu-west-1"], "--region is eu-west-1"),
    # names
    (["--stack", "bad stack"], "invalid stack name"),
    (["--stack", "s" * 33], "invalid stack name"),
    (["--table-name", "ab"], "invalid table name 'ab'"),
    (["--table-name", "t" * 256], "invalid table name"),
    (["--table-name", "bad/table"], "invalid table name"),
    (["--table-name", "bad table"], "invalid table name"),
    (["--function-name", "f" * 65], "invalid function name"),
    (["--function-name", "bad.function"], "invalid function name"),
    (["--function-name", "bad:function"], "invalid function name"),
    (["--role-name", "r" * 65], "invalid role name"),
    (["--role-name", "bad/role"], "invalid role name"),
    (["--role-name", "bad role"], "invalid role name"),
    (["--queue-name", "q" * 81], "invalid queue name"),
    (["--queue-name", "bad.queue"], "invalid queue name"),
    (["--queue-name", "bad queue"], "invalid queue name"),
    # numbers, each just outside its range on both sides
    (["--batch-size", "0"], "--batch-size 0 is out of range (1-10000)"),
    (["--batch-size", "10001"], "--batch-size 10001 is out of range"),
    (["--batch-window", "-1"], "--batch-window -1 is out of range (0-300)"),
    (["--batch-window", "301"], "--batch-window 301"),
    (["--parallelization-factor", "0"], "--parallelization-factor 0"),
    (["--parallelization-factor", "11"], "--parallelization-factor 11"),
    (["--max-retries", "-2"], "--max-retries -2 is out of range (0-10000 or -1)"),
    (["--max-retries", "10001"], "--max-retries 10001"),
    (["--max-record-age", "59"], "--max-record-age 59 is out of range (60-604800 or -1)"),
    (["--max-record-age", "0"], "--max-record-age 0"),
    (["--max-record-age", "-2"], "--max-record-age -2"),
    (["--max-record-age", "604801"], "--max-record-age 604801"),
    (["--timeout", "0"], "--timeout 0 is out of range (1-900)"),
    (["--timeout", "901"], "--timeout 901"),
    (["--memory", "127"], "--memory 127 is out of range (128-10240)"),
    (["--memory", "10241"], "--memory 10241"),
    (["--log-retention-days", "2"], "--log-retention-days 2 is not one CloudWatch Logs accepts"),
    (["--log-retention-days", "0"], "--log-retention-days 0"),
    (["--billing-mode", "ON_DEMAND"], "--billing-mode must be one of"),
    (
        ["--billing-mode", "PROVISIONED", "--read-capacity", "0", "--write-capacity", "5"],
        "--read-capacity 0",
    ),
    # starting position
    (
        ["--starting-position", "AT_TIMESTAMP", "--starting-timestamp", "yesterday"],
        "--starting-timestamp 'yesterday' is not ISO 8601",
    ),
    (["--starting-position", "EARLIEST"], "--starting-position must be one of"),
    # runtime, architecture, policies
    (["--runtime", "python2.7"], "--runtime 'python2.7' is not a Python runtime"),
    (["--runtime", "nodejs20.x"], "--runtime 'nodejs20.x'"),
    (["--runtime", "python3"], "--runtime 'python3'"),
    (["--architecture", "i386"], "--architecture must be one of"),
    (
        ["--managed-policy", "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"],
        "*FullAccess policies defeat least privilege",
    ),
    (["--managed-policy", "AmazonDynamoDBReadOnlyAccess"], "is not an IAM policy ARN"),
    # Found by hand (issue 8): each was a traceback, a 30 s retry, or silently wrong.
    (
        [
            "--starting-position",
            "AT_TIMESTAMP",
            "--starting-timestamp",
            "9999-12-31T23:59:59-01:00",
        ],
        "out of range in UTC",
    ),
    (["--runtime", "python3.99"], "not a Python runtime Lambda lists"),
    (["--region", "us-east-1\n"], "holds a control character"),
    (["--region", "us-east-1/../x"], "is not an AWS region name"),
    (["--region", "<b>eu-west-1</b>"], "is not an AWS region name"),
    (
        ["--stream-arn", "arn:aws-cn:kinesis:us-east-1:123456789012:stream/ticks"],
        "partition aws-cn does not match region us-east-1",
    ),
]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["status", "--region", "xx-fake-9"], "is not a region AWS has"),
        (["status", "--endpoint-url", "not a url"], "is not a usable endpoint URL"),
        (["status", "--endpoint-url", "ftp://127.0.0.1:21"], "must start with http"),
        (["status", "--endpoint-url", "http://"], "has no host"),
        (["status", "--endpoint-url", "http://127.0.0.1:99999"], "is not a usable endpoint URL"),
        (["status", "--window", "1" * 5000], "is not a duration"),
        (["status", "--window", "\uff11\uff15m"], "is not a duration"),
        (["history", "--ticker", "BTCUSD", "--since", "9" * 5000], "is not a duration"),
        (["latest", "--ticker", "\u00df"], "is not a ticker"),
        (["package", "-o", "/missing/dir/x.zip"], "does not exist"),
        (["package", "-o", "."], "give a file name"),
        (["dlq", "redrive", "--export", "/missing/dir/x.jsonl"], "does not exist"),
    ],
    ids=lambda v: str(v)[:50],
)
def test_issue_8_inputs_are_refused_before_any_call(run, moto, api_calls, args, fragment):
    # An unknown region is refused only without a custom endpoint (a local emulator takes any).
    bare = "--endpoint-url" in args or args[0] == "package" or "xx-fake-9" in args
    endpoint = [] if bare else ["--endpoint-url", moto.url]
    _assert_refused(run(*args, *endpoint, endpoint=False), fragment, moto, api_calls)


def test_an_empty_variable_is_an_error_not_the_default(run, moto, api_calls, monkeypatch):
    """`CRYPTOCONSUMER_STACK= cryptoconsumer destroy --yes --delete-table` once deleted `crypto`."""
    monkeypatch.setenv("CRYPTOCONSUMER_STACK", "")
    result = run("destroy", "--yes", "--delete-table")
    _assert_refused(result, "CRYPTOCONSUMER_STACK is set but empty", moto, api_calls)
    monkeypatch.delenv("CRYPTOCONSUMER_STACK")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    _assert_refused(
        run("status", endpoint=False), "AWS_ENDPOINT_URL is set but empty", moto, api_calls
    )


def test_destroy_without_yes_and_without_a_terminal_refuses_before_reading(run, moto, api_calls):
    result = run("destroy")
    _assert_refused(result, "destroy needs --yes", moto, api_calls)


# Rules between options that the stack's recorded settings may complete (capacity for a
# PROVISIONED table, a timestamp for AT_TIMESTAMP): judged once the record is read, the one
# call made, still before any change.
BAD_COMBINATIONS = [
    (["--billing-mode", "PROVISIONED"], "needs --read-capacity and --write-capacity"),
    (["--billing-mode", "PROVISIONED", "--read-capacity", "5"], "needs --read-capacity"),
    (["--read-capacity", "5", "--write-capacity", "5"], "need --billing-mode PROVISIONED"),
    (["--starting-position", "AT_TIMESTAMP"], "AT_TIMESTAMP needs --starting-timestamp"),
    (["--starting-timestamp", "2026-01-01T00:00:00Z"], "goes with --starting-position"),
]


@pytest.mark.parametrize(("extra", "fragment"), BAD_COMBINATIONS, ids=lambda v: str(v)[:60])
def test_up_refuses_bad_combinations_after_reading_only_the_record(
    run, moto, api_calls, extra, fragment
):
    result = run("up", "--stream-arn", ARN, *extra)
    assert result.exit_code == 2, str(result)
    assert len(result.error_lines) == 1 and fragment in result.error_lines[0], str(result)
    assert [str(r) for r in moto.requests] == ["ssm:GetParameter"]


def _assert_refused(result, fragment: str, moto, api_calls) -> None:
    assert result.exit_code == 2, str(result)
    assert result.stdout == "", str(result)
    assert len(result.error_lines) == 1, str(result)
    line = result.error_lines[0]
    assert line.startswith("error: "), str(result)
    assert fragment in line, str(result)
    assert moto.requests == [], "a request reached AWS"
    assert api_calls.calls == [], "botocore was asked to call AWS"


@pytest.mark.parametrize(("extra", "fragment"), BAD_UP_INPUT, ids=lambda v: str(v)[:60])
def test_up_refuses_bad_input_before_any_call(run, moto, api_calls, extra, fragment):
    args = ["up", *(["--stream-arn", ARN] if "--stream-arn" not in extra else []), *extra]
    _assert_refused(run(*args), fragment, moto, api_calls)


@pytest.mark.parametrize("command", ["plan", "status"])
@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--stream-arn", "nope"], "malformed stream ARN"),
        (["--stream-arn", ARN, "--region", "us-west-2"], "--region is us-west-2"),
        (["--table-name", "x"], "invalid table name"),
        (["--batch-size", "10001"], "--batch-size 10001"),
        (["--runtime", "ruby3.3"], "--runtime 'ruby3.3'"),
    ],
)
def test_plan_and_status_refuse_bad_input_before_any_call(
    run, moto, api_calls, command, extra, fragment
):
    _assert_refused(run(command, *extra), fragment, moto, api_calls)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--table-name", "x"], "invalid table name"),
        (["--function-name", "has space"], "invalid function name"),
        (["--stack", "no/slash"], "invalid stack name"),
    ],
)
def test_destroy_refuses_bad_input_before_any_call(run, moto, api_calls, extra, fragment):
    _assert_refused(run("destroy", "--yes", *extra), fragment, moto, api_calls)


def test_an_empty_name_is_refused_not_replaced_by_the_default(run, moto, api_calls):
    """`--table-name "$UNSET"` must not quietly deploy into the default table."""
    for option in ("--table-name", "--function-name", "--role-name", "--queue-name"):
        result = run("up", "--stream-arn", ARN, option, "")
        _assert_refused(result, f"{option} is empty", moto, api_calls)


def test_up_without_a_stream_reads_only_the_record_then_refuses(run, moto, api_calls):
    """With nothing recorded and no --stream-arn there is nothing to deploy from: the record
    is the one read (it could have held the stream), and nothing changes."""
    result = run("up")
    assert result.exit_code == 2, str(result)
    assert "--stream-arn is required" in result.error_lines[0]
    assert [str(r) for r in moto.requests] == ["ssm:GetParameter"]


def test_a_long_message_stays_on_one_line(run, moto, api_calls, monkeypatch):
    """Scripts read the one error line; rich must not wrap it at the terminal width."""
    from cryptoconsumer.cli import terminal

    monkeypatch.setattr(terminal.err.real, "_width", 40)
    long_arn = "arn:aws:kinesis:us-east-1:123456789012:streams/" + "x" * 100
    _assert_refused(run("up", "--stream-arn", long_arn), "malformed stream ARN", moto, api_calls)


def test_a_value_click_cannot_parse_exits_2_without_any_call(run, moto, api_calls):
    result = run("up", "--stream-arn", ARN, "--batch-size", "ten")
    assert result.exit_code == 2, str(result)
    assert "Invalid value for '--batch-size'" in result.stderr
    assert moto.requests == [] and api_calls.calls == []


def test_the_stream_arn_may_come_from_the_environment(run, moto, api_calls, monkeypatch):
    monkeypatch.setenv("CRYPTOCONSUMER_STREAM_ARN", "not-an-arn")
    _assert_refused(run("up"), "malformed stream ARN 'not-an-arn'", moto, api_calls)
