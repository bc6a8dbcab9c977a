"""The desired stack: frozen dataclasses built from options and validated before any AWS call."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from cryptoconsumer.errors import InputError
from cryptoconsumer.origins import (  # noqa: F401 - the origins are part of this API
    COMMAND_LINE,
    DEFAULT,
    ENVIRONMENT,
    GIVEN,
    RECORDED,
    STACK_FILE,
)

DEFAULT_STACK = "crypto"
MANAGED_BY = ("managed-by", "cryptoconsumer")
STACK_TAG = "cryptoconsumer:stack"

STREAM_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):kinesis:"
    r"(?P<region>[a-z]{2}(-[a-z]+)+-\d):(?P<account>\d{12}):stream/(?P<name>[A-Za-z0-9_.-]{1,128})$"
)
TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# AWS means ASCII by \w; and `$` alone would let "name\n" through: checks use fullmatch.
ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
STACK_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
RUNTIME = re.compile(r"^python3\.\d{1,2}$")
# A customer managed key by ARN (Lambda takes no alias for KMSKeyArn); mrk- keys are multi-Region.
KMS_KEY_ARN = re.compile(
    r"arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:key/[A-Za-z0-9-]{1,100}", re.ASCII
)
POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]{1,512}$", re.ASCII)

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
# fmt: off
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)
# fmt: on
STARTING_POSITIONS = ("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")
ARCHITECTURES = ("arm64", "x86_64")
BILLING_MODES = ("PAY_PER_REQUEST", "PROVISIONED")
HANDLER = "data_consumer_lambda.handler"
QUEUE_RETENTION_SECONDS = 14 * 24 * 3600
FAILURE_DESTINATIONS = ("sqs", "s3")
# S3 takes any positive number of days for an expiration; a century is our bound on typos.
MAX_FAILURE_RETENTION_DAYS = 36500
SNS_MANAGED_KEY = "alias/aws/sns"
TOPIC_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):sns:"
    r"(?P<region>[a-z]{2}(-[a-z]+)+-\d):(?P<account>\d{12}):(?P<name>[A-Za-z0-9_-]{1,256})$"
)
# An SNS email endpoint: one address, no display name, no list (RFC 5321 caps it at 254).
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class StreamRef:
    arn: str
    partition: str
    region: str
    account: str
    name: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    billing_mode: str = "PAY_PER_REQUEST"
    read_capacity: int | None = None
    write_capacity: int | None = None
    point_in_time_recovery: bool = True
    deletion_protection: bool = True


@dataclass(frozen=True)
class QueueSpec:
    name: str
    retention_seconds: int = QUEUE_RETENTION_SECONDS


@dataclass(frozen=True)
class LogGroupSpec:
    name: str
    retention_days: int = 30


@dataclass(frozen=True)
class RoleSpec:
    name: str
    managed_policy_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    runtime: str = "python3.12"
    architecture: str = "arm64"
    timeout: int = 20
    memory: int = 256
    handler: str = HANDLER


@dataclass(frozen=True)
class MappingSpec:
    batch_size: int = 100
    starting_position: str = "LATEST"
    starting_timestamp: datetime | None = None
    batch_window: int = 0
    parallelization_factor: int = 1
    bisect_on_error: bool = True
    max_retries: int = 3
    max_record_age: int = 3600
    report_batch_item_failures: bool = True
    # filters (--filter / --only-tickers, canonical JSON), their KMS key, mapping metrics
    filters: tuple[str, ...] = ()
    filter_kms_key: str | None = None
    metrics: bool = True


@dataclass(frozen=True)
class ConsumerSpec:
    """A registered stream consumer for enhanced fan-out; FUNCTION-efo (consumers take no tags,
    so the deterministic name is half of how they are recognised as ours)."""

    name: str


@dataclass(frozen=True)
class BucketSpec:
    """The S3 bucket Lambda writes failed batches to, records included. Its name needs the
    account (`failed_batches_bucket`), so it is derived once the account is known."""

    retention_days: int = 14


@dataclass(frozen=True)
class DashboardSpec:
    """The CloudWatch dashboard STACK-consumer; `alarms`: the ALARM_KINDS whose alarms exist
    (their states are one widget; none, no widget)."""

    name: str
    stack: str
    function_name: str
    timeout: int
    table_name: str
    queue_name: str | None
    alarms: tuple[str, ...] = ()


@dataclass(frozen=True)
class TopicSpec:
    """The stack's own SNS topic (STACK-alarms) and the addresses subscribed to it by email."""

    name: str
    emails: tuple[str, ...] = ()
    kms_key: str = SNS_MANAGED_KEY


