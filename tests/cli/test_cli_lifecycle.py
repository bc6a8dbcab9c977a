"""up / plan / status / destroy against moto: idempotence, drift, adoption, replacement, shapes."""

from __future__ import annotations

import json
import re

import pytest

from tests.aws_state import attached_policies, inline_policies, inventory, mappings_of, the_mapping

PLAN_KEYS = {"stack", "region", "dry_run", "changes", "outputs", "settings"}
CHANGE_KEYS = {"resource", "name", "action", "details"}
HOW_KEYS = {"order", "starting_position", "starting_timestamp", "reason"}
OUTPUT_KEYS = {
    "stream_arn",
    "table_arn",
    "queue_url",
    "role_arn",
    "function_arn",
    "mapping_uuid",
    "bucket",
    "dashboard_url",
}
STATUS_KEYS = {"stack", "region", "deployed", "healthy", "resources"}
ROW_KEYS = {"resource", "name", "exists", "owned", "state", "drift"}
# The alarms and their topic come after what they watch: four alarms, three without a queue.
ALARMS = ["topic", "alarm", "alarm", "alarm", "alarm"]
RESOURCES = [
    "table",
    "queue",
    "log_group",
    "role",
    "function",
    "mapping",
    *ALARMS,
    "settings",
    "dashboard",
]
NO_DLQ_RESOURCES = [r for r in RESOURCES if r != "queue"]
NO_DLQ_RESOURCES.remove("alarm")
# `status` rows: the recorded settings are shown apart, not as a resource of their own.
STATUS_ROWS = [r for r in RESOURCES if r != "settings"]
TABLE, FUNCTION, ROLE = "crypto_intraday", "crypto_data_consumer", "crypto_data_consumer-role"
QUEUE, LOG_GROUP = "crypto_data_consumer-dlq", "/aws/lambda/crypto_data_consumer"
MUTATING_PREFIXES = ("Create", "Update", "Put", "Delete", "Attach", "Detach", "Tag", "Untag")


def up(run, stream_arn, *extra):
    result = run("up", "--stream-arn", stream_arn, "--output", "json", *extra)
    assert result.exit_code == 0, str(result)
    return result.json()


def status(run, stream_arn=None, *extra, expect=0):
    args = ["status", "--output", "json", *(["--stream-arn", stream_arn] if stream_arn else [])]
    result = run(*args, *extra)
    assert result.exit_code == expect, str(result)
    return result.json()


def actions(document) -> dict[str, str]:
    return {change["resource"]: change["action"] for change in document["changes"]}


def drift_of(document, resource) -> list[str]:
    """The drift of the resource's row (of all its rows: one per alarm)."""
    rows = [row for row in document["resources"] if row["resource"] == resource]
    assert rows, resource
    return [drift for row in rows for drift in row["drift"]]


def assert_plan_shape(document, dry_run: bool) -> None:
    assert set(document) == PLAN_KEYS
    assert document["stack"] == "crypto" and document["region"] == "us-east-1"
    assert document["dry_run"] is dry_run
    for change in document["changes"]:
        assert set(change) - {"how"} == CHANGE_KEYS
        assert isinstance(change["details"], list)
        if "how" in change:  # a mapping replacement: its order and start
            assert set(change["how"]) == HOW_KEYS
    assert set(document["outputs"]) == OUTPUT_KEYS


# -- a fresh up, its outputs, its JSON -------------------------------------------------------


