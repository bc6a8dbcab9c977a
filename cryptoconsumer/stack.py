"""The stack as a whole: read everything at once, check ownership, plan, execute, report status.

No state file: resources are found by name (the mapping by function + stream) and owned by tag,
so anyone with credentials can run any command from any machine.
"""

from __future__ import annotations

import concurrent.futures
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptoconsumer import package
from cryptoconsumer.aws import Clients, error_code, translated
from cryptoconsumer.config import (
    DEFAULT_STACK,
    RECORDED,
    STACK_TAG,
    Layer,
    StackConfig,
    build_config,
    check_bucket_name,
    check_fields,
    chosen_settings,
    dashboard_name,
    failed_batches_bucket,
    layered,
    topic_name,
)
from cryptoconsumer.errors import AwsError, InputError, OwnershipError
from cryptoconsumer.plan import Plan
from cryptoconsumer.plan import execute as run_plan
from cryptoconsumer.progress import NullReporter, Reporter
from cryptoconsumer.resources import (
    alarms,
    bucket,
    function,
    log_group,
    mapping,
    queue,
    role,
    settings,
    table,
    topic,
)
from cryptoconsumer.resources import consumer as stream_consumer
from cryptoconsumer.resources import dashboard as stack_dashboard
from cryptoconsumer.resources.base import Change, Context, ResourceKind, owned

READABLE_STREAM_STATES = ("ACTIVE", "UPDATING")
AWS_MANAGED_KINESIS_KEY = "alias/aws/kinesis"


@dataclass(frozen=True)
class StreamInfo:
    arn: str
    status: str
    kms_key_id: str | None


@dataclass(frozen=True)
class Observed:
    stream: StreamInfo | None
    table: table.ObservedTable | None
    queue: queue.ObservedQueue | None
    log_group: log_group.ObservedLogGroup | None
    role: role.ObservedRole | None
    function: function.ObservedFunction | None
    mappings: tuple[mapping.ObservedMapping, ...]
    consumer: stream_consumer.ObservedConsumer | None = None
    settings: settings.ObservedSettings | None = None
    # S3 on-failure destination (issue 11): read whatever the destination, so a bucket kept
    # after --failure-destination sqs is still shown, replayed and deleted on consent.
    bucket: bucket.ObservedBucket | bucket.ForeignBucket | None = None
    bucket_name: str = ""
    # dashboard
    dashboard: stack_dashboard.ObservedDashboard | None = None
    # What `read`'s `after_mappings` returned (status: the metrics of the mappings found).
    after_mappings: Any = None
    # alarms and notifications: this stack's alarms, its topic, and the --alarm-topic-arn one
    alarms: tuple[alarms.ObservedAlarm, ...] = ()
    topic: topic.ObservedTopic | None = None
    alarm_topic: topic.ObservedTopic | None = None

    def arns(self) -> list[str]:
        found = [
            self.table and self.table.arn,
            self.queue and self.queue.arn,
            self.log_group and self.log_group.arn,
            self.role and self.role.arn,
            self.function and self.function.arn,
        ]
        return [arn for arn in found if arn]


def read_stream(clients: Clients, arn: str) -> StreamInfo:
    """The stream must exist and be readable; checked before anything is changed."""
    client = clients.kinesis
    try:
        summary = client.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
    except client.exceptions.ResourceNotFoundException:
        raise AwsError(f"stream {arn} does not exist", "ResourceNotFoundException") from None
    except Exception as err:
        code = error_code(err)
        if code in ("AccessDeniedException", "AccessDenied"):
            raise AwsError(
                f"stream {arn} is not readable with these credentials ({code})", code
            ) from None
        with translated(f"reading stream {arn}"):
            raise
    status = summary["StreamStatus"]
    key = summary.get("KeyId") if summary.get("EncryptionType") == "KMS" else None
    return StreamInfo(arn=arn, status=status, kms_key_id=key)


class _Unread(enum.Enum):
    UNREAD = "unread"


UNREAD = _Unread.UNREAD
Recorded = settings.ObservedSettings | None | _Unread


@dataclass(frozen=True)
class Configured:
    """The desired stack, and the record it was built from (None: nothing recorded)."""

    config: StackConfig
    recorded: settings.ObservedSettings | None


