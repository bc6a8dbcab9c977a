"""Options shared by several commands, declared once.

Commands that take the whole desired stack (up, plan, status) get its ~25 options through
`with_options`, which appends them to the command's signature: one declaration, no copies.
"""

import inspect
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])


class Output(str, Enum):
    text = "text"
    json = "json"


def _env(name: str) -> str:
    return f"CRYPTOCONSUMER_{name}"


StackOpt = Annotated[
    str, typer.Option("--stack", envvar=_env("STACK"), help="Stack name; prefixes every name.")
]
RegionOpt = Annotated[
    str | None,
    typer.Option("--region", envvar=_env("REGION"), help="AWS region (default: the stream's)."),
]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", envvar=_env("PROFILE"), help="AWS profile.")
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar=[_env("ENDPOINT_URL"), "AWS_ENDPOINT_URL"],
        help="Send every call here (LocalStack, moto server, `cryptoconsumer local start`).",
    ),
]
OutputOpt = Annotated[Output, typer.Option("--output", envvar=_env("OUTPUT"), help="text or json.")]
StreamArnOpt = Annotated[
    str | None,
    typer.Option("--stream-arn", envvar=_env("STREAM_ARN"), help="The existing Kinesis stream."),
]


def duration(
    flag: str,
    help_text: str,
    *,
    minimum: int = 1,
    maximum: int | None = None,
    whole_minutes: bool = False,
    envvar: str | None = None,
) -> Any:
    """An option written 900, 900s, 15m, 1h or 2d that the command receives as seconds.

    Parsed where the value is read, so a bad one from the stack file names its line."""

    def parse(text: Any) -> int:
        from cryptoconsumer.errors import InputError
        from cryptoconsumer.ops.durations import parse_duration

        if isinstance(text, int) and not isinstance(text, bool):
            return text  # already parsed
        seconds = parse_duration(str(text), flag, minimum=minimum, maximum=maximum)
        if whole_minutes and seconds % 60:
            raise InputError(f"{flag} must be whole minutes (got {seconds} s)")
        return seconds

    return typer.Option(flag, parser=parse, help=help_text, envvar=envvar)


def _option(
    name: str, annotation: Any, default: Any, flag: str, help_text: str
) -> inspect.Parameter:
    env = _env(name.upper())
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[annotation, typer.Option(flag, envvar=env, help=help_text)],
    )


COMMON = [
    _option("stack", str, "crypto", "--stack", "Stack name; prefixes every default name."),
    _option("region", str | None, None, "--region", "AWS region (default: the stream's)."),
    _option("profile", str | None, None, "--profile", "AWS profile."),
    inspect.Parameter(
        "endpoint_url",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=EndpointOpt,
    ),
    inspect.Parameter(
        "output", inspect.Parameter.KEYWORD_ONLY, default=Output.text, annotation=OutputOpt
    ),
]

NAMES = [
    _option("table_name", str | None, None, "--table-name", "Default: STACK_intraday."),
    _option(
        "function_name",
        str | None,
        None,
        "--function-name",
        "Default: STACK_data_consumer (log group /aws/lambda/FUNCTION).",
    ),
    _option("role_name", str | None, None, "--role-name", "Default: STACK_data_consumer-role."),
    _option("queue_name", str | None, None, "--queue-name", "Default: STACK_data_consumer-dlq."),
    _option("dlq", bool, True, "--dlq/--no-dlq", "Create the dead-letter queue."),
]