@dataclass(frozen=True)
class AlarmsSpec:
    """The stack's CloudWatch alarms; they notify `topic` (ours) or `topic_arn` (someone's)."""

    iterator_age_seconds: int = 300
    # The dead-letter queue the dead-letters alarm watches; None with --no-dlq.
    queue_name: str | None = None
    topic: TopicSpec | None = None
    topic_arn: str | None = None


@dataclass(frozen=True)
class StackConfig:
    """Everything `up` would make, named and sized; `stream` is None when not given."""

    stack: str
    region: str | None
    table: TableSpec
    queue: QueueSpec | None
    log_group: LogGroupSpec
    role: RoleSpec
    function: FunctionSpec
    mapping: MappingSpec
    stream: StreamRef | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # With --no-dlq: the queue an earlier `up` may have made, so `up` can say it is kept and
    # `destroy` still removes it.
    retired_queue: QueueSpec | None = None
    consumer: ConsumerSpec | None = None
    # With --failure-destination s3: the failed-batches bucket (None: the queue gets them).
    bucket: BucketSpec | None = None
    # Alarms and their notifications (--no-alarms: None; `up` then removes ours).
    alarms: AlarmsSpec | None = None
    # What `up` records on the stack (option field -> value): every value not left to its
    # built-in default; and where every option's value came from (field -> origin).
    settings: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    # dashboard: None with --no-dashboard
    dashboard: DashboardSpec | None = None


@dataclass(frozen=True)
class StackOptions:
    """Option values as one source gave them; None means "not given here".

    The command line, the environment, the stack file and the settings recorded on the stack
    each give a StackOptions; `layered` picks, field by field, the first that gives a value,
    and `build_config` fills what none gave from DEFAULTS and validates the result.
    """

    stack: str | None = None
    region: str | None = None
    stream_arn: str | None = None
    table_name: str | None = None
    queue_name: str | None = None
    role_name: str | None = None
    function_name: str | None = None
    dlq: bool | None = None
    billing_mode: str | None = None
    read_capacity: int | None = None
    write_capacity: int | None = None
    log_retention_days: int | None = None
    managed_policies: tuple[str, ...] | None = None
    runtime: str | None = None
    architecture: str | None = None
    timeout: int | None = None
    memory: int | None = None
    batch_size: int | None = None
    starting_position: str | None = None
    starting_timestamp: str | None = None
    batch_window: int | None = None
    parallelization_factor: int | None = None
    max_retries: int | None = None
    max_record_age: int | None = None
    enhanced_fan_out: bool | None = None
    # mapping filters and metrics (issue 11)
    filter: tuple[str, ...] | None = None
    only_tickers: str | None = None
    filter_kms_key: str | None = None
    mapping_metrics: bool | None = None
    # S3 on-failure destination (issue 11)
    failure_destination: str | None = None
    failure_retention_days: int | None = None
    # dashboard
    dashboard: bool | None = None
    # alarms and notifications
    alarms: bool | None = None
    alarm_iterator_age: int | None = None
    alarm_email: tuple[str, ...] | None = None
    alarm_topic_arn: str | None = None


# What a field is when no source gives it.
DEFAULTS: dict[str, Any] = {
    "stack": DEFAULT_STACK,
    "dlq": True,
    "billing_mode": "PAY_PER_REQUEST",
    "log_retention_days": 30,
    "managed_policies": (),
    "runtime": "python3.12",
    "architecture": "arm64",
    "timeout": 20,
    "memory": 256,
    "batch_size": 100,
    "starting_position": "LATEST",
    "batch_window": 0,
    "parallelization_factor": 1,
    "max_retries": 3,
    "max_record_age": 3600,
    "enhanced_fan_out": False,
    # mapping metrics: a few CloudWatch metrics per mapping (README "Mapping metrics")
    "mapping_metrics": True,
    # S3 on-failure destination (issue 11)
    "failure_destination": "sqs",
    "failure_retention_days": 14,
    # dashboard
    "dashboard": True,
    # alarms and notifications
    "alarms": True,
    "alarm_iterator_age": 300,
    "alarm_email": (),
}
OPTION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(StackOptions))
# The stack's name and region say where the record is, so they are not part of it.
RECORDED_FIELDS: tuple[str, ...] = tuple(f for f in OPTION_FIELDS if f not in ("stack", "region"))