def configure(
    layers: Sequence[Layer], clients: Clients, forget: frozenset[str] = frozenset()
) -> Configured:
    """The desired stack from the given sources, then what is recorded on the stack (less the
    fields to `forget`), then the built-in defaults. Each given value is checked before the
    one AWS call (GetParameter)."""
    given, _ = layered(*layers)
    check_fields(given)
    recorded = settings.read(clients, given.stack or DEFAULT_STACK)
    record = []
    if recorded and recorded.owned:
        kept = replace(recorded.options(), **{name: None for name in forget})
        record = [Layer(RECORDED, kept)]
    options, origins = layered(*layers, *record)
    return Configured(build_config(options, origins), recorded)


def read_monitoring(ctx: Context) -> tuple[Any, Any, Any]:
    """The stack's alarms (one DescribeAlarms), then the stack's topic and the
    --alarm-topic-arn one, if given.

    The stack's topic's ARN needs the account: its alarms name it; failing that (nothing made
    yet, or they notify --alarm-topic-arn), one STS call, cached for the rest of the command."""
    config = ctx.config
    found = alarms.read_all(ctx, config.stack)
    external = config.alarms.topic_arn if config.alarms else None
    name = topic_name(config.stack)
    arn = alarms.topic_arn_of(found, name, config.stack)
    if arn is None:
        partition = config.stream.partition if config.stream else ctx.partition
        account = ctx.account or ctx.clients.account_id()
        arn = f"arn:{partition}:sns:{ctx.region}:{account}:{name}"
    if not external:
        return found, topic.read(ctx, arn), None
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        theirs = pool.submit(topic.read_external, ctx, external)
        return found, topic.read(ctx, arn), theirs.result()


def read(
    ctx: Context,
    *,
    with_stream: bool,
    recorded: Recorded = UNREAD,
    after_mappings: Callable[[tuple[mapping.ObservedMapping, ...]], Any] | None = None,
) -> Observed:
    """Every read at once: boto3 clients are thread-safe, so this costs one round trip.

    `after_mappings` is a read that needs the mappings (their UUIDs): it starts as soon as
    ListEventSourceMappings has answered, alongside the slower reads, so it adds a call but
    no round trip; what it returns is `Observed.after_mappings`."""
    config = ctx.config
    check_bucket_name(config.stack, ctx.region)
    queue_spec = config.queue or config.retired_queue
    readers: dict[str, Callable[[], Any]] = {
        "table": lambda: table.read(ctx, config.table),
        "log_group": lambda: log_group.read(ctx, config.log_group),
        "role": lambda: role.read(ctx, config.role),
        "function": lambda: function.read(ctx, config.function),
        "mappings": lambda: tuple(mapping.read_all(ctx, config.function.name)),
        "queue": (lambda: queue.read(ctx, queue_spec)) if queue_spec else (lambda: None),
        "stream": (lambda: read_stream(ctx.clients, config.stream.arn))
        if with_stream and config.stream
        else (lambda: None),
        "consumer": (lambda: stream_consumer.read(ctx, config.stream.arn, config.consumer))
        if config.consumer and config.stream
        else (lambda: None),
        "settings": (lambda: settings.read(ctx.clients, config.stack))
        if recorded is UNREAD
        else (lambda: recorded),
        "bucket": lambda: _read_bucket(ctx),
        # dashboard: by name, also with --no-dashboard (to remove ours)
        "dashboard": lambda: stack_dashboard.read(ctx, dashboard_name(config.stack)),
        # alarms and notifications
        "monitoring": lambda: read_monitoring(ctx),
    }
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(readers) + 1) as pool:
        futures = {name: pool.submit(reader) for name, reader in readers.items()}
        if after_mappings is not None:
            mappings_read = futures["mappings"]
            futures["after_mappings"] = pool.submit(lambda: after_mappings(mappings_read.result()))
        results = {name: future.result() for name, future in futures.items()}
    results["alarms"], results["topic"], results["alarm_topic"] = results.pop("monitoring")
    if results["consumer"] is None:
        # Without --enhanced-fan-out (status, destroy, switching it off), the consumer in use
        # is the one the mapping reads through.
        results["consumer"] = stream_consumer.read_source(
            ctx, [m.source_arn for m in results["mappings"]]
        ) or stream_consumer.read_remembered(ctx, results["function"])
    return Observed(**results, bucket_name=failed_bucket_name(ctx))