def test_fresh_up_creates_everything_and_reports_it_as_one_json_document(
    run, moto, aws, stream_arn
):
    result = run("up", "--stream-arn", stream_arn, "--output", "json")

    assert result.exit_code == 0, str(result)
    document = json.loads(result.stdout)  # exactly one document: anything else fails here
    assert_plan_shape(document, dry_run=False)
    assert [c["resource"] for c in document["changes"]] == RESOURCES
    assert set(actions(document).values()) == {"create"}
    assert "created table crypto_intraday" in result.stderr  # progress goes to stderr

    found = inventory(aws)
    assert found.tables == (TABLE,)
    assert found.queues == (QUEUE,)
    assert found.roles == (ROLE,)
    assert found.functions == (FUNCTION,)
    assert found.log_groups == (LOG_GROUP,)
    (mapping,) = found.mappings
    assert mapping[1:] == (FUNCTION, stream_arn)

    outputs = document["outputs"]
    assert outputs == {
        "stream_arn": stream_arn,
        "table_arn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}",
        "queue_url": aws("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"],
        "role_arn": f"arn:aws:iam::123456789012:role/{ROLE}",
        "function_arn": f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}",
        "mapping_uuid": mapping[0],
        "bucket": None,
        "dashboard_url": "https://us-east-1.console.aws.amazon.com/cloudwatch/home"
        "?region=us-east-1#dashboards:name=crypto-consumer",
    }


def test_fresh_up_configures_each_resource_as_specified(run, aws, stream_arn):
    up(run, stream_arn)

    table = aws("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionProtectionEnabled"] is True
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
        ("ticker", "HASH"),
        ("last_refreshed", "RANGE"),
    ]
    backups = aws("dynamodb").describe_continuous_backups(TableName=TABLE)
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"

    url = aws("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]
    attributes = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    assert attributes["Attributes"]["MessageRetentionPeriod"] == str(14 * 24 * 3600)
    assert attributes["Attributes"]["SqsManagedSseEnabled"] == "true"

    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
    assert group["retentionInDays"] == 30

    config = aws("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert config["Runtime"] == "python3.12"
    assert config["Architectures"] == ["arm64"]
    assert (config["MemorySize"], config["Timeout"]) == (256, 20)
    assert config["Handler"] == "data_consumer_lambda.handler"
    assert config["Environment"]["Variables"] == {
        "DYNAMO_TABLE_NAME": TABLE,
        "DEAD_LETTER_QUEUE_URL": url,
    }
    assert config["Role"] == f"arn:aws:iam::123456789012:role/{ROLE}"

    mapping = the_mapping(aws)
    assert mapping["State"] == "Enabled"
    assert mapping["StartingPosition"] == "LATEST"
    assert mapping["BatchSize"] == 100
    assert mapping["MaximumRetryAttempts"] == 3
    assert mapping["MaximumRecordAgeInSeconds"] == 3600
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == (
        f"arn:aws:sqs:us-east-1:123456789012:{QUEUE}"
    )


# -- idempotence -----------------------------------------------------------------------------


def test_a_second_up_makes_read_calls_only(run, moto, api_calls, stream_arn):
    first = up(run, stream_arn)
    moto.clear_log()
    api_calls.clear()

    result = run("up", "--stream-arn", stream_arn, "--output", "json")

    assert result.exit_code == 0, str(result)
    assert "up to date: nothing to change" in result.stderr
    second = result.json()
    assert set(actions(second).values()) == {"none"}
    assert second["outputs"] == first["outputs"]
    assert api_calls.mutating() == [], api_calls.operations()
    assert moto.mutating() == [], moto.operations()
    assert not any(op.split(":")[1].startswith(MUTATING_PREFIXES) for op in api_calls.reads())
    # 17 reads of the stack (GetDashboard the 17th), 4 of its alarms and their topic (one
    # DescribeAlarms, then the topic's attributes, subscriptions and tags at once), the one
    # GetParameter of its recorded settings, and the failed-batches bucket's look-up
    # (GetCallerIdentity for its name, HeadBucket), all beside the role's chain of 4 reads.
    assert 0 < len(api_calls.calls) <= 24, api_calls.operations()
    assert len(moto.requests) == len(api_calls.calls)  # no retries, nothing hidden


def test_status_reads_alarms_and_metrics_in_one_call_each(run, moto, api_calls, stream_arn):
    up(run, stream_arn)
    moto.clear_log()
    api_calls.clear()

    status(run, stream_arn)

    assert api_calls.mutating() == [], api_calls.operations()
    operations = api_calls.operations()
    assert operations["cloudwatch:DescribeAlarms"] == 1
    assert operations["cloudwatch:GetMetricData"] == 1
    assert operations["cloudwatch:GetDashboard"] == 1
    # It made 18 (GetMetricData was already one call); DescribeAlarms, GetDashboard and the
    # failed-batches bucket's look-up (GetCallerIdentity, HeadBucket) and the alarms' topic
    # (GetTopicAttributes, ListSubscriptionsByTopic, ListTagsForResource) are new.
    assert len(api_calls.calls) <= 25, operations
    assert len(moto.requests) == len(api_calls.calls)


@pytest.mark.parametrize("situation", ["fresh", "deployed", "drifted"])
def test_plan_and_up_dry_run_print_the_same_plan_and_change_nothing(
    run, moto, aws, api_calls, stream_arn, situation
):
    if situation != "fresh":
        up(run, stream_arn)
    if situation == "drifted":
        mapping = the_mapping(aws)
        aws("lambda").update_event_source_mapping(UUID=mapping["UUID"], BatchSize=7)
    before = inventory(aws)
    moto.clear_log()
    api_calls.clear()

    planned = run("plan", "--stream-arn", stream_arn, "--output", "json")
    dry_run = run("up", "--dry-run", "--stream-arn", stream_arn, "--output", "json")

    assert planned.exit_code == 0 and dry_run.exit_code == 0, str(planned) + str(dry_run)
    assert_plan_shape(planned.json(), dry_run=True)
    assert planned.json() == dry_run.json()
    assert moto.mutating() == [] and api_calls.mutating() == []
    assert inventory(aws) == before
    expected = {
        "fresh": {"create"},
        "deployed": {"none"},
        "drifted": {"none", "update"},
    }[situation]
    assert set(actions(planned.json()).values()) == expected
    if situation == "drifted":
        assert actions(planned.json())["mapping"] == "update"
        (change,) = [c for c in planned.json()["changes"] if c["resource"] == "mapping"]
        assert change["details"] == ["batch size: 7 -> 100"]


def test_plan_in_text_shows_each_resource_and_action(run, stream_arn):
    result = run("plan", "--stream-arn", stream_arn)

    assert result.exit_code == 0, str(result)
    assert "stack crypto in us-east-1: would change" in result.stdout
    lines = [line.split() for line in result.stdout.splitlines()]
    for kind, name in zip(RESOURCES, (TABLE, QUEUE, LOG_GROUP, ROLE, FUNCTION), strict=False):
        assert ["+", kind, name] in lines


# -- drift: status exit 3, plan shows the update, up fixes it, status exit 0 ------------------


def _widen_policy(aws):
    aws("iam").put_role_policy(
        RoleName=ROLE,
        PolicyName="cryptoconsumer-least-privilege",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}],
            }
        ),
    )


