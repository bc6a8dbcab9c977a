"""build_config: every option validated, edges accepted, one InputError for anything else."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryptoconsumer.config import (
    LOG_RETENTION_DAYS,
    StackOptions,
    build_config,
    parse_stream_arn,
    parse_timestamp,
)
from cryptoconsumer.errors import InputError

ARN = "arn:aws:kinesis:eu-west-2:123456789012:stream/ticks"


def config(**options):
    return build_config(StackOptions(stream_arn=ARN, **options))


def test_defaults_name_tag_and_size_the_stack():
    built = config()

    assert built.stack == "crypto"
    assert built.region == "eu-west-2"  # from the stream's ARN
    assert built.table.name == "crypto_intraday"
    assert built.function.name == "crypto_data_consumer"
    assert built.queue is not None and built.queue.name == "crypto_data_consumer-dlq"
    assert built.role.name == "crypto_data_consumer-role"
    assert built.log_group.name == "/aws/lambda/crypto_data_consumer"
    assert built.tags == {"cryptoconsumer:stack": "crypto", "managed-by": "cryptoconsumer"}
    assert (built.table.billing_mode, built.table.point_in_time_recovery) == (
        "PAY_PER_REQUEST",
        True,
    )
    assert built.table.deletion_protection is True
    assert (built.function.runtime, built.function.architecture) == ("python3.12", "arm64")
    assert (built.function.memory, built.function.timeout) == (256, 20)
    assert built.mapping.batch_size == 100
    assert built.mapping.starting_position == "LATEST"
    assert built.mapping.max_retries == 3
    assert built.mapping.max_record_age == 3600
    assert built.mapping.bisect_on_error is True
    assert built.mapping.report_batch_item_failures is True
    assert built.log_group.retention_days == 30


def test_the_stack_name_prefixes_every_default_name():
    built = config(stack="blue-2")

    assert built.table.name == "blue-2_intraday"
    assert built.function.name == "blue-2_data_consumer"
    assert built.log_group.name == "/aws/lambda/blue-2_data_consumer"
    assert built.tags["cryptoconsumer:stack"] == "blue-2"


def test_no_dlq_means_no_queue():
    assert config(dlq=False).queue is None


def test_the_configuration_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        config().table.name = "other"  # type: ignore[misc]


def test_region_may_be_given_when_it_matches_the_stream():
    assert config(region="eu-west-2").region == "eu-west-2"


def test_without_a_stream_the_region_is_whatever_was_given():
    built = build_config(StackOptions(region="us-west-2"))
    assert built.stream is None and built.region == "us-west-2"


@pytest.mark.parametrize(
    ("arn", "partition", "region", "account", "name"),
    [
        (ARN, "aws", "eu-west-2", "123456789012", "ticks"),
        (
            "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b_c-d",
            "aws-cn",
            "cn-north-1",
            "123456789012",
            "a.b_c-d",
        ),
        (
            "arn:aws-us-gov:kinesis:us-gov-west-1:000000000000:stream/" + "s" * 128,
            "aws-us-gov",
            "us-gov-west-1",
            "000000000000",
            "s" * 128,
        ),
    ],
)
def test_stream_arns_are_parsed(arn, partition, region, account, name):
    stream = parse_stream_arn(arn)
    assert (stream.partition, stream.region, stream.account, stream.name) == (
        partition,
        region,
        account,
        name,
    )


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "ticks",
        "arn:aws:kinesis:us-east-1:123456789012:stream/" + "s" * 129,
        "arn:aws:kinesis:us-east-1:123456789012:stream/bad name",
        "arn:aws:kinesis:us-east-1:123456789012:stream/ticks/consumer/c:1",
        "arn:aws:kinesis:US-EAST-1:123456789012:stream/ticks",
        "arn:aws:firehose:us-east-1:123456789012:deliverystream/ticks",
    ],
)
def test_malformed_stream_arns_are_refused(arn):
    with pytest.raises(InputError, match="malformed stream ARN"):
        parse_stream_arn(arn)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("table_name", "abc"),
        ("table_name", "t" * 255),
        ("table_name", "A-Z_a.z-0.9"),
        ("function_name", "f" * 64),
        ("function_name", "F_-9"),
        ("role_name", "r" * 64),
        ("role_name", "a+b=c,d.e@f_g-h"),
        ("queue_name", "q" * 80),
        ("queue_name", "Q_-1"),
        ("stack", "s" * 32),
    ],
)
def test_names_at_the_edge_of_their_rules_are_accepted(option, value):
    config(**{option: value})


@pytest.mark.parametrize(
    ("option", "low", "high", "extra"),
    [
        ("batch_size", 1, 10000, ()),
        ("batch_window", 0, 300, ()),
        ("parallelization_factor", 1, 10, ()),
        ("max_retries", 0, 10000, (-1,)),
        ("max_record_age", 60, 604800, (-1,)),
        ("timeout", 1, 900, ()),
        ("memory", 128, 10240, ()),
    ],
)
def test_numbers_are_accepted_exactly_within_their_ranges(option, low, high, extra):
    for value in (low, high, *extra):
        config(**{option: value})
    for value in (low - 1, high + 1):
        if value in extra:
            continue
        with pytest.raises(InputError, match="out of range"):
            config(**{option: value})


def test_max_record_age_between_minus_one_and_sixty_is_refused():
    for value in (-2, 0, 1, 59):
        with pytest.raises(InputError, match="--max-record-age"):
            config(max_record_age=value)


def test_every_retention_cloudwatch_accepts_is_accepted_and_no_other():
    for days in LOG_RETENTION_DAYS:
        assert config(log_retention_days=days).log_group.retention_days == days
    for days in set(range(0, 4000)) - set(LOG_RETENTION_DAYS):
        with pytest.raises(InputError):
            config(log_retention_days=days)


@pytest.mark.parametrize("runtime", ["python3.9", "python3.12", "python3.13", "python3.100"])
def test_python_runtimes(runtime):
    if re.fullmatch(r"python3\.\d{1,2}", runtime):
        assert config(runtime=runtime).function.runtime == runtime
    else:
        with pytest.raises(InputError):
            config(runtime=runtime)


def test_provisioned_capacity_is_carried():
    built = config(billing_mode="PROVISIONED", read_capacity=5, write_capacity=7)
    assert (built.table.billing_mode, built.table.read_capacity, built.table.write_capacity) == (
        "PROVISIONED",
        5,
        7,
    )


def test_managed_policies_are_deduplicated_and_sorted():
    built = config(
        managed_policies=(
            "arn:aws:iam::aws:policy/b/ReadOnly",
            "arn:aws:iam::123456789012:policy/a",
            "arn:aws:iam::aws:policy/b/ReadOnly",
        )
    )
    assert built.role.managed_policy_arns == (
        "arn:aws:iam::123456789012:policy/a",
        "arn:aws:iam::aws:policy/b/ReadOnly",
    )


def test_starting_position_is_case_insensitive_and_timestamps_are_utc():
    assert config(starting_position="trim_horizon").mapping.starting_position == "TRIM_HORIZON"
    built = config(starting_position="AT_TIMESTAMP", starting_timestamp="2026-11-24T16:05:00+02:00")
    assert built.mapping.starting_timestamp == datetime(2026, 11, 24, 14, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T14:05:00Z", datetime(2026, 11, 24, 14, 5, tzinfo=timezone.utc)),
        ("2026-11-24T14:05:00", datetime(2026, 11, 24, 14, 5, tzinfo=timezone.utc)),
        ("2026-11-24T09:05:00-05:00", datetime(2026, 11, 24, 14, 5, tzinfo=timezone.utc)),
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=timezone.utc)),
    ],
)
def test_timestamps(text, expected):
    assert parse_timestamp(text) == expected


# -- property: whatever the text, a name is accepted exactly when AWS's rule says so -----------

TEXT = st.text(
    alphabet=st.sampled_from("abcXYZ019_-.+=,@/: é\t\n"),
    min_size=0,
    max_size=90,
)
RULES = {
    "table_name": r"[A-Za-z0-9_.-]{3,255}",
    "function_name": r"[A-Za-z0-9_-]{1,64}",
    "role_name": r"[\w+=,.@-]{1,64}",
    "queue_name": r"[A-Za-z0-9_-]{1,80}",
}


@given(option=st.sampled_from(sorted(RULES)), name=TEXT)
def test_a_name_is_accepted_exactly_when_it_follows_the_aws_rule(option, name):
    valid = re.fullmatch(RULES[option], name, flags=re.ASCII) is not None
    try:
        config(**{option: name})
    except InputError as error:
        assert not valid, f"{option}={name!r} refused: {error}"
        assert "\n" not in str(error)
    else:
        assert valid, f"{option}={name!r} accepted"


@given(
    batch_size=st.integers(-5, 10005),
    window=st.integers(-5, 305),
    factor=st.integers(-1, 12),
)
def test_numbers_are_accepted_exactly_within_range(batch_size, window, factor):
    valid = 1 <= batch_size <= 10000 and 0 <= window <= 300 and 1 <= factor <= 10
    try:
        config(batch_size=batch_size, batch_window=window, parallelization_factor=factor)
    except InputError:
        assert not valid
    else:
        assert valid


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("table_name", "prices\n"),
        ("function_name", "consumer\n"),
        ("queue_name", "dead\n"),
        ("role_name", "rôle"),
        ("role_name", "role\n"),
        ("stack", "blue\n"),
        ("runtime", "python3.12\n"),
        ("managed_policies", ("arn:aws:iam::aws:policy/ReadOnly\n",)),
        ("managed_policies", ("arn:aws:iam::aws:policy/Lecture-Seule-é",)),
    ],
)
def test_a_trailing_newline_or_a_non_ascii_letter_is_refused(option, value):
    """Python's `$` matches before a final newline and its `\\w` is Unicode; AWS's are not."""
    with pytest.raises(InputError):
        config(**{option: value})


# -- mapping filters, their key, mapping metrics; limits from Lambda's API model -----------------

USD = '{"data": {"to_currency_code": ["USD"]}}'
KEY = "arn:aws:kms:eu-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_mapping_ranges_are_the_api_models(monkeypatch):
    from cryptoconsumer import lambda_model

    assert lambda_model.mapping_range("BatchSize") == (1, 10000)
    assert lambda_model.mapping_range("MaximumBatchingWindowInSeconds") == (0, 300)
    assert lambda_model.mapping_range("ParallelizationFactor") == (1, 10)
    assert lambda_model.mapping_range("MaximumRetryAttempts") == (-1, 10000)
    assert lambda_model.mapping_range("MaximumRecordAgeInSeconds") == (-1, 604800)
    assert lambda_model.shape_max("Pattern") == 4096
    # A botocore whose model says otherwise is followed.
    monkeypatch.setattr(lambda_model, "mapping_range", lambda member: (1, 50))
    config(batch_size=50)
    with pytest.raises(InputError, match=r"--batch-size 51 is out of range \(1-50\)"):
        config(batch_size=51)


def test_options_that_do_not_apply_to_this_consumer_are_not_offered():
    from cryptoconsumer.config import OPTION_FIELDS

    # ProvisionedPollerConfig is for Kafka and SQS; tumbling windows need an aggregating
    # function (README, "Filters").
    assert not [f for f in OPTION_FIELDS if "poller" in f or "tumbling" in f]


def test_filters_are_sent_as_canonical_json_and_metrics_default_on():
    mapping = config(filter=('{ "data" : { "b": [1], "a": ["x"] } }',)).mapping
    assert mapping.filters == ('{"data":{"a":["x"],"b":[1]}}',)
    assert mapping.metrics is True
    assert config(mapping_metrics=False).mapping.metrics is False
    assert config().mapping.filters == ()


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        (("{",), r"--filter: the pattern is not valid JSON"),
        (('["data"]',), r"--filter: the pattern must be a JSON object"),
        (('{"partitionKey": ["a"]}',), r"--filter: partitionKey: a Kinesis mapping filters only"),
        (
            ('{"$or": [{"data": {"a": [1]}}, {"sequenceNumber": ["1"]}]}',),
            r"--filter: \$or\[1\]\.sequenceNumber: a Kinesis mapping filters only",
        ),
        (('{"data": {"a": []}}',), r"--filter: data\.a: empty arrays are not allowed"),
        (('{"data": {"a": "x"}}',), r"--filter: data\.a must be an object or an array"),
        (('{"data": {"a": [{"prefx": "x"}]}}',), r"data\.a: unknown operator 'prefx'"),
        (('{"data": {"a": [{"numeric": [">", "1"]}]}}',), "numeric compares with numbers"),
        (('{"data": {"a": [{"exists": "yes"}]}}',), "exists takes true or false"),
        (('{"data": {"$or": [{"a": [1]}]}}',), r"data\.\$or must be an array of at least two"),
        (('{"data": {}}',), r"--filter: data is empty"),
        ((USD, "{"), r"--filter #2: the pattern is not valid JSON"),
        ((USD, ' {"data":{"to_currency_code":["USD"]}}'), "the same pattern is given twice"),
        (tuple(f'{{"data": {{"n": [{n}]}}}}' for n in range(6)), "at most 5 patterns"),
        (('{"data": {"a": ["' + "x" * 4096 + '"]}}',), "at most 4096 characters"),
        (("[" * 4000,), "not valid JSON|nested too deeply"),
    ],
)
def test_bad_filter_patterns_are_refused_naming_the_bad_part(patterns, message):
    with pytest.raises(InputError, match=message):
        config(filter=patterns)


def test_documented_pattern_shapes_are_accepted():
    config(
        filter=(
            '{"data": {"a": [{"prefix": "x"}], "b": [{"suffix": "y"}], '
            '"c": [{"anything-but": ["z"]}], "d": [{"numeric": [">", 0, "<=", 5]}], '
            '"e": [{"exists": true}], "f": [{"equals-ignore-case": "q"}], '
            '"g": [{"wildcard": "a*b"}], "h": {"nested": [null, true, 1.5, "s"]}}}',
            '{"$or": [{"data": {"a": [1]}}, {"data": {"b": [2]}}]}',
        )
    )


def test_only_tickers_and_filter_are_one_setting():
    with pytest.raises(InputError, match="--only-tickers and --filter"):
        config(filter=(USD,), only_tickers="BTCUSD")
    with pytest.raises(InputError, match="--only-tickers: 'BTC' is not a ticker"):
        config(only_tickers="BTC")
    with pytest.raises(InputError, match="--only-tickers: a ticker is listed twice"):
        config(only_tickers="BTCUSD,btcusd")
    with pytest.raises(InputError, match="over Lambda's 4096: list fewer"):
        config(only_tickers=",".join(f"C{n}USD" for n in range(200)))


def test_a_stronger_source_of_either_filter_spelling_replaces_the_other():
    from cryptoconsumer.config import Layer, layered

    given, origins = layered(
        Layer("command line", StackOptions(only_tickers="BTCUSD")),
        Layer("recorded", StackOptions(filter=(USD,))),
    )
    assert (given.only_tickers, given.filter) == ("BTCUSD", None)
    assert "filter" not in origins
    given, _ = layered(
        Layer("command line", StackOptions(filter=(USD,))),
        Layer("recorded", StackOptions(only_tickers="BTCUSD")),
    )
    assert (given.only_tickers, given.filter) == (None, (USD,))


def test_the_filter_key_is_a_kms_key_of_the_stream_region_with_filters():
    assert config(filter=(USD,), filter_kms_key=KEY).mapping.filter_kms_key == KEY
    with pytest.raises(InputError, match="is not a KMS key ARN"):
        config(filter=(USD,), filter_kms_key="arn:aws:kms:eu-west-2:123456789012:alias/mine")
    with pytest.raises(InputError, match="it needs --filter or --only-tickers"):
        config(filter_kms_key=KEY)
    with pytest.raises(InputError, match="in region us-east-1, the mapping in eu-west-2"):
        config(filter=(USD,), filter_kms_key=KEY.replace("eu-west-2", "us-east-1"))