@dataclass(frozen=True)
class Layer:
    """One source of option values and what to call it."""

    origin: str
    options: StackOptions


# Fields that only mean something with one value of another: a stronger layer that sets the
# other field to anything else also takes the weaker layers' dependent values away
# (`--billing-mode PAY_PER_REQUEST` on a stack recorded PROVISIONED drops its capacities).
DEPENDENT_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "billing_mode": ("PROVISIONED", ("read_capacity", "write_capacity")),
    "starting_position": ("AT_TIMESTAMP", ("starting_timestamp",)),
    # S3 on-failure destination (issue 11)
    "failure_destination": ("S3", ("failure_retention_days",)),
    # alarms and notifications
    "alarms": ("TRUE", ("alarm_iterator_age", "alarm_email", "alarm_topic_arn")),
}
# Two spellings of one setting: a stronger layer that gives either takes the weaker layers'
# value of the other away (`--only-tickers` on a stack recorded with `--filter` replaces it).
ALTERNATIVE_FIELDS: tuple[tuple[str, str], ...] = (("filter", "only_tickers"),)


def layered(*layers: Layer) -> tuple[StackOptions, dict[str, str]]:
    """Field by field, the first layer that gives a value; and where each value came from."""
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    chosen_layer: dict[str, int] = {}
    for name in OPTION_FIELDS:
        for index, layer in enumerate(layers):
            value = getattr(layer.options, name)
            if value is not None:
                values[name] = value
                origins[name] = layer.origin
                chosen_layer[name] = index
                break
    for field_name, (needed, dependents) in DEPENDENT_FIELDS.items():
        if field_name not in values or str(values[field_name]).upper() == needed:
            continue
        for dependent in dependents:
            if chosen_layer.get(dependent, -1) > chosen_layer[field_name]:
                del values[dependent], origins[dependent]
    for first, second in ALTERNATIVE_FIELDS:
        if first in values and second in values and chosen_layer[first] != chosen_layer[second]:
            weaker = first if chosen_layer[first] > chosen_layer[second] else second
            del values[weaker], origins[weaker]
    return StackOptions(**values), origins


def option_flag(field_name: str) -> str:
    """The command-line spelling of a field: managed_policies -> --managed-policy."""
    return (
        "--managed-policy"
        if field_name == "managed_policies"
        else "--" + field_name.replace("_", "-")
    )


def recorded_fields(names: list[str] | tuple[str, ...]) -> frozenset[str]:
    """`--reset` values (option names, or `all`) as the recorded fields they name."""
    by_option = {option_flag(name).removeprefix("--"): name for name in RECORDED_FIELDS}
    chosen: set[str] = set()
    for name in names:
        key = name.strip().removeprefix("--")
        if key == "all":
            chosen.update(RECORDED_FIELDS)
        elif key in by_option:
            chosen.add(by_option[key])
        else:
            raise InputError(
                f"--reset {name!r} is not a setting `up` records "
                f"({', '.join(sorted(by_option))}, or all)"
            )
    return frozenset(chosen)


def parse_stream_arn(arn: str) -> StreamRef:
    match = STREAM_ARN.match(arn.strip())
    if not match:
        raise InputError(
            f"malformed stream ARN {arn!r}: expected arn:aws:kinesis:REGION:ACCOUNT:stream/NAME"
        )
    return StreamRef(
        arn=arn.strip(),
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
        name=match["name"],
    )


def parse_topic_arn(arn: str) -> re.Match[str]:
    match = TOPIC_ARN.fullmatch(arn)
    if not match:
        raise InputError(
            f"--alarm-topic-arn {arn!r} is not an SNS topic ARN "
            "(arn:aws:sns:REGION:ACCOUNT:NAME, a standard topic)"
        )
    return match