def _attach_extra_policy(aws):
    iam = aws("iam")
    policy = iam.create_policy(
        PolicyName="extra-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=policy["Policy"]["Arn"])


def _extra_inline_policy(aws):
    aws("iam").put_role_policy(
        RoleName=ROLE,
        PolicyName="sneaky",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )


def _change_env(aws):
    current = aws("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    variables = dict(current["Environment"]["Variables"], DYNAMO_TABLE_NAME="elsewhere")
    aws("lambda").update_function_configuration(
        FunctionName=FUNCTION, Environment={"Variables": variables}
    )


def _set_mapping(**changes):
    def change(aws):
        mapping = the_mapping(aws)
        aws("lambda").update_event_source_mapping(UUID=mapping["UUID"], **changes)

    return change


def _pitr_off(aws):
    aws("dynamodb").update_continuous_backups(
        TableName=TABLE,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
    )


def _protection_off(aws):
    aws("dynamodb").update_table(TableName=TABLE, DeletionProtectionEnabled=False)


def _retention(aws):
    aws("logs").put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=7)


def _queue_retention(aws):
    url = aws("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]
    aws("sqs").set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "60"})


def _memory(aws):
    aws("lambda").update_function_configuration(FunctionName=FUNCTION, MemorySize=512)


def _check_mapping(**expected):
    def check(aws):
        mapping = the_mapping(aws)
        assert {key: mapping[key] for key in expected} == expected

    return check