def failed_bucket_name(ctx: Context) -> str:
    """The failed-batches bucket's name: it needs the account (one cached STS call)."""
    return failed_batches_bucket(ctx.config.stack, ctx.clients.account_id(), ctx.region)


def _read_bucket(ctx: Context) -> bucket.ObservedBucket | bucket.ForeignBucket | None:
    name = failed_bucket_name(ctx)
    if ctx.config.bucket is not None:
        return bucket.read(ctx, name, ctx.config.stack)
    try:
        found = bucket.read(ctx, name, ctx.config.stack)
    except AwsError:
        return None  # not asked for: credentials without S3 access must not break the rest
    return found if isinstance(found, bucket.ObservedBucket) else None


def owned_bucket(config: StackConfig, observed: Observed) -> bucket.ObservedBucket | None:
    found = observed.bucket
    if isinstance(found, bucket.ObservedBucket) and owned(found.tags, config.stack):
        return found
    return None


def resolve_account(ctx: Context, observed: Observed) -> None:
    """The account and partition, from what exists; one STS call only when nothing does."""
    arns = observed.arns()
    if arns:
        parts = arns[0].split(":")
        ctx.partition, ctx.account = parts[1], parts[4]
        return
    ctx.account = ctx.clients.account_id()
    if ctx.config.stream:
        ctx.partition = ctx.config.stream.partition


def _kms_key_arn(ctx: Context, stream: StreamInfo | None) -> str | None:
    key = stream.kms_key_id if stream else None
    if not key or key == AWS_MANAGED_KINESIS_KEY:
        return None
    if key.startswith("arn:") and ":key/" in key:
        return key
    with translated(f"resolving the stream's KMS key {key}"):
        metadata = ctx.clients.kms.describe_key(KeyId=key)["KeyMetadata"]
    return None if metadata.get("KeyManager") == "AWS" else str(metadata["Arn"])


def check_ownership(config: StackConfig, observed: Observed, adopt_table: bool = False) -> None:
    """Refuse, before any change, to touch a same-named resource this stack did not make.

    With `adopt_table` (`adopt`), a table no cryptoconsumer stack has tagged is taken over."""
    found = [
        ("table", observed.table),
        ("queue", observed.queue if config.queue else None),
        ("log group", observed.log_group),
        ("role", observed.role),
        ("function", observed.function),
    ]
    if config.alarms and config.alarms.topic and observed.topic:
        found.append(("topic", observed.topic))
    for kind, resource in found:
        if adopt_table and kind == "table" and resource and STACK_TAG not in resource.tags:
            continue
        if resource is not None and not owned(resource.tags, config.stack):
            raise OwnershipError(
                f"{kind} {resource.name} exists but is not tagged "
                f"cryptoconsumer:stack={config.stack}: it belongs to someone else; "
                "refusing to change it (choose another name or --stack)"
            )
    if config.bucket is not None and isinstance(observed.bucket, bucket.ForeignBucket):
        raise OwnershipError(
            f"bucket {observed.bucket.name} exists but these credentials may not read it "
            "(403): another AWS account owns the name (S3 names are global); refusing to use "
            "it (choose another --stack)"
        )
    if config.bucket is not None and observed.bucket is not None:
        if not owned(observed.bucket.tags, config.stack):
            raise OwnershipError(
                f"bucket {observed.bucket.name} exists but is not tagged "
                f"cryptoconsumer:stack={config.stack}: it belongs to someone else; "
                "refusing to change it or send failed batches to it"
            )
    found_dashboard = observed.dashboard
    if config.dashboard and found_dashboard and not found_dashboard.owned_by(config.stack):
        raise OwnershipError(
            f"dashboard {found_dashboard.name} exists but its body has no "
            f"`{stack_dashboard.marker(config.stack)}` marker: it belongs to someone else; "
            "refusing to overwrite it (choose another --stack, or --no-dashboard)"
        )
    sources = {config.stream.arn if config.stream else None}
    if observed.consumer is not None:
        sources.add(observed.consumer.arn)
    for found_mapping in observed.mappings:
        source = found_mapping.source_arn
        if source in sources and not owned(found_mapping.tags, config.stack):
            raise OwnershipError(
                f"mapping {found_mapping.uuid} from {source} to {config.function.name} exists "
                f"but is not tagged cryptoconsumer:stack={config.stack}; refusing to change it"
            )