DESIRED = [
    _option("stream_arn", str | None, None, "--stream-arn", "The existing Kinesis stream."),
    _option(
        "billing_mode", str, "PAY_PER_REQUEST", "--billing-mode", "PAY_PER_REQUEST or PROVISIONED."
    ),
    _option("read_capacity", int | None, None, "--read-capacity", "With PROVISIONED."),
    _option("write_capacity", int | None, None, "--write-capacity", "With PROVISIONED."),
    _option("log_retention_days", int, 30, "--log-retention-days", "Log retention in days."),
    _option(
        "managed_policy",
        list[str] | None,
        None,
        "--managed-policy",
        "Extra managed policy ARN to attach (repeatable).",
    ),
    _option("runtime", str, "python3.12", "--runtime", "Lambda runtime (python3.N)."),
    _option("architecture", str, "arm64", "--architecture", "arm64 or x86_64."),
    _option("timeout", int, 20, "--timeout", "Function timeout, seconds (1-900)."),
    _option("memory", int, 256, "--memory", "Function memory, MB (128-10240)."),
    _option("batch_size", int, 100, "--batch-size", "Records per invocation (1-10000)."),
    _option(
        "starting_position",
        str,
        "LATEST",
        "--starting-position",
        "LATEST, TRIM_HORIZON or AT_TIMESTAMP.",
    ),
    _option(
        "starting_timestamp",
        str | None,
        None,
        "--starting-timestamp",
        "ISO 8601, with AT_TIMESTAMP.",
    ),
    _option("batch_window", int, 0, "--batch-window", "Batching window, seconds (0-300)."),
    _option(
        "parallelization_factor",
        int,
        1,
        "--parallelization-factor",
        "Concurrent batches per shard (1-10).",
    ),
    _option("max_retries", int, 3, "--max-retries", "Retries of a failing batch (-1 = forever)."),
    _option(
        "max_record_age",
        int,
        3600,
        "--max-record-age",
        "Skip records older than this, seconds (-1 = forever).",
    ),
    _option(
        "enhanced_fan_out",
        bool,
        False,
        "--enhanced-fan-out/--no-enhanced-fan-out",
        "Read through a registered stream consumer (2 MB/s per shard of its own).",
    ),
    # dashboard
    _option(
        "dashboard",
        bool,
        True,
        "--dashboard/--no-dashboard",
        "The CloudWatch dashboard STACK-consumer ($3/month beyond an account's first 3).",
    ),
    _option(
        "reset",
        list[str] | None,
        None,
        "--reset",
        "Forget a recorded setting (e.g. managed-policy, or all): it takes its default "
        "unless given (repeatable).",
    ),
    # mapping filters and metrics (issue 11)
    _option(
        "filter",
        list[str] | None,
        None,
        "--filter",
        'Deliver only records matching this event pattern, e.g. \'{"data": {"to_currency_code": '
        '["USD"]}}\' (repeatable, at most 5; the others are dropped by AWS; '
        "CRYPTOCONSUMER_FILTER separates patterns by whitespace).",
    ),
    _option(
        "only_tickers",
        str | None,
        None,
        "--only-tickers",
        "Deliver only these tickers' records, e.g. BTCUSD,ETHUSD (a filter; the others are "
        "dropped by AWS).",
    ),
    _option(
        "filter_kms_key",
        str | None,
        None,
        "--filter-kms-key",
        "ARN of a customer managed KMS key to encrypt the filters with.",
    ),
    _option(
        "mapping_metrics",
        bool,
        True,
        "--mapping-metrics/--no-mapping-metrics",
        "Event source mapping metrics (records polled, filtered out, dropped...): a few "
        "CloudWatch metrics.",
    ),
    # S3 on-failure destination (issue 11)
    _option(
        "failure_destination",
        str,
        "sqs",
        "--failure-destination",
        "Where Lambda sends a batch it gives up on: sqs (a pointer into the stream) or s3 "
        "(the records themselves, replayable after the stream's retention).",
    ),
    _option(
        "failure_retention_days",
        int,
        14,
        "--failure-retention-days",
        "With s3: days before a failed batch's object expires (1-36500).",
    ),
    # alarms and notifications
    _option(
        "alarms",
        bool,
        True,
        "--alarms/--no-alarms",
        "CloudWatch alarms (iterator age, errors, dead letters, throttles) and their topic.",
    ),
    inspect.Parameter(
        "alarm_iterator_age",
        inspect.Parameter.KEYWORD_ONLY,
        default="5m",
        annotation=Annotated[
            int,
            duration(
                "--alarm-iterator-age",
                "Alarm when IteratorAge stays above this for 3 minutes, e.g. 5m, 300s.",
                minimum=60,
                maximum=7 * 86400,
                envvar=_env("ALARM_ITERATOR_AGE"),
            ),
        ],
    ),
    _option(
        "alarm_email",
        list[str] | None,
        None,
        "--alarm-email",
        "Subscribe this address to the alarms topic; it must confirm by mail (repeatable).",
    ),
    _option(
        "alarm_topic_arn",
        str | None,
        None,
        "--alarm-topic-arn",
        "Notify this existing SNS topic instead of the stack's own (never changed).",
    ),
]


def with_options(*groups: list[inspect.Parameter]) -> Callable[[F], F]:
    """Append shared option parameters to a command that takes them as **options."""

    def decorate(command: F) -> F:
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
        command.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*own, *(p for group in groups for p in group)]
        )
        return command

    return decorate