def _check_policy(aws):
    assert list(inline_policies(aws, ROLE)) == ["cryptoconsumer-least-privilege"]
    (statement,) = [
        s
        for s in inline_policies(aws, ROLE)["cryptoconsumer-least-privilege"]["Statement"]
        if "dynamodb:BatchWriteItem" in s["Action"]
    ]
    assert statement["Resource"] == f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}"


def _check_no_managed(aws):
    assert attached_policies(aws, ROLE) == []


def _check_env(aws):
    variables = aws("lambda").get_function(FunctionName=FUNCTION)["Configuration"]["Environment"]
    assert variables["Variables"]["DYNAMO_TABLE_NAME"] == TABLE


def _check_pitr(aws):
    backups = aws("dynamodb").describe_continuous_backups(TableName=TABLE)
    description = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert description["PointInTimeRecoveryStatus"] == "ENABLED"


def _check_protection(aws):
    assert aws("dynamodb").describe_table(TableName=TABLE)["Table"]["DeletionProtectionEnabled"]


def _check_retention(aws):
    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
    assert group["retentionInDays"] == 30


def _check_queue(aws):
    url = aws("sqs").get_queue_url(QueueName=QUEUE)["QueueUrl"]
    attributes = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    assert attributes["Attributes"]["MessageRetentionPeriod"] == str(14 * 24 * 3600)


def _check_memory(aws):
    assert aws("lambda").get_function(FunctionName=FUNCTION)["Configuration"]["MemorySize"] == 256


DRIFTS = [
    # (id, how AWS drifts, resource, expected drift line, operations `up` uses, check)
    (
        "batch-size",
        _set_mapping(BatchSize=10),
        "mapping",
        "batch size: 10 -> 100",
        {"lambda:UpdateEventSourceMapping"},
        _check_mapping(BatchSize=100),
    ),
    (
        "mapping-disabled",
        _set_mapping(Enabled=False),
        "mapping",
        "state: Disabled -> Enabled",
        {"lambda:UpdateEventSourceMapping"},
        _check_mapping(State="Enabled"),
    ),
    (
        "max-retries",
        _set_mapping(MaximumRetryAttempts=-1),
        "mapping",
        "maximum retry attempts: -1 -> 3",
        {"lambda:UpdateEventSourceMapping"},
        _check_mapping(MaximumRetryAttempts=3),
    ),
    (
        "function-env",
        _change_env,
        "function",
        f"environment DYNAMO_TABLE_NAME: elsewhere -> {TABLE}",
        {"lambda:UpdateFunctionConfiguration"},
        _check_env,
    ),
    (
        "function-memory",
        _memory,
        "function",
        "memory: 512 -> 256",
        {"lambda:UpdateFunctionConfiguration"},
        _check_memory,
    ),
    (
        "policy-widened",
        _widen_policy,
        "role",
        "inline policy cryptoconsumer-least-privilege differs from least privilege: rewrite",
        {"iam:PutRolePolicy"},
        _check_policy,
    ),
    (
        "extra-inline-policy",
        _extra_inline_policy,
        "role",
        "extra inline policy sneaky: delete",
        {"iam:DeleteRolePolicy"},
        _check_policy,
    ),
    (
        "extra-managed-policy",
        _attach_extra_policy,
        "role",
        "managed policy arn:aws:iam::123456789012:policy/extra-read: detach",
        {"iam:DetachRolePolicy"},
        _check_no_managed,
    ),
    (
        "pitr-off",
        _pitr_off,
        "table",
        "point-in-time recovery: False -> True",
        {"dynamodb:UpdateContinuousBackups"},
        _check_pitr,
    ),
    (
        "deletion-protection-off",
        _protection_off,
        "table",
        "deletion protection: False -> True",
        {"dynamodb:UpdateTable"},
        _check_protection,
    ),
    (
        "log-retention",
        _retention,
        "log_group",
        "retention days: 7 -> 30",
        {"logs:PutRetentionPolicy"},
        _check_retention,
    ),
    (
        "queue-retention",
        _queue_retention,
        "queue",
        f"message retention: 60 s -> {14 * 24 * 3600} s",
        {"sqs:SetQueueAttributes"},
        _check_queue,
    ),
]