def _check_email(address: str) -> None:
    if len(address) > 254 or not EMAIL.fullmatch(address):
        raise InputError(f"--alarm-email {address!r} is not one e-mail address (name@domain)")


def _check_name(kind: str, value: str, pattern: re.Pattern[str], rule: str) -> str:
    if not pattern.fullmatch(value):
        raise InputError(f"invalid {kind} name {value!r}: must be {rule}")
    return value


def _check_range(option: str, value: int, low: int, high: int, *extra: int) -> int:
    if value in extra or low <= value <= high:
        return value
    allowed = f"{low}-{high}" + "".join(f" or {x}" for x in extra)
    raise InputError(f"{option} {value} is out of range ({allowed})")


def parse_timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--starting-timestamp {value!r} is not ISO 8601 (e.g. 2026-11-24T14:05:00Z)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise InputError(f"--starting-timestamp {value!r} is out of range in UTC") from None


def _check_type(name: str, value: Any) -> None:
    """Values from the stack file and the record arrive typed; refuse the wrong type."""
    expected = {f.name: f.type for f in fields(StackOptions)}[name]
    if "bool" in expected:
        ok = isinstance(value, bool)
    elif "int" in expected:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif "tuple" in expected:
        ok = isinstance(value, tuple) and all(isinstance(item, str) for item in value)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise InputError(f"{option_flag(name)} {value!r} has the wrong type")


def _check_managed_policy(arn: str) -> None:
    if not POLICY_ARN.fullmatch(arn):
        raise InputError(f"--managed-policy {arn!r} is not an IAM policy ARN")
    if arn.rsplit("/", 1)[-1].endswith("FullAccess"):
        raise InputError(
            f"--managed-policy {arn!r}: *FullAccess policies defeat least privilege; "
            "attach a narrower policy"
        )


def _check_log_retention(days: int) -> None:
    if days not in LOG_RETENTION_DAYS:
        raise InputError(
            f"--log-retention-days {days} is not one CloudWatch Logs accepts "
            f"({', '.join(map(str, LOG_RETENTION_DAYS))})"
        )


def _check_runtime(runtime: str) -> None:
    from cryptoconsumer.regions import python_runtimes

    known = python_runtimes()
    if runtime not in known:
        raise InputError(
            f"--runtime {runtime!r} is not a Python runtime Lambda lists ({', '.join(known)})"
        )


def _check_one_of(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"{option} must be one of {', '.join(allowed)} (got {value!r})")


def _check_mapping_range(option: str, value: int, member: str, low: int | None = None) -> int:
    """A CreateEventSourceMapping integer within the API model's range; -1 (forever), where
    the model allows it, is shown as the exception it is."""
    from cryptoconsumer.lambda_model import mapping_range

    model_low, high = mapping_range(member)
    if model_low == -1:
        return _check_range(option, value, 0 if low is None else low, high, -1)
    return _check_range(option, value, max(model_low, low or model_low), high)


def _check_starting_position(value: str) -> None:
    from cryptoconsumer.lambda_model import mapping_enum

    _check_one_of("--starting-position", value.upper(), mapping_enum("StartingPosition"))


def _check_filter_patterns(texts: tuple[str, ...]) -> None:
    from cryptoconsumer.filter_patterns import InvalidFilter, check_filters

    try:
        check_filters(texts)
    except InvalidFilter as err:
        raise InputError(str(err)) from None


def only_tickers_pattern(text: str) -> str:
    """`--only-tickers BTCUSD,ETHUSD` as the one filter pattern that delivers just those."""
    from cryptoconsumer.filter_patterns import max_pattern_chars, ticker_pattern
    from cryptoconsumer.produce import parse_tickers

    pattern = ticker_pattern(parse_tickers(text, "--only-tickers"))
    if len(pattern) > max_pattern_chars():
        raise InputError(
            f"--only-tickers: {len(text.split(','))} tickers make a pattern of {len(pattern)} "
            f"characters, over Lambda's {max_pattern_chars()}: list fewer"
        )
    return pattern