@dataclass(frozen=True)
class Desired:
    """The per-resource desired values that depend on account, region and what exists."""

    grants: role.Grants
    role_arn: str
    queue_url: str | None
    queue_arn: str | None
    package: package.Package
    # S3 on-failure destination (issue 11): the bucket, when it is the destination.
    bucket_arn: str | None = None
    # alarms and notifications: the topic the alarms notify (None without alarms)
    topic_arn: str | None = None


def desired(ctx: Context, observed: Observed) -> Desired:
    config = ctx.config
    assert config.stream is not None
    queue_arn = queue_url = None
    if config.queue:
        queue_arn = observed.queue.arn if observed.queue else ctx.arn("sqs", config.queue.name)
        queue_url = (
            observed.queue.url
            if observed.queue
            else _predicted_queue_url(config.queue.name, ctx.account, observed.function)
        )
    bucket_arn = bucket.arn(ctx.partition, observed.bucket_name) if config.bucket else None
    grants = role.Grants(
        stream_arn=config.stream.arn,
        table_arn=ctx.arn("dynamodb", f"table/{config.table.name}"),
        log_group_arn=ctx.arn("logs", f"log-group:{config.log_group.name}"),
        queue_arn=queue_arn,
        kms_key_arn=_kms_key_arn(ctx, observed.stream),
        consumer_arn=stream_consumer.grant_resource(config.stream.arn, config.consumer.name)
        if config.consumer
        else None,
        bucket_arn=bucket_arn or _bucket_still_in_use(ctx, observed),
    )
    role_arn = (
        observed.role.arn
        if observed.role
        else ctx.arn("iam", f"role/{config.role.name}", region=False)
    )
    arn = topic_arn(ctx, observed) if config.alarms else None
    return Desired(
        grants, role_arn, queue_url, queue_arn, package.build(), bucket_arn, topic_arn=arn
    )


def _bucket_still_in_use(ctx: Context, observed: Observed) -> str | None:
    """Back to the queue: the role keeps its S3 grant while a mapping still names the bucket
    (it moves in the same `up`, after the role), so no failed batch is refused on the way."""
    arn = bucket.arn(ctx.partition, observed.bucket_name)
    in_use = any(found.destination_arn == arn for found in observed.mappings)
    return arn if in_use and owned_bucket(ctx.config, observed) else None


def _predicted_queue_url(
    name: str, account: str, current: function.ObservedFunction | None
) -> str | None:
    """A queue's URL is only known once it exists; SQS keeps it stable across re-creation."""
    known = current.environment.get("DEAD_LETTER_QUEUE_URL", "") if current else ""
    return known if known.endswith(f"/{account}/{name}") else None


def desired_function(
    config: StackConfig, want: Desired, queue_url: str | None, role_arn: str
) -> function.DesiredFunction:
    return function.DesiredFunction(
        spec=config.function,
        role_arn=role_arn,
        environment=function.environment(config.table.name, queue_url),
        package=want.package,
    )


def desired_mapping(
    config: StackConfig, want: Desired, consumer_arn: str | None = None
) -> mapping.DesiredMapping:
    """The mapping reads the stream, or with enhanced fan-out the stack's consumer of it."""
    assert config.stream is not None
    source = config.stream.arn
    if config.consumer is not None:
        source = consumer_arn or stream_consumer.pending_arn(
            config.stream.arn, config.consumer.name
        )
    return mapping.DesiredMapping(
        spec=config.mapping,
        function_name=config.function.name,
        source_arn=source,
        destination_arn=want.bucket_arn or want.queue_arn,
    )


def consumer_arn(config: StackConfig, observed: Observed) -> str | None:
    """The ARN of the stack's registered consumer, when enhanced fan-out is on and it exists."""
    found = observed.consumer
    if config.consumer is None or found is None or found.name != config.consumer.name:
        return None
    return None if found.status == "DELETING" else found.arn