@pytest.mark.parametrize(
    ("drift", "resource", "line", "operations", "check"),
    [d[1:] for d in DRIFTS],
    ids=[d[0] for d in DRIFTS],
)
def test_drift_is_reported_planned_and_fixed(
    run, moto, aws, api_calls, stream_arn, drift, resource, line, operations, check
):
    up(run, stream_arn)
    assert status(run, stream_arn)["healthy"] is True
    drift(aws)

    found = status(run, stream_arn, expect=3)
    assert drift_of(found, resource) == [line]
    assert all(drift_of(found, r) == [] for r in STATUS_ROWS if r != resource)

    planned = run("plan", "--stream-arn", stream_arn, "--output", "json").json()
    assert {r: a for r, a in actions(planned).items() if a != "none"} == {resource: "update"}
    (change,) = [c for c in planned["changes"] if c["resource"] == resource]
    assert change["details"] == [line]

    api_calls.clear()
    fixed = up(run, stream_arn)
    assert actions(fixed)[resource] == "update"
    assert set(api_calls.mutating()) == operations, api_calls.operations()
    check(aws)
    assert status(run, stream_arn)["healthy"] is True  # exit 0: no drift left


def test_status_finds_the_stream_from_the_mapping_when_not_given(run, stream_arn):
    up(run, stream_arn)

    found = status(run)

    assert found["deployed"] is True and found["healthy"] is True
    assert all(row["drift"] == [] for row in found["resources"])


def test_status_json_shape_and_exit_codes(run, aws, stream_arn):
    missing = status(run, stream_arn, expect=3)
    assert set(missing) >= STATUS_KEYS
    assert (missing["stack"], missing["region"]) == ("crypto", "us-east-1")
    assert missing["deployed"] is False and missing["healthy"] is False
    assert [row["resource"] for row in missing["resources"]] == STATUS_ROWS
    for row in missing["resources"]:
        assert set(row) >= ROW_KEYS
        assert row["exists"] is False and row["state"] == "missing"

    up(run, stream_arn)
    deployed = status(run, stream_arn)
    assert deployed["deployed"] is True and deployed["healthy"] is True
    assert [row["resource"] for row in deployed["resources"]] == STATUS_ROWS
    for row in deployed["resources"]:
        assert row["exists"] is True and row["owned"] is True and row["drift"] == []
    assert next(r for r in deployed["resources"] if r["resource"] == "mapping")["state"] == (
        "Enabled"
    )

    aws("lambda").delete_function(FunctionName=FUNCTION)
    broken = status(run, stream_arn, expect=3)
    assert broken["deployed"] is False
    function_row = next(r for r in broken["resources"] if r["resource"] == "function")
    assert function_row["exists"] is False


def test_status_text_summary(run, stream_arn):
    up(run, stream_arn)

    result = run("status", "--stream-arn", stream_arn)

    assert result.exit_code == 0, str(result)
    assert result.stdout.rstrip().splitlines()[-1] == "healthy, no drift"


# -- function updates touch only what differs -------------------------------------------------