def _check_kms_key(arn: str) -> None:
    if not KMS_KEY_ARN.fullmatch(arn):
        raise InputError(
            f"--filter-kms-key {arn!r} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID)"
        )


def _check_region(region: str) -> None:
    from cryptoconsumer.regions import check_region

    # Whether AWS has it depends on the endpoint: checked with the AWS target (aws.py).
    check_region(region, custom_endpoint=True)


_FIELD_CHECKS: dict[str, Any] = {
    "stack": lambda v: _check_name("stack", v, STACK_NAME, "1-32 of A-Z a-z 0-9 _ -"),
    "region": _check_region,
    "stream_arn": parse_stream_arn,
    "table_name": lambda v: _check_name("table", v, TABLE_NAME, "3-255 of A-Z a-z 0-9 _ . -"),
    "function_name": lambda v: _check_name("function", v, FUNCTION_NAME, "1-64 of A-Z a-z 0-9 _ -"),
    "role_name": lambda v: _check_name(
        "role", v, ROLE_NAME, "1-64 of letters, digits and + = , . @ _ -"
    ),
    "queue_name": lambda v: _check_name("queue", v, QUEUE_NAME, "1-80 of A-Z a-z 0-9 _ -"),
    "billing_mode": lambda v: _check_one_of("--billing-mode", v, BILLING_MODES),
    "read_capacity": lambda v: _check_range("--read-capacity", v, 1, 40000),
    "write_capacity": lambda v: _check_range("--write-capacity", v, 1, 40000),
    "log_retention_days": _check_log_retention,
    "managed_policies": lambda v: [_check_managed_policy(arn) for arn in v],
    "runtime": _check_runtime,
    "architecture": lambda v: _check_one_of("--architecture", v, ARCHITECTURES),
    "timeout": lambda v: _check_range("--timeout", v, 1, 900),
    "memory": lambda v: _check_range("--memory", v, 128, 10240),
    "batch_size": lambda v: _check_mapping_range("--batch-size", v, "BatchSize"),
    "batch_window": lambda v: _check_mapping_range(
        "--batch-window", v, "MaximumBatchingWindowInSeconds"
    ),
    "parallelization_factor": lambda v: _check_mapping_range(
        "--parallelization-factor", v, "ParallelizationFactor"
    ),
    "max_retries": lambda v: _check_mapping_range("--max-retries", v, "MaximumRetryAttempts"),
    # The model allows -1..604800; for Kinesis AWS documents -1 or at least 60.
    "max_record_age": lambda v: _check_mapping_range(
        "--max-record-age", v, "MaximumRecordAgeInSeconds", low=60
    ),
    "starting_position": _check_starting_position,
    "starting_timestamp": parse_timestamp,
    # mapping filters and metrics (issue 11)
    "filter": _check_filter_patterns,
    "only_tickers": only_tickers_pattern,
    "filter_kms_key": _check_kms_key,
    # S3 on-failure destination (issue 11)
    "failure_destination": lambda v: _check_one_of(
        "--failure-destination", v, FAILURE_DESTINATIONS
    ),
    "failure_retention_days": lambda v: _check_range(
        "--failure-retention-days", v, 1, MAX_FAILURE_RETENTION_DAYS
    ),
    # alarms and notifications
    "alarm_iterator_age": lambda v: _check_range("--alarm-iterator-age", v, 60, 7 * 86400),
    "alarm_email": lambda v: [_check_email(address) for address in v],
    "alarm_topic_arn": lambda v: parse_topic_arn(v),
}


def check_fields(options: StackOptions) -> None:
    """Every value given, each on its own: what can be judged before any AWS call.

    Rules that join fields another source may give (capacity with billing mode, a timestamp
    with AT_TIMESTAMP) wait for `build_config`, once every source has been read.
    """
    for name in OPTION_FIELDS:
        value = getattr(options, name)
        if value is None:
            continue
        _check_type(name, value)
        check = _FIELD_CHECKS.get(name)
        if check is not None:
            check(value)
    # The rules between fields that the given values alone decide.
    _check_stream_region(
        options, parse_stream_arn(options.stream_arn) if options.stream_arn else None
    )
    _check_one_filter_spelling(options)