def _check_stream(observed: Observed) -> None:
    stream = observed.stream
    if stream is not None and stream.status not in READABLE_STREAM_STATES:
        raise AwsError(f"stream {stream.arn} is {stream.status}, not ACTIVE", "StreamNotActive")


@dataclass
class Prepared:
    """A plan with what executing it needs: the context and the desired values."""

    plan: Plan
    ctx: Context
    want: Desired | None


def plan_up(
    config: StackConfig,
    clients: Clients,
    *,
    replace_mapping: bool = False,
    reporter: Reporter | None = None,
    ctx: Context | None = None,
    recorded: Recorded = UNREAD,
    adopt_table: bool = False,
) -> Prepared:
    """Read everything, refuse what cannot be done, and return the changes `up` would make."""
    if config.stream is None:
        raise InputError(
            "--stream-arn is required (or set CRYPTOCONSUMER_STREAM_ARN, or put stream-arn in "
            "the stack file); nothing is recorded for this stack yet"
        )
    ctx = ctx or Context(clients=clients, config=config, reporter=reporter or NullReporter())
    role.check_managed_policies(ctx, config.role.managed_policy_arns)
    observed = read(ctx, with_stream=True, recorded=recorded)
    _check_stream(observed)
    check_ownership(config, observed, adopt_table=adopt_table)
    settings.check_ownership(config.stack, observed.settings)
    resolve_account(ctx, observed)
    want = desired(ctx, observed)
    changes: list[Change] = [table.plan(ctx, config.table, observed.table)]
    if config.queue:
        changes.append(queue.plan(ctx, config.queue, observed.queue))
    elif observed.queue and owned(observed.queue.tags, config.stack):
        changes.append(queue.plan_retired(observed.queue))
    changes.append(log_group.plan(ctx, config.log_group, observed.log_group))
    retained_bucket = owned_bucket(config, observed)
    if config.bucket:
        found_bucket = (
            observed.bucket if isinstance(observed.bucket, bucket.ObservedBucket) else None
        )
        changes.append(bucket.plan(ctx, config.bucket, observed.bucket_name, found_bucket))
    elif retained_bucket is not None:
        changes.append(bucket.plan_retired(retained_bucket))
    changes.append(role.plan(ctx, config.role, want.grants, observed.role))
    queue_url = want.queue_url
    if config.queue and queue_url is None:
        queue_url = f"(URL of queue {config.queue.name} once created)"
    changes.append(
        function.plan(
            ctx, desired_function(config, want, queue_url, want.role_arn), observed.function
        )
    )
    consumer_change = stream_consumer.plan(
        ctx,
        config.consumer,
        config.stream.arn,
        observed.consumer,
        observed.mappings,
        observed.function,
    )
    if consumer_change is not None:
        changes.append(consumer_change)
    changes += mapping.plan(
        ctx,
        desired_mapping(config, want, consumer_arn(config, observed)),
        list(observed.mappings),
        replace_mapping,
        resume_at=observed.function.tags.get(mapping.RESUME_TAG) if observed.function else None,
    )
    changes += plan_monitoring(ctx, observed)
    changes.append(settings.plan(ctx, config.settings, observed.settings))
    dashboard_change = plan_dashboard(ctx, observed)
    if dashboard_change is not None:
        changes.append(dashboard_change)
    outputs = {
        "stream_arn": config.stream.arn,
        "table_arn": observed.table.arn if observed.table else None,
        "queue_url": want.queue_url,
        "role_arn": observed.role.arn if observed.role else None,
        "function_arn": observed.function.arn if observed.function else None,
        "bucket": observed.bucket_name if config.bucket else None,
        "mapping_uuid": next(
            (
                c.observed.uuid
                for c in changes
                if c.resource == "mapping" and c.action in ("none", "update")
            ),
            None,
        ),
        # dashboard
        "dashboard_url": stack_dashboard.console_url(
            ctx.partition, clients.region, config.dashboard.name
        )
        if config.dashboard
        else None,
    }
    plan = Plan(
        "up",
        config.stack,
        clients.region,
        tuple(changes),
        outputs,
        settings=chosen_settings(config),
        settling=_settling(changes),
    )
    return Prepared(plan, ctx, want)


def dashboard_body(ctx: Context) -> dict[str, Any]:
    config = ctx.config
    assert config.dashboard is not None
    return stack_dashboard.body(
        ctx, config.dashboard, config.stream.name if config.stream else None
    )