def test_a_code_change_updates_only_the_code(
    run, aws, api_calls, stream_arn, tmp_path, monkeypatch
):
    from cryptoconsumer import package

    up(run, stream_arn)
    source = tmp_path / "handler"
    source.mkdir()
    for path in package.handler_sources(package.handler_dir()):
        (source / path.name).write_bytes(path.read_bytes())
    with (source / "data_consumer_lambda.py").open("a") as handler:
        handler.write("\n# a code change\n")
    original = package.build
    monkeypatch.setattr(package, "build", lambda source_dir=None: original(source))
    new_sha = original(source).code_sha256

    planned = run("plan", "--stream-arn", stream_arn, "--output", "json").json()
    (change,) = [c for c in planned["changes"] if c["action"] != "none"]
    assert change["resource"] == "function"
    assert len(change["details"]) == 1 and change["details"][0].startswith("code: CodeSha256 ")
    assert change["details"][0].endswith(f"-> {new_sha}")

    api_calls.clear()
    up(run, stream_arn)

    assert api_calls.mutating() == ["lambda:UpdateFunctionCode"], api_calls.operations()
    config = aws("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert config["CodeSha256"] == new_sha
    assert status(run, stream_arn)["healthy"] is True


@pytest.mark.parametrize(
    ("option", "value", "field", "expected"),
    [
        ("--memory", "512", "MemorySize", 512),
        ("--timeout", "60", "Timeout", 60),
        ("--runtime", "python3.13", "Runtime", "python3.13"),
    ],
)
def test_a_configuration_change_updates_only_the_configuration(
    run, aws, api_calls, stream_arn, option, value, field, expected
):
    up(run, stream_arn)
    code_before = aws("lambda").get_function(FunctionName=FUNCTION)["Configuration"]["CodeSha256"]
    api_calls.clear()

    document = up(run, stream_arn, option, value)

    # The dashboard draws the timeout against the duration: it changes with --timeout only.
    timeout = option == "--timeout"
    assert {r: a for r, a in actions(document).items() if a != "none"} == {
        "function": "update",
        "settings": "update",
        **({"dashboard": "update"} if timeout else {}),
    }
    assert sorted(api_calls.mutating()) == [
        *(["cloudwatch:PutDashboard"] if timeout else []),
        "lambda:UpdateFunctionConfiguration",
        "ssm:PutParameter",
    ]
    config = aws("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert config[field] == expected
    assert config["CodeSha256"] == code_before
    assert status(run, stream_arn, option, value)["healthy"] is True
    assert status(run)["healthy"] is True  # what was recorded, with no options at all
    status(run, stream_arn, "--reset", "all", expect=3)  # against the defaults it has drifted


def test_a_mapping_option_change_updates_the_mapping_in_place(run, aws, api_calls, stream_arn):
    up(run, stream_arn)
    uuid = the_mapping(aws)["UUID"]
    api_calls.clear()

    document = up(run, stream_arn, "--batch-size", "500", "--batch-window", "5")

    assert {r: a for r, a in actions(document).items() if a != "none"} == {
        "mapping": "update",
        "settings": "update",
    }
    assert sorted(api_calls.mutating()) == ["lambda:UpdateEventSourceMapping", "ssm:PutParameter"]
    mapping = the_mapping(aws)
    assert mapping["UUID"] == uuid
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (500, 5)


# -- the table outlives destroy and is adopted again ------------------------------------------


def test_destroy_keeps_the_table_and_a_later_up_adopts_it_with_its_items(
    run, aws, stream_arn, moto
):
    up(run, stream_arn)
    item = {"ticker": {"S": "BTC"}, "last_refreshed": {"S": "2026-11-25T12:00:00Z"}}
    aws("dynamodb").put_item(TableName=TABLE, Item=item)

    destroyed = run("destroy", "--yes")
    assert destroyed.exit_code == 0, str(destroyed)
    assert "--delete-table" in destroyed.stderr
    assert f"table {TABLE} kept with its data" in destroyed.stderr
    left = inventory(aws)
    assert left.tables == (TABLE,)
    assert left.functions == left.roles == left.queues == left.log_groups == left.mappings == ()

    moto.clear_log()
    again = up(run, stream_arn)

    assert actions(again)["table"] == "none"
    assert not [op for op in moto.mutating() if op.startswith("dynamodb:")]
    assert aws("dynamodb").get_item(TableName=TABLE, Key=item)["Item"] == item
    assert status(run, stream_arn)["healthy"] is True


def test_destroy_delete_table_removes_everything(run, aws, stream_arn):
    up(run, stream_arn)

    result = run("destroy", "--yes", "--delete-table", "--output", "json")

    assert result.exit_code == 0, str(result)
    document = result.json()
    assert_plan_shape(document, dry_run=False)
    assert set(actions(document).values()) == {"delete"}
    assert inventory(aws).empty
    status(run, stream_arn, expect=3)


# -- replacing the mapping needs an explicit opt-in --------------------------------------------


def test_a_new_stream_needs_replace_mapping(run, moto, aws, stream_arn, make_stream):
    up(run, stream_arn)
    old_uuid = the_mapping(aws)["UUID"]
    other = make_stream("ticks-elsewhere")
    moto.clear_log()

    refused = run("up", "--stream-arn", other)

    assert refused.exit_code == 1, str(refused)
    assert len(refused.error_lines) == 1
    assert "--replace-mapping" in refused.error_lines[0]
    assert moto.mutating() == []
    assert the_mapping(aws)["UUID"] == old_uuid

    planned = run("plan", "--stream-arn", other, "--replace-mapping", "--output", "json")
    assert planned.exit_code == 0, str(planned)
    (change,) = [c for c in planned.json()["changes"] if c["resource"] == "mapping"]
    # The JSON plan says the order and where the new mapping starts.
    assert_plan_shape(planned.json(), dry_run=True)
    assert change["how"]["order"] == "create_then_delete"
    assert change["how"]["starting_position"] == "AT_TIMESTAMP"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", change["how"]["starting_timestamp"])
    assert change["how"]["reason"] in change["details"]

    document = up(run, other, "--replace-mapping")

    mappings = mappings_of(aws, FUNCTION)
    assert len(mappings) == 1
    assert mappings[0]["EventSourceArn"] == other
    assert mappings[0]["UUID"] != old_uuid
    assert document["outputs"]["mapping_uuid"] == mappings[0]["UUID"]
    policy = inline_policies(aws, ROLE)["cryptoconsumer-least-privilege"]
    read_stream = next(s for s in policy["Statement"] if "kinesis:GetRecords" in s["Action"])
    assert read_stream["Resource"] == other
    assert status(run, other)["healthy"] is True


def test_a_new_starting_position_needs_replace_mapping(run, moto, aws, stream_arn):
    up(run, stream_arn)
    old_uuid = the_mapping(aws)["UUID"]
    moto.clear_log()

    refused = run("up", "--stream-arn", stream_arn, "--starting-position", "TRIM_HORIZON")

    assert refused.exit_code == 1, str(refused)
    assert "starting position: LATEST -> TRIM_HORIZON" in refused.stderr
    assert "--replace-mapping" in refused.stderr
    assert moto.mutating() == []

    document = up(run, stream_arn, "--starting-position", "TRIM_HORIZON", "--replace-mapping")

    assert actions(document)["mapping"] == "replace"
    (mapping,) = mappings_of(aws, FUNCTION)
    assert mapping["UUID"] != old_uuid
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    status(run, stream_arn, "--starting-position", "TRIM_HORIZON")


def test_at_timestamp_is_passed_to_the_mapping(run, aws, stream_arn):
    from moto.awslambda.models import lambda_backends

    when = "2026-11-24T14:05:00Z"
    up(run, stream_arn, "--starting-position", "AT_TIMESTAMP", "--starting-timestamp", when)

    mapping = the_mapping(aws)
    assert mapping["StartingPosition"] == "AT_TIMESTAMP"
    # moto keeps the timestamp but does not return it: read its backend (same process).
    stored = lambda_backends["123456789012"]["us-east-1"]._event_source_mappings[mapping["UUID"]]
    assert float(stored.starting_position_timestamp) == 1795529100.0
    again = up(run, stream_arn, "--starting-position", "AT_TIMESTAMP", "--starting-timestamp", when)
    assert set(actions(again).values()) == {"none"}


# -- options that shape the stack -------------------------------------------------------------


def test_no_dlq_makes_no_queue_and_grants_none(run, aws, stream_arn):
    document = up(run, stream_arn, "--no-dlq")

    assert [c["resource"] for c in document["changes"]] == NO_DLQ_RESOURCES
    assert document["outputs"]["queue_url"] is None
    assert inventory(aws).queues == ()
    config = aws("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert config["Environment"]["Variables"] == {"DYNAMO_TABLE_NAME": TABLE}
    assert (
        not (the_mapping(aws).get("DestinationConfig") or {})
        .get("OnFailure", {})
        .get("Destination")
    )
    policy = inline_policies(aws, ROLE)["cryptoconsumer-least-privilege"]
    assert not [s for s in policy["Statement"] if "sqs" in json.dumps(s)]
    found = status(run, stream_arn, "--no-dlq")
    assert [row["resource"] for row in found["resources"]] == [
        r for r in NO_DLQ_RESOURCES if r != "settings"
    ]


def test_another_stack_prefixes_every_name_and_tag(run, aws, stream_arn):
    up(run, stream_arn)
    document = run("up", "--stack", "other", "--stream-arn", stream_arn, "--output", "json").json()

    assert document["stack"] == "other"
    assert sorted(c["name"] for c in document["changes"] if c["resource"] == "alarm") == [
        "other-dead-letters",
        "other-errors",
        "other-iterator-age",
        "other-throttles",
    ]
    assert {c["resource"]: c["name"] for c in document["changes"] if c["resource"] != "alarm"} == {
        "topic": "other-alarms",
        "table": "other_intraday",
        "queue": "other_data_consumer-dlq",
        "log_group": "/aws/lambda/other_data_consumer",
        "role": "other_data_consumer-role",
        "function": "other_data_consumer",
        "mapping": f"{stream_arn.rsplit('/', 1)[-1]} -> other_data_consumer",
        "settings": "/cryptoconsumer/other/settings",
        "dashboard": "other-consumer",
    }
    found = inventory(aws)
    assert found.tables == ("crypto_intraday", "other_intraday")
    assert found.functions == ("crypto_data_consumer", "other_data_consumer")
    assert len(found.mappings) == 2
    assert status(run, stream_arn, "--stack", "other")["healthy"] is True

    run("destroy", "--stack", "other", "--yes", "--delete-table")
    found = inventory(aws)
    assert found.tables == ("crypto_intraday",)
    assert found.functions == ("crypto_data_consumer",)
    assert found.topics == ("crypto-alarms",)
    assert all(name.startswith("crypto-") for name in found.alarms) and len(found.alarms) == 4
    assert status(run, stream_arn)["healthy"] is True


def test_provisioned_billing(run, aws, stream_arn):
    args = ["--billing-mode", "PROVISIONED", "--read-capacity", "5", "--write-capacity", "5"]
    up(run, stream_arn, *args)

    table = aws("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    throughput = table["ProvisionedThroughput"]
    assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (5, 5)
    assert status(run, stream_arn, *args)["healthy"] is True
    assert status(run)["healthy"] is True  # as recorded
    # What if it were on demand: the recorded capacities go with the billing mode.
    found = status(run, stream_arn, "--billing-mode", "PAY_PER_REQUEST", expect=3)
    assert drift_of(found, "table") == ["billing mode: PROVISIONED -> PAY_PER_REQUEST"]


def test_custom_names(run, aws, stream_arn):
    names = {
        "--table-name": "prices.v2",
        "--function-name": "consume-prices",
        "--role-name": "consume+prices@role",
        "--queue-name": "prices-dead",
    }
    args = [arg for pair in names.items() for arg in pair]
    up(run, stream_arn, *args)

    found = inventory(aws)
    assert found.tables == ("prices.v2",)
    assert found.functions == ("consume-prices",)
    assert found.roles == ("consume+prices@role",)
    assert found.queues == ("prices-dead",)
    assert found.log_groups == ("/aws/lambda/consume-prices",)
    assert status(run, stream_arn, *args)["healthy"] is True
    assert run("destroy", "--yes", "--delete-table", *args).exit_code == 0
    assert inventory(aws).empty