def default_names(stack: str) -> dict[str, str]:
    return {
        "table": f"{stack}_intraday",
        "function": f"{stack}_data_consumer",
        "queue": f"{stack}_data_consumer-dlq",
        "role": f"{stack}_data_consumer-role",
    }


# Monitoring resources are named from the stack, so `status` can read every alarm of a stack in
# one DescribeAlarms call by prefix, and the dashboard graphs the same alarms `up` makes.
ALARM_KINDS = ("iterator-age", "errors", "dead-letters", "throttles")


def alarm_kinds(o: StackOptions) -> tuple[str, ...]:
    """The alarms a stack with these options has: no dead-letter alarm without the queue."""
    return tuple(kind for kind in ALARM_KINDS if o.dlq or kind != "dead-letters")


def alarm_name(stack: str, kind: str) -> str:
    return f"{stack}-{kind}"


def alarm_prefix(stack: str) -> str:
    return f"{stack}-"


def topic_name(stack: str) -> str:
    return f"{stack}-alarms"


def dashboard_name(stack: str) -> str:
    return f"{stack}-consumer"


# S3 bucket names: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit, and none
# of the prefixes S3 reserves (its own suffixes cannot end a name that ends with a region).
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_SUFFIX = "-failed-batches-"
DIGEST_CHARS = 8
ACCOUNT_ID = re.compile(r"^\d{12}$")


def failed_batches_bucket(stack: str, account: str, region: str) -> str:
    """STACK-failed-batches-ACCOUNT-REGION, when STACK can begin a bucket name as it is.

    Stack names allow capitals and `_` and run to 32 characters; bucket names do not and stop
    at 63. Otherwise the stack is lowercased with `_` as `-`, shortened to fit, and followed by
    8 hex digits of the SHA-256 of the exact stack name, so `My_Stack` and `my-stack` never
    share a bucket: `my-stack-1a2b3c4d-failed-batches-ACCOUNT-REGION`.
    """
    import hashlib

    tail = f"{BUCKET_SUFFIX}{account}-{region}"
    plain = f"{stack}{tail}"
    if _bucket_name_problem(plain) is None:
        return plain
    digest = hashlib.sha256(stack.encode("utf-8")).hexdigest()[:DIGEST_CHARS]
    base = re.sub(r"[^a-z0-9-]", "-", stack.lower()).strip("-")
    if base.startswith(RESERVED_BUCKET_PREFIXES):
        base = ""
    budget = 63 - len(f"-{digest}{tail}")
    base = base[: max(budget, 0)].rstrip("-")
    name = f"{base}-{digest}{tail}" if base else f"{digest}{tail}"
    problem = _bucket_name_problem(name)
    if problem is not None:
        raise InputError(
            f"--failure-destination s3: no valid bucket name for stack {stack!r} in region "
            f"{region!r} ({name!r}: {problem})"
        )
    return name


def _bucket_name_problem(name: str) -> str | None:
    if not 3 <= len(name) <= 63:
        return f"{len(name)} characters, S3 allows 3-63"
    if not BUCKET_NAME.fullmatch(name):
        return "S3 allows only a-z 0-9 . - and a letter or digit at each end"
    if ".." in name or name.startswith(RESERVED_BUCKET_PREFIXES):
        return "S3 reserves it"
    return None


def check_bucket_name(stack: str, region: str) -> None:
    """The bucket's name depends on the account only through 12 digits: judged before any
    call with a stand-in account."""
    failed_batches_bucket(stack, "0" * 12, region)


def with_defaults(options: StackOptions) -> StackOptions:
    return StackOptions(
        **{
            name: DEFAULTS.get(name) if getattr(options, name) is None else getattr(options, name)
            for name in OPTION_FIELDS
        }
    )


def _check_stream_region(o: StackOptions, stream: StreamRef | None) -> None:
    if stream and o.region and stream.region != o.region:
        raise InputError(
            f"stream ARN is in region {stream.region} but --region is {o.region}: "
            "the function must run in the stream's region"
        )
    if stream:
        from cryptoconsumer.regions import partition_of

        partition = partition_of(stream.region)
        if partition is not None and partition != stream.partition:
            raise InputError(
                f"stream ARN partition {stream.partition} does not match region "
                f"{stream.region}, which is in partition {partition}"
            )


