"""The desired stack: frozen dataclasses built from options and validated before any AWS call."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cryptoconsumer.errors import InputError

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


@dataclass(frozen=True)
class ConsumerSpec:
    """A registered stream consumer for enhanced fan-out; FUNCTION-efo (consumers take no tags,
    so the deterministic name is half of how they are recognised as ours)."""

    name: str


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


@dataclass(frozen=True)
class StackOptions:
    """Raw option values as the CLI received them; `build_config` validates them."""

    stack: str = DEFAULT_STACK
    region: str | None = None
    stream_arn: str | None = None
    table_name: str | None = None
    queue_name: str | None = None
    role_name: str | None = None
    function_name: str | None = None
    dlq: bool = True
    billing_mode: str = "PAY_PER_REQUEST"
    read_capacity: int | None = None
    write_capacity: int | None = None
    log_retention_days: int = 30
    managed_policies: tuple[str, ...] = ()
    runtime: str = "python3.12"
    architecture: str = "arm64"
    timeout: int = 20
    memory: int = 256
    batch_size: int = 100
    starting_position: str = "LATEST"
    starting_timestamp: str | None = None
    batch_window: int = 0
    parallelization_factor: int = 1
    max_retries: int = 3
    max_record_age: int = 3600
    enhanced_fan_out: bool = False


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
    return parsed.astimezone(timezone.utc)


def default_names(stack: str) -> dict[str, str]:
    return {
        "table": f"{stack}_intraday",
        "function": f"{stack}_data_consumer",
        "queue": f"{stack}_data_consumer-dlq",
        "role": f"{stack}_data_consumer-role",
    }


def build_config(options: StackOptions) -> StackConfig:
    """Validate every option and return the desired stack; raises InputError (exit 2)."""
    o = options
    _check_name("stack", o.stack, STACK_NAME, "1-32 of A-Z a-z 0-9 _ -")
    names = default_names(o.stack)
    # An empty name is invalid, not a request for the default (`--table-name "$UNSET"`).
    given = {
        "table": o.table_name,
        "function": o.function_name,
        "role": o.role_name,
        "queue": o.queue_name,
    }
    names.update({kind: name for kind, name in given.items() if name is not None})
    table_name = _check_name(
        "table", o.table_name or names["table"], TABLE_NAME, "3-255 of A-Z a-z 0-9 _ . -"
    )
    function_name = _check_name(
        "function", o.function_name or names["function"], FUNCTION_NAME, "1-64 of A-Z a-z 0-9 _ -"
    )
    role_name = _check_name(
        "role", o.role_name or names["role"], ROLE_NAME, "1-64 of letters, digits and + = , . @ _ -"
    )
    queue_name = _check_name(
        "queue", o.queue_name or names["queue"], QUEUE_NAME, "1-80 of A-Z a-z 0-9 _ -"
    )

    stream = parse_stream_arn(o.stream_arn) if o.stream_arn else None
    if stream and o.region and stream.region != o.region:
        raise InputError(
            f"stream ARN is in region {stream.region} but --region is {o.region}: "
            "the function must run in the stream's region"
        )
    region = o.region or (stream.region if stream else None)

    if o.billing_mode not in BILLING_MODES:
        raise InputError(f"--billing-mode must be one of {', '.join(BILLING_MODES)}")
    if o.billing_mode == "PROVISIONED":
        if o.read_capacity is None or o.write_capacity is None:
            raise InputError(
                "--billing-mode PROVISIONED needs --read-capacity and --write-capacity"
            )
        _check_range("--read-capacity", o.read_capacity, 1, 40000)
        _check_range("--write-capacity", o.write_capacity, 1, 40000)
    elif o.read_capacity is not None or o.write_capacity is not None:
        raise InputError("--read-capacity/--write-capacity need --billing-mode PROVISIONED")
    if o.log_retention_days not in LOG_RETENTION_DAYS:
        raise InputError(
            f"--log-retention-days {o.log_retention_days} is not one CloudWatch Logs accepts "
            f"({', '.join(map(str, LOG_RETENTION_DAYS))})"
        )
    for arn in o.managed_policies:
        if not POLICY_ARN.fullmatch(arn):
            raise InputError(f"--managed-policy {arn!r} is not an IAM policy ARN")
        if arn.rsplit("/", 1)[-1].endswith("FullAccess"):
            raise InputError(
                f"--managed-policy {arn!r}: *FullAccess policies defeat least privilege; "
                "attach a narrower policy"
            )
    if not RUNTIME.fullmatch(o.runtime):
        raise InputError(f"--runtime {o.runtime!r} is not a Python runtime (python3.N)")
    if o.architecture not in ARCHITECTURES:
        raise InputError(f"--architecture must be one of {', '.join(ARCHITECTURES)}")
    _check_range("--timeout", o.timeout, 1, 900)
    _check_range("--memory", o.memory, 128, 10240)
    _check_range("--batch-size", o.batch_size, 1, 10000)
    _check_range("--batch-window", o.batch_window, 0, 300)
    _check_range("--parallelization-factor", o.parallelization_factor, 1, 10)
    _check_range("--max-retries", o.max_retries, 0, 10000, -1)
    _check_range("--max-record-age", o.max_record_age, 60, 604800, -1)

    position = o.starting_position.upper()
    if position not in STARTING_POSITIONS:
        raise InputError(f"--starting-position must be one of {', '.join(STARTING_POSITIONS)}")
    timestamp = None
    if position == "AT_TIMESTAMP":
        if not o.starting_timestamp:
            raise InputError("--starting-position AT_TIMESTAMP needs --starting-timestamp")
        timestamp = parse_timestamp(o.starting_timestamp)
    elif o.starting_timestamp:
        raise InputError("--starting-timestamp goes with --starting-position AT_TIMESTAMP")

    return StackConfig(
        stack=o.stack,
        region=region,
        table=TableSpec(
            name=table_name,
            billing_mode=o.billing_mode,
            read_capacity=o.read_capacity,
            write_capacity=o.write_capacity,
        ),
        queue=QueueSpec(name=queue_name) if o.dlq else None,
        retired_queue=None if o.dlq else QueueSpec(name=queue_name),
        log_group=LogGroupSpec(
            name=f"/aws/lambda/{function_name}", retention_days=o.log_retention_days
        ),
        role=RoleSpec(name=role_name, managed_policy_arns=tuple(sorted(set(o.managed_policies)))),
        function=FunctionSpec(
            name=function_name,
            runtime=o.runtime,
            architecture=o.architecture,
            timeout=o.timeout,
            memory=o.memory,
        ),
        mapping=MappingSpec(
            batch_size=o.batch_size,
            starting_position=position,
            starting_timestamp=timestamp,
            batch_window=o.batch_window,
            parallelization_factor=o.parallelization_factor,
            max_retries=o.max_retries,
            max_record_age=o.max_record_age,
        ),
        stream=stream,
        tags={STACK_TAG: o.stack, MANAGED_BY[0]: MANAGED_BY[1]},
        # A function name (1-64 of A-Z a-z 0-9 _ -) + "-efo" is always a valid consumer name.
        consumer=ConsumerSpec(name=f"{function_name}-efo") if o.enhanced_fan_out else None,
    )