def plan_dashboard(ctx: Context, observed: Observed) -> Change | None:
    """Ours, made or restored; with --no-dashboard, ours removed (it holds no data)."""
    config = ctx.config
    if config.dashboard is not None:
        return stack_dashboard.plan(ctx, config.dashboard, dashboard_body(ctx), observed.dashboard)
    found = observed.dashboard
    if found is not None and found.owned_by(config.stack):
        return stack_dashboard.plan_retired(found)
    return None


def topic_arn(ctx: Context, observed: Observed) -> str:
    """The topic the alarms notify, as far as it is known before `up` makes it."""
    spec = ctx.config.alarms
    assert spec is not None
    if spec.topic_arn:
        return spec.topic_arn
    if observed.topic is not None:
        return observed.topic.arn
    return ctx.arn("sns", topic_name(ctx.config.stack))


def plan_monitoring(ctx: Context, observed: Observed) -> list[Change]:
    """The topic and the alarms; with --no-alarms (or --alarm-topic-arn, for the topic), ours
    are deleted."""
    config = ctx.config
    spec = config.alarms
    changes: list[Change] = []
    if spec and spec.topic_arn:
        topic.check_external(spec.topic_arn, observed.alarm_topic)
    ours = observed.topic if spec is None or spec.topic_arn else None
    if spec and spec.topic:
        changes.append(topic.plan(ctx, spec.topic, observed.topic))
    wanted = alarms.desired(ctx, topic_arn(ctx, observed)) if spec else []
    changes += alarms.plan(ctx, wanted, observed.alarms)
    if ours is not None and owned(ours.tags, config.stack):
        why = "alarms are off (--no-alarms)" if spec is None else "alarms notify --alarm-topic-arn"
        changes.append(topic.plan_delete(ours, ours.name, config.stack, why))
    return changes


def _settling(changes: list[Change]) -> tuple[ResourceKind, ...]:
    """What `up` has to wait for although it changes nothing in it."""
    unsettled = {
        "table": lambda found: table.settling(found),
        "function": lambda found: found.settling,
        "consumer": lambda found: stream_consumer.settling(found),
        "mapping": lambda found: found.state not in mapping.SETTLED_STATES,
    }
    return tuple(
        sorted(
            {
                c.resource
                for c in changes
                if c.action == "none"
                and c.observed is not None
                and c.resource in unsettled
                and unsettled[c.resource](c.observed)
            }
        )
    )


def plan_destroy(
    config: StackConfig,
    clients: Clients,
    *,
    delete_table: bool = False,
    reporter: Reporter | None = None,
    ctx: Context | None = None,
    recorded: Recorded = UNREAD,
    delete_failed_batches: bool = False,
) -> Prepared:
    ctx = ctx or Context(clients=clients, config=config, reporter=reporter or NullReporter())
    observed = read(ctx, with_stream=False, recorded=recorded)
    label = f"mappings of {config.function.name}"
    function_change = function.plan_delete(observed.function, config.function, config.stack)
    changes: list[Change] = mapping.plan_delete(
        list(observed.mappings), config.stack, label, function_change.action == "delete"
    )
    if observed.consumer is not None:
        changes.append(
            stream_consumer.plan_delete(
                observed.consumer, observed.mappings, config.stack, observed.function
            )
        )
    changes.append(function_change)
    changes.append(log_group.plan_delete(observed.log_group, config.log_group, config.stack))
    changes.append(role.plan_delete(observed.role, config.role, config.stack))
    queue_spec = config.queue or config.retired_queue
    if queue_spec:
        changes.append(queue.plan_delete(observed.queue, queue_spec, config.stack))
    changes.append(table.plan_delete(observed.table, config.table, delete_table, config.stack))
    if observed.bucket is not None:
        changes.append(
            bucket.plan_delete(
                observed.bucket,
                observed.bucket_name,
                delete_failed_batches,
                config.stack,
            )
        )
    changes += alarms.plan_delete(ctx, observed.alarms)
    if observed.topic is not None:
        changes.append(topic.plan_delete(observed.topic, observed.topic.name, config.stack))
    changes.append(settings.plan_delete(observed.settings, config.stack))
    changes.append(
        stack_dashboard.plan_delete(observed.dashboard, dashboard_name(config.stack), config.stack)
    )
    plan = Plan("destroy", config.stack, clients.region, tuple(changes), {})
    return Prepared(plan, ctx, None)