def _check_combinations(o: StackOptions, stream: StreamRef | None) -> None:
    _check_stream_region(o, stream)
    if o.billing_mode == "PROVISIONED":
        if o.read_capacity is None or o.write_capacity is None:
            raise InputError(
                "--billing-mode PROVISIONED needs --read-capacity and --write-capacity"
            )
    elif o.read_capacity is not None or o.write_capacity is not None:
        raise InputError("--read-capacity/--write-capacity need --billing-mode PROVISIONED")
    position = str(o.starting_position).upper()
    if position == "AT_TIMESTAMP" and not o.starting_timestamp:
        raise InputError("--starting-position AT_TIMESTAMP needs --starting-timestamp")
    if position != "AT_TIMESTAMP" and o.starting_timestamp:
        raise InputError("--starting-timestamp goes with --starting-position AT_TIMESTAMP")
    _check_filter_combinations(o, stream)
    # S3 on-failure destination (issue 11)
    if o.failure_destination == "s3" and o.dlq is False:
        raise InputError(
            "--failure-destination s3 still needs the dead-letter queue for the function's bad "
            "records: drop --no-dlq"
        )
    _check_alarms(o, stream)


def _check_one_filter_spelling(o: StackOptions) -> None:
    # Given by one source (`layered` lets a stronger source's spelling replace the other's).
    if o.filter and o.only_tickers:
        raise InputError(
            "--only-tickers and --filter both set the mapping's filters: give one "
            "(write the tickers into your --filter pattern to combine them)"
        )


def _check_filter_combinations(o: StackOptions, stream: StreamRef | None) -> None:
    if o.filter_kms_key and not (o.filter or o.only_tickers):
        raise InputError(
            "--filter-kms-key encrypts the filters: it needs --filter or --only-tickers"
        )
    if o.filter_kms_key and stream and o.filter_kms_key.split(":")[3] != stream.region:
        raise InputError(
            f"--filter-kms-key is in region {o.filter_kms_key.split(':')[3]}, the mapping in "
            f"{stream.region}: Lambda uses a key of its own region"
        )


def mapping_filters(o: StackOptions) -> tuple[str, ...]:
    """The filter patterns to send, as canonical JSON (the comparison is on parsed JSON)."""
    from cryptoconsumer.filter_patterns import canonical

    if o.only_tickers:
        return (only_tickers_pattern(o.only_tickers),)
    return tuple(canonical(text) for text in o.filter or ())


def _check_alarms(o: StackOptions, stream: StreamRef | None) -> None:
    if not o.alarms:
        if o.alarm_email or o.alarm_topic_arn:
            raise InputError("--alarm-email/--alarm-topic-arn need alarms (drop --no-alarms)")
        return
    if o.alarm_topic_arn and o.alarm_email:
        raise InputError(
            "--alarm-email subscribes to the stack's own topic; with --alarm-topic-arn, "
            "subscribe the addresses to that topic yourself"
        )
    region = o.region or (stream.region if stream else None)
    if o.alarm_topic_arn and region:
        topic_region = parse_topic_arn(o.alarm_topic_arn)["region"]
        if topic_region != region:
            raise InputError(
                f"--alarm-topic-arn is in region {topic_region} but the stack is in {region}: "
                "CloudWatch notifies topics of its own region only"
            )


def build_config(options: StackOptions, origins: dict[str, str] | None = None) -> StackConfig:
    """Validate every option and return the desired stack; raises InputError (exit 2).

    `origins` says where each given value came from (see `layered`); values that are not the
    built-in default are the ones `up` records on the stack.
    """
    given = {name for name in OPTION_FIELDS if getattr(options, name) is not None}
    origins = {name: (origins or {}).get(name, GIVEN) for name in given}
    check_fields(options)
    o = with_defaults(options)
    assert o.stack is not None
    names = default_names(o.stack)
    # An empty name is invalid, not a request for the default (`--table-name "$UNSET"`).
    table_name = o.table_name if o.table_name is not None else names["table"]
    function_name = o.function_name if o.function_name is not None else names["function"]
    role_name = o.role_name if o.role_name is not None else names["role"]
    queue_name = o.queue_name if o.queue_name is not None else names["queue"]
    stream = parse_stream_arn(o.stream_arn) if o.stream_arn else None
    _check_combinations(o, stream)
    region = o.region or (stream.region if stream else None)
    position = str(o.starting_position).upper()
    timestamp = parse_timestamp(o.starting_timestamp) if position == "AT_TIMESTAMP" else None
    recorded = {name: getattr(o, name) for name in RECORDED_FIELDS if name in given}
    bucket = None
    # S3 on-failure destination (issue 11); the default retention fills o, so ask `options`.
    if o.failure_destination != "s3" and options.failure_retention_days is not None:
        raise InputError("--failure-retention-days goes with --failure-destination s3")
    if o.failure_destination == "s3":
        bucket = BucketSpec(retention_days=int(o.failure_retention_days or 0))
        if region:
            check_bucket_name(o.stack, region)
    return StackConfig(
        stack=o.stack,
        region=region,
        table=TableSpec(
            name=table_name,
            billing_mode=str(o.billing_mode),
            read_capacity=o.read_capacity,
            write_capacity=o.write_capacity,
        ),
        queue=QueueSpec(name=queue_name) if o.dlq else None,
        retired_queue=None if o.dlq else QueueSpec(name=queue_name),
        log_group=LogGroupSpec(
            name=f"/aws/lambda/{function_name}", retention_days=int(o.log_retention_days or 0)
        ),
        role=RoleSpec(
            name=role_name, managed_policy_arns=tuple(sorted(set(o.managed_policies or ())))
        ),
        function=FunctionSpec(
            name=function_name,
            runtime=str(o.runtime),
            architecture=str(o.architecture),
            timeout=int(o.timeout or 0),
            memory=int(o.memory or 0),
        ),
        mapping=MappingSpec(
            batch_size=int(o.batch_size or 0),
            starting_position=position,
            starting_timestamp=timestamp,
            batch_window=int(o.batch_window or 0),
            parallelization_factor=int(o.parallelization_factor or 0),
            max_retries=int(o.max_retries if o.max_retries is not None else 0),
            max_record_age=int(o.max_record_age if o.max_record_age is not None else 0),
            filters=mapping_filters(o),
            filter_kms_key=o.filter_kms_key,
            metrics=bool(o.mapping_metrics),
        ),
        stream=stream,
        tags={STACK_TAG: o.stack, MANAGED_BY[0]: MANAGED_BY[1]},
        # A function name (1-64 of A-Z a-z 0-9 _ -) + "-efo" is always a valid consumer name.
        consumer=ConsumerSpec(name=f"{function_name}-efo") if o.enhanced_fan_out else None,
        bucket=bucket,
        alarms=AlarmsSpec(
            iterator_age_seconds=int(o.alarm_iterator_age or 0),
            queue_name=queue_name if o.dlq else None,
            topic=None
            if o.alarm_topic_arn
            else TopicSpec(topic_name(o.stack), tuple(sorted(set(o.alarm_email or ())))),
            topic_arn=o.alarm_topic_arn,
        )
        if o.alarms
        else None,
        settings=recorded,
        origins={name: origins.get(name, DEFAULT) for name in OPTION_FIELDS},
        dashboard=DashboardSpec(
            name=dashboard_name(o.stack),
            stack=o.stack,
            function_name=function_name,
            timeout=int(o.timeout or 0),
            table_name=table_name,
            queue_name=queue_name if o.dlq else None,
            # Every alarm the stack makes (with --no-alarms: none, and no alarm widget).
            alarms=alarm_kinds(o) if o.alarms else (),
        )
        if o.dashboard
        else None,
    )


@dataclass(frozen=True)
class Setting:
    """One chosen option of the stack, shown by plan and status with where it came from."""

    option: str  # as on the command line, without dashes: batch-size
    value: Any
    origin: str


def chosen_settings(config: StackConfig) -> tuple[Setting, ...]:
    """Every option not left to its default, in option order, with its origin."""
    return tuple(
        Setting(option_flag(name).removeprefix("--"), config.settings[name], config.origins[name])
        for name in RECORDED_FIELDS
        if name in config.settings
    )