def execute(prepared: Prepared, reporter: Reporter | None = None) -> dict[str, str | None]:
    """Apply a prepared plan; returns the stack's outputs."""
    ctx = prepared.ctx
    if reporter is not None:
        ctx.reporter = reporter
    if prepared.plan.kind == "destroy":
        ours = any(c.resource == "function" and c.action == "delete" for c in prepared.plan.changes)
        return run_plan(prepared.plan, ctx, destroy_steps(function_is_ours=ours))
    want = prepared.want
    assert want is not None
    config = ctx.config

    def function_step(ctx: Context, change: Change, outputs: dict[str, str]) -> dict[str, str]:
        wanted = desired_function(
            config, want, outputs.get("queue_url"), outputs.get("role_arn", want.role_arn)
        )
        return function.apply(ctx, wanted, change)

    def alarm_step(ctx: Context, change: Change, outputs: dict[str, str]) -> dict[str, str]:
        arn = outputs.get("topic_arn") or want.topic_arn
        wanted = {a.name: a for a in alarms.desired(ctx, arn)} if arn else {}
        return alarms.apply(ctx, wanted.get(change.name), change)

    steps = {
        "table": lambda ctx, change, _: table.apply(ctx, config.table, change),
        "queue": lambda ctx, change, _: (
            queue.apply(ctx, config.queue, change) if config.queue else {}
        ),
        "log_group": lambda ctx, change, _: log_group.apply(ctx, config.log_group, change),
        "role": lambda ctx, change, _: role.apply(ctx, config.role, want.grants, change),
        "function": function_step,
        "consumer": lambda ctx, change, _: stream_consumer.apply(
            ctx, config.consumer, config.stream.arn, change
        ),
        "mapping": lambda ctx, change, outputs: mapping.apply(
            ctx, desired_mapping(config, want, outputs.get("consumer_arn")), change, outputs
        ),
        "settings": lambda ctx, change, _: settings.apply(ctx, config.settings, change),
        "bucket": lambda ctx, change, _: (
            bucket.apply(ctx, config.bucket, change) if config.bucket else {}
        ),
        # dashboard
        "dashboard": lambda ctx, change, _: (
            stack_dashboard.apply(ctx, config.dashboard, dashboard_body(ctx), change)
            if config.dashboard
            else stack_dashboard.apply_retired(ctx, change)
        ),
        # alarms and notifications
        "topic": lambda ctx, change, _: (
            topic.delete(ctx, change) or {}
            if change.action == "delete"
            else topic.apply(ctx, config.alarms.topic, change)
        ),
        "alarm": alarm_step,
    }
    outputs = run_plan(prepared.plan, ctx, steps)
    outputs.pop("bucket_arn", None)
    outputs.pop("queue_arn", None)
    outputs.pop("log_group_arn", None)
    outputs.pop("topic_arn", None)
    return outputs


def _delete_step(delete: Callable[[Context, Change], None]) -> Any:
    def step(ctx: Context, change: Change, _: dict[str, str]) -> dict[str, str]:
        if change.action == "delete":
            delete(ctx, change)
        return {}

    return step


def destroy_steps(function_is_ours: bool) -> dict[ResourceKind, Any]:
    def delete_mapping(ctx: Context, change: Change) -> None:
        if function_is_ours:  # someone else's function is never tagged
            stream_consumer.remember(ctx, change.observed)
        mapping.delete(ctx, change)

    return {
        "mapping": _delete_step(delete_mapping),
        "consumer": _delete_step(stream_consumer.delete),
        "function": _delete_step(function.delete),
        "log_group": _delete_step(log_group.delete),
        "role": _delete_step(role.delete),
        "queue": _delete_step(queue.delete),
        "table": _delete_step(table.delete),
        "settings": _delete_step(settings.delete),
        "bucket": _delete_step(bucket.delete),
        # dashboard
        "dashboard": _delete_step(stack_dashboard.delete),
        # alarms and notifications
        "alarm": _delete_step(alarms.delete),
        "topic": _delete_step(topic.delete),
    }
