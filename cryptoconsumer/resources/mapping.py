"""The Kinesis event source mapping: found by function + stream, never created twice.

Replacing it (a new source or starting position, which AWS cannot update) never skips a
record. A new source (the stream <-> its consumer, or another stream) is make before break:
the new mapping is created, waited for until Enabled, and only then is the old one deleted;
AWS serves two mappings of one function from different sources. The same source twice is
refused, so a new starting position on the same source is delete, then create. Either way
the new mapping starts where the old one may still be behind (`lookback`), unless the
position asked for is itself a reset (TRIM_HORIZON, AT_TIMESTAMP).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from cryptoconsumer.aws import error_message, translated
from cryptoconsumer.config import STACK_TAG, MappingSpec
from cryptoconsumer.errors import AwsError, PlanBlockedError
from cryptoconsumer.resources import consumer as stream_consumer
from cryptoconsumer.resources.base import (
    Change,
    Context,
    field_diff,
    is_error,
    owned,
    poll_until,
    retry_while,
)
from cryptoconsumer.resources.lookback import look_back

SETTLED_STATES = ("Enabled", "Disabled")
CANNOT_ACCESS_STREAM = "Please ensure the role can perform"
EXISTING_UUID = re.compile(r"UUID\s+([0-9a-fA-F-]{36})")
# On a mapping created at another start than its spec's (a look-back): the position the stack
# asked for, which is what later plans compare against, not the AT_TIMESTAMP it started at.
START_TAG = "cryptoconsumer:starting-position"
RESETS = ("TRIM_HORIZON", "AT_TIMESTAMP")
# On the function while a delete-then-create replacement is under way: where the new mapping
# starts, so that a run interrupted between the delete and the create resumes from there.
RESUME_TAG = "cryptoconsumer:mapping-resume-at"
Order = Literal["create_then_delete", "delete_then_create"]
METRICS = "EventCount"
# Said in the plan when a mapping first gets filters: what AWS does with the other records.
FILTERED_OUT_NOTE = (
    "records that match no filter are dropped by AWS: they never reach the function, "
    "the dead-letter queue or any destination"
)


@dataclass(frozen=True)
class ObservedMapping:
    uuid: str
    arn: str
    state: str
    state_reason: str
    last_processing_result: str
    source_arn: str
    function_arn: str
    batch_size: int
    starting_position: str
    starting_timestamp: datetime | None
    batch_window: int
    parallelization_factor: int
    bisect_on_error: bool
    max_retries: int
    max_record_age: int
    response_types: tuple[str, ...]
    destination_arn: str | None
    tags: dict[str, str]
    # FilterCriteria patterns as AWS answers them; why AWS could not decrypt them, if so
    filters: tuple[str, ...] = ()
    filter_error: str | None = None
    filter_kms_key: str | None = None
    metrics: bool = False


@dataclass(frozen=True)
class DesiredMapping:
    spec: MappingSpec
    function_name: str
    source_arn: str
    destination_arn: str | None

    @property
    def label(self) -> str:
        return f"{self.source_arn.rsplit('/', 1)[-1]} -> {self.function_name}"


def _observed(ctx: Context, config: dict[str, Any]) -> ObservedMapping:
    arn = config.get("EventSourceMappingArn") or ctx.arn(
        "lambda", f"event-source-mapping:{config['UUID']}"
    )
    with translated(f"reading tags of mapping {config['UUID']}"):
        tags = ctx.clients.lambda_.list_tags(Resource=arn).get("Tags", {})
    if config.get("KMSKeyArn") and not config.get("FilterCriteria"):
        # ListEventSourceMappings leaves encrypted filter criteria out; GetEventSourceMapping
        # answers them in plaintext to a caller allowed kms:Decrypt on the key.
        config = _get(ctx, config["UUID"]) or config
    return _from_config(config, arn, tags)


def _from_config(config: dict[str, Any], arn: str, tags: dict[str, str]) -> ObservedMapping:
    destination = (config.get("DestinationConfig") or {}).get("OnFailure") or {}
    return ObservedMapping(
        uuid=config["UUID"],
        arn=arn,
        state=config.get("State", ""),
        state_reason=config.get("StateTransitionReason", ""),
        last_processing_result=config.get("LastProcessingResult") or "",
        source_arn=config.get("EventSourceArn", ""),
        function_arn=config.get("FunctionArn", ""),
        batch_size=int(config.get("BatchSize", 100)),
        starting_position=config.get("StartingPosition", ""),
        starting_timestamp=config.get("StartingPositionTimestamp"),
        batch_window=int(config.get("MaximumBatchingWindowInSeconds", 0)),
        parallelization_factor=int(config.get("ParallelizationFactor", 1)),
        bisect_on_error=bool(config.get("BisectBatchOnFunctionError", False)),
        max_retries=int(config.get("MaximumRetryAttempts", -1)),
        max_record_age=int(config.get("MaximumRecordAgeInSeconds", -1)),
        response_types=tuple(sorted(config.get("FunctionResponseTypes") or [])),
        destination_arn=destination.get("Destination") or None,
        tags=dict(tags),
        filters=tuple(
            str(f.get("Pattern", ""))
            for f in (config.get("FilterCriteria") or {}).get("Filters") or []
        ),
        filter_error=_filter_error(config.get("FilterCriteriaError")),
        filter_kms_key=config.get("KMSKeyArn") or None,
        metrics=METRICS in ((config.get("MetricsConfig") or {}).get("Metrics") or []),
    )


def _filter_error(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    return f"{error.get('ErrorCode') or 'error'}: {error.get('Message') or 'no message'}"


def read_all(ctx: Context, function_name: str) -> list[ObservedMapping]:
    """Every mapping of the function, whatever its source; tags read for ownership."""
    client = ctx.clients.lambda_
    with translated(f"listing mappings of function {function_name}"):
        try:
            configs = [
                config
                for page in client.get_paginator("list_event_source_mappings").paginate(
                    FunctionName=function_name
                )
                for config in page["EventSourceMappings"]
            ]
        except client.exceptions.ResourceNotFoundException:
            return []
    return [_observed(ctx, config) for config in configs if config.get("State") != "Deleting"]


def _get(ctx: Context, uuid: str) -> dict[str, Any] | None:
    client = ctx.clients.lambda_
    with translated(f"reading mapping {uuid}"):
        try:
            return dict(client.get_event_source_mapping(UUID=uuid))
        except client.exceptions.ResourceNotFoundException:
            return None


def drift(desired: DesiredMapping, observed: ObservedMapping) -> list[str]:
    spec = desired.spec
    details = (
        field_diff("state", observed.state, "Enabled") if observed.state in SETTLED_STATES else []
    )
    details += field_diff("batch size", observed.batch_size, spec.batch_size)
    details += field_diff("batch window", observed.batch_window, spec.batch_window)
    details += field_diff(
        "parallelization factor", observed.parallelization_factor, spec.parallelization_factor
    )
    details += field_diff("bisect on error", observed.bisect_on_error, spec.bisect_on_error)
    details += field_diff("maximum retry attempts", observed.max_retries, spec.max_retries)
    details += field_diff("maximum record age", observed.max_record_age, spec.max_record_age)
    details += field_diff("function response types", observed.response_types, _response_types(spec))
    details += field_diff(
        "on-failure destination", observed.destination_arn, desired.destination_arn
    )
    details += _filter_drift(desired, observed)
    return details


def _filter_drift(desired: DesiredMapping, observed: ObservedMapping) -> list[str]:
    spec = desired.spec
    details = []
    if observed.filter_error:
        details.append(f"filters unreadable ({observed.filter_error}); `up` writes them again")
    elif not _same_filters(observed.filters, spec.filters):
        details.append(f"filters: {_shown(observed.filters)} -> {_shown(spec.filters)}")
    details += field_diff("filter KMS key", observed.filter_kms_key, spec.filter_kms_key)
    details += field_diff("mapping metrics", _on(observed.metrics), _on(spec.metrics))
    return details


def _same_filters(observed: tuple[str, ...], desired: tuple[str, ...]) -> bool:
    from cryptoconsumer.filter_patterns import same_patterns

    try:
        return same_patterns(observed, desired)
    except ValueError:  # a pattern AWS holds that is not JSON is not ours
        return False


def _shown(patterns: tuple[str, ...]) -> str:
    from cryptoconsumer.filter_patterns import canonical

    def one(text: str) -> str:
        try:
            return canonical(text)
        except ValueError:
            return text

    return "[" + ", ".join(one(text) for text in patterns) + "]" if patterns else "(none)"


def _on(value: bool) -> str:
    return "on" if value else "off"


def filter_notes(desired: DesiredMapping, observed: ObservedMapping | None) -> list[str]:
    """What the plan says when the mapping gets filters it did not have."""
    spec = desired.spec
    if not spec.filters or (observed is not None and observed.filters):
        return []
    counted = (
        "counted only as FilteredOutEventCount (mapping metrics)"
        if spec.metrics
        else "counted nowhere (--mapping-metrics would count them as FilteredOutEventCount)"
    )
    return [f"{FILTERED_OUT_NOTE}, {counted}"]


def new_mapping_details(desired: DesiredMapping) -> list[str]:
    """The filter and metrics lines of a new mapping's plan."""
    spec = desired.spec
    details = [f"mapping metrics {_on(spec.metrics)}"]
    if spec.filters:
        encrypted = f", encrypted with {spec.filter_kms_key}" if spec.filter_kms_key else ""
        details.append(f"filters: {_shown(spec.filters)}{encrypted}")
    return details + filter_notes(desired, None)


def replacement_reasons(desired: DesiredMapping, observed: ObservedMapping) -> list[str]:
    spec = desired.spec
    reasons = field_diff("source", observed.source_arn, desired.source_arn)
    asked = observed.tags.get(START_TAG)
    if asked is not None:
        # Started by a look-back: it stands for the position asked for then.
        return reasons + field_diff("starting position", asked, position_label(spec))
    reasons += field_diff("starting position", observed.starting_position, spec.starting_position)
    if spec.starting_position == "AT_TIMESTAMP" and observed.starting_timestamp is not None:
        observed_ts = observed.starting_timestamp
        if (
            spec.starting_timestamp
            and observed_ts.timestamp() != spec.starting_timestamp.timestamp()
        ):
            reasons.append(
                f"starting timestamp: {observed_ts.isoformat()} -> "
                f"{spec.starting_timestamp.isoformat()}"
            )
    return reasons


def position_label(spec: MappingSpec) -> str:
    """The starting position as one value: `LATEST`, or `AT_TIMESTAMP 2026-03-01T00:00:00Z`."""
    if spec.starting_position == "AT_TIMESTAMP" and spec.starting_timestamp is not None:
        return f"AT_TIMESTAMP {_iso(spec.starting_timestamp)}"
    return spec.starting_position


def _asked_position(observed: ObservedMapping) -> str:
    if START_TAG in observed.tags:
        return observed.tags[START_TAG]
    if observed.starting_position == "AT_TIMESTAMP" and observed.starting_timestamp is not None:
        return f"AT_TIMESTAMP {_iso(observed.starting_timestamp)}"
    return observed.starting_position


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Replacement:
    """How a mapping is replaced: in which order, and where the new one starts and why."""

    order: Order
    starting_position: str
    starting_timestamp: datetime | None
    asked: str  # the stack's position, recorded (START_TAG) when the start differs from it
    reason: str

    @property
    def start_label(self) -> str:
        if self.starting_timestamp is None:
            return self.starting_position
        return f"{self.starting_position} {_iso(self.starting_timestamp)}"

    @property
    def order_line(self) -> str:
        if self.order == "create_then_delete":
            return (
                "create the new mapping first, wait until it is Enabled, then delete the old "
                "one: never a moment without a mapping"
            )
        return (
            "delete the old mapping first (AWS refuses two mappings of one source), then "
            "create the new one"
        )

    def as_json(self) -> dict[str, str | None]:
        return {
            "order": self.order,
            "starting_position": self.starting_position,
            "starting_timestamp": _iso(self.starting_timestamp)
            if self.starting_timestamp
            else None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Superseded:
    """A mapping of ours from another source, left by an interrupted switch: it goes once the
    mapping from the desired source (`keeper`) is Enabled."""

    keeper: str


def replacement(
    ctx: Context,
    desired: DesiredMapping,
    old: ObservedMapping,
    now: datetime | None = None,
) -> Replacement:
    """Where the new mapping starts, decided before anything changes."""
    spec = desired.spec
    asked = position_label(spec)
    order: Order = (
        "delete_then_create" if old.source_arn == desired.source_arn else "create_then_delete"
    )
    same_data = stream_consumer.stream_of(old.source_arn) == stream_consumer.stream_of(
        desired.source_arn
    )
    if spec.starting_position in RESETS and (asked != _asked_position(old) or not same_data):
        return Replacement(
            order,
            spec.starting_position,
            spec.starting_timestamp,
            asked,
            f"starts {asked} as asked: a deliberate reset, not a continuation of the old mapping"
            if same_data
            else f"starts {asked} on the new stream as asked",
        )
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    if not same_data:
        # LATEST would mean "from the new mapping's first poll", some seconds after the
        # create: what producers put on the new stream meanwhile would never be read.
        moment = now.replace(microsecond=0)
        return Replacement(
            order,
            "AT_TIMESTAMP",
            moment,
            asked,
            f"starts AT_TIMESTAMP {_iso(moment)} on the new stream, the moment before the "
            f"create, not {spec.starting_position} (the first poll, seconds later): every "
            "record put on it from now on is read",
        )
    back = look_back(ctx.clients, desired.function_name, now)
    return Replacement(order, "AT_TIMESTAMP", back.timestamp, asked, back.reason())


def _response_types(spec: MappingSpec) -> tuple[str, ...]:
    return ("ReportBatchItemFailures",) if spec.report_batch_item_failures else ()


def plan(
    ctx: Context,
    desired: DesiredMapping,
    observed_all: list[ObservedMapping],
    replace: bool,
    now: datetime | None = None,
    resume_at: str | None = None,
) -> list[Change]:
    """One change for the mapping, then deletes of the other mappings of ours: duplicates of
    its source (moto allows them), and those from other sources, once it is Enabled.

    `resume_at`: the function's RESUME_TAG, left by a replacement interrupted after it
    deleted the old mapping."""
    ours = [m for m in observed_all if owned(m.tags, ctx.config.stack)]
    same_source = [m for m in ours if m.source_arn == desired.source_arn]
    # Enabled first: the one that feeds the function is the one to keep or replace.
    other_sources = sorted(
        (m for m in ours if m.source_arn != desired.source_arn), key=lambda m: m.state != "Enabled"
    )
    current = same_source[0] if same_source else None
    if current is not None:
        # The desired source is mapped already (an interrupted switch): the others go once
        # it is Enabled, which the change before them waits for; it reads what they read.
        extras = [
            Change("mapping", m.uuid, "delete", (f"duplicate mapping from {m.source_arn}",), m)
            for m in same_source[1:]
        ] + [
            Change(
                "mapping",
                m.uuid,
                "delete",
                (
                    f"from {m.source_arn}: superseded by mapping {current.uuid} (an "
                    "interrupted switch); deleted once that one is Enabled",
                ),
                m,
                how=Superseded(current.uuid),
            )
            for m in other_sources
        ]
        return [_keep(ctx, desired, current, replace, now), *extras]
    if not other_sources:
        create_details = (
            f"from {desired.source_arn}",
            f"batch {desired.spec.batch_size}, start {desired.spec.starting_position}",
            f"retries {desired.spec.max_retries}, max age {desired.spec.max_record_age} s, "
            "bisect on error, ReportBatchItemFailures",
            *new_mapping_details(desired),
        )
        resumed = _resumed(desired, resume_at)
        if resumed is not None:
            create_details = (*create_details, resumed.reason)
        return [Change("mapping", desired.label, "create", create_details, how=resumed)]
    current, rest = other_sources[0], other_sources[1:]
    if not replace:
        raise PlanBlockedError(
            f"mapping {current.uuid} feeds the function from {current.source_arn}; moving it "
            f"to {desired.source_arn} replaces it: run again with --replace-mapping"
        )
    extras = [
        Change(
            "mapping",
            m.uuid,
            "delete",
            (f"mapping from another source {m.source_arn}: deleted after the new one",),
            m,
        )
        for m in rest
    ]
    return [_replace(ctx, desired, current, replacement_reasons(desired, current), now), *extras]


def _resumed(desired: DesiredMapping, resume_at: str | None) -> Replacement | None:
    if not resume_at or desired.spec.starting_position in RESETS:
        return None
    try:
        moment = datetime.strptime(resume_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return Replacement(
        "delete_then_create",
        "AT_TIMESTAMP",
        moment,
        position_label(desired.spec),
        f"starts AT_TIMESTAMP {resume_at}: a replacement deleted the old mapping and was "
        "interrupted before it created this one; the function recorded where it starts",
    )


def _replace(
    ctx: Context,
    desired: DesiredMapping,
    old: ObservedMapping,
    reasons: list[str],
    now: datetime | None,
) -> Change:
    how = replacement(ctx, desired, old, now)
    details = (*reasons, how.order_line, how.reason)
    return Change("mapping", old.uuid, "replace", details, old, how=how)


def _keep(
    ctx: Context,
    desired: DesiredMapping,
    current: ObservedMapping,
    replace: bool,
    now: datetime | None,
) -> Change:
    reasons = replacement_reasons(desired, current)
    if reasons:
        if not replace:
            raise PlanBlockedError(
                f"mapping {current.uuid}: {'; '.join(reasons)} can only change by replacing "
                "the mapping: run again with --replace-mapping"
            )
        return _replace(ctx, desired, current, reasons, now)
    details = drift(desired, current)
    details += filter_notes(desired, current) if details else []
    reason = current.state_reason
    if current.state == "Disabled" and reason and not reason.startswith("User"):
        # Disabled by AWS, not by a person ("User action"): say why before re-enabling.
        details.append(f"disabled by AWS: StateTransitionReason: {reason}")
    if not details and current.state not in SETTLED_STATES:
        details = [f"state {current.state}: `up` waits until it is Enabled"]
        return Change("mapping", current.uuid, "none", tuple(details), current)
    return Change("mapping", current.uuid, "update" if details else "none", tuple(details), current)


def _settled(ctx: Context, uuid: str, doing: str) -> dict[str, Any] | None:
    return poll_until(
        ctx,
        lambda: _get(ctx, uuid),
        lambda config: config is None or config.get("State") in SETTLED_STATES,
        f"mapping {uuid} {doing}",
    )


def _enabled(ctx: Context, uuid: str, doing: str, after: str) -> None:
    """Settled AND Enabled: a mapping AWS left Disabled (StateTransitionReason) feeds nothing."""
    config = _settled(ctx, uuid, doing)
    if config is None:
        raise AwsError(f"mapping {uuid} disappeared after it {after}", "MappingNotFound")
    if config.get("State") != "Enabled":
        reason = config.get("StateTransitionReason") or "no reason given"
        raise AwsError(
            f"mapping {uuid} is {config.get('State')} after it {after}: "
            f"StateTransitionReason: {reason}",
            "MappingNotEnabled",
        )


def _in_use(err: Exception) -> bool:
    return is_error(err, "ResourceInUseException")


def _cannot_access_stream(err: Exception) -> bool:
    return is_error(err, "InvalidParameterValueException", message_has=CANNOT_ACCESS_STREAM)


def _update_params(desired: DesiredMapping) -> dict[str, Any]:
    spec = desired.spec
    return {
        "Enabled": True,
        "BatchSize": spec.batch_size,
        "MaximumBatchingWindowInSeconds": spec.batch_window,
        "ParallelizationFactor": spec.parallelization_factor,
        "BisectBatchOnFunctionError": spec.bisect_on_error,
        "MaximumRetryAttempts": spec.max_retries,
        "MaximumRecordAgeInSeconds": spec.max_record_age,
        "FunctionResponseTypes": list(_response_types(spec)),
        "DestinationConfig": {
            "OnFailure": {"Destination": desired.destination_arn} if desired.destination_arn else {}
        },
        # {} clears the filters and "" the key, as an update must be able to.
        "FilterCriteria": {"Filters": [{"Pattern": p} for p in spec.filters]}
        if spec.filters
        else {},
        "KMSKeyArn": spec.filter_kms_key or "",
        "MetricsConfig": {"Metrics": [METRICS] if spec.metrics else []},
    }


def apply(
    ctx: Context, desired: DesiredMapping, change: Change, outputs: dict[str, str] | None = None
) -> dict[str, str]:
    """`outputs`: what the changes before this one produced (the mapping kept or made)."""
    if change.action == "delete":
        if isinstance(change.how, Superseded):
            # Only while the mapping kept is Enabled may this one go (never neither).
            keeper = (outputs or {}).get("mapping_uuid") or change.how.keeper
            _enabled(ctx, keeper, "to be Enabled", "was kept")
        delete(ctx, change)
        return {}
    if change.action == "replace":
        how: Replacement = change.how
        if how.order == "delete_then_create":
            function_arn = change.observed.function_arn
            looked_back = how.start_label != how.asked
            if looked_back:
                _remember_start(ctx, function_arn, how)
            delete(ctx, change)
            uuid = _create(ctx, desired, how)
            if looked_back:
                _forget_start(ctx, function_arn)
            return {"mapping_uuid": uuid}
        # Make before break: _create returns once the new mapping is Enabled; a failure
        # until then leaves the old one as it was, a failure after it leaves both.
        uuid = _create(ctx, desired, how)
        delete(ctx, change)
        return {"mapping_uuid": uuid}
    if change.action == "create":
        uuid = _create(ctx, desired, change.how)
        if change.how is not None:
            _forget_start(ctx, ctx.arn("lambda", f"function:{desired.function_name}"))
        return {"mapping_uuid": uuid}
    uuid = change.observed.uuid
    if change.action == "update":
        _update(ctx, desired, uuid)
    elif change.action == "none" and change.observed.state not in SETTLED_STATES:
        _enabled(ctx, uuid, "to settle", "settled")
    return {"mapping_uuid": uuid}


def _create(ctx: Context, desired: DesiredMapping, start: Replacement | None = None) -> str:
    client = ctx.clients.lambda_
    spec = desired.spec
    params: dict[str, Any] = {
        "FunctionName": desired.function_name,
        "EventSourceArn": desired.source_arn,
        "StartingPosition": spec.starting_position,
        "Tags": dict(ctx.config.tags),
        **_update_params(desired),
    }
    if not desired.destination_arn:
        params.pop("DestinationConfig")
    for name in ("FilterCriteria", "KMSKeyArn"):
        if not params[name]:
            params.pop(name)
    if not spec.metrics:
        params.pop("MetricsConfig")
    if spec.starting_timestamp is not None:
        params["StartingPositionTimestamp"] = spec.starting_timestamp
    if start is not None:
        params["StartingPosition"] = start.starting_position
        params.pop("StartingPositionTimestamp", None)
        if start.starting_timestamp is not None:
            params["StartingPositionTimestamp"] = start.starting_timestamp
        if start.start_label != start.asked:
            # In the create call itself: no crash can leave it unrecorded.
            params["Tags"][START_TAG] = start.asked
    with translated(f"creating mapping {desired.label}"):
        try:
            created = retry_while(
                ctx,
                lambda: client.create_event_source_mapping(**params),
                _cannot_access_stream,
                "IAM to let the role read the stream",
            )
            uuid = created["UUID"]
        except client.exceptions.ResourceConflictException as err:
            # The listing missed a mapping that exists (an interrupted run, or eventual
            # consistency): adopt it rather than create a second one.
            match = EXISTING_UUID.search(error_message(err))
            if not match:
                raise
            uuid = match.group(1)
            ctx.reporter.info(f"mapping {uuid} already exists; adopting it")
            _settled(ctx, uuid, "to settle")
            _update(ctx, desired, uuid)
            return uuid
    ctx.reporter.info(f"created mapping {uuid}")
    _enabled(ctx, uuid, "to become Enabled", "was created")
    return uuid


def _remember_start(ctx: Context, function_arn: str, how: Replacement) -> None:
    assert how.starting_timestamp is not None
    with translated(f"recording on function {function_arn} where the new mapping starts"):
        ctx.clients.lambda_.tag_resource(
            Resource=function_arn, Tags={RESUME_TAG: _iso(how.starting_timestamp)}
        )


def _forget_start(ctx: Context, function_arn: str) -> None:
    client = ctx.clients.lambda_
    with translated(f"removing tag {RESUME_TAG} from function {function_arn}"):
        client.untag_resource(Resource=function_arn, TagKeys=[RESUME_TAG])


def _update(ctx: Context, desired: DesiredMapping, uuid: str) -> None:
    client = ctx.clients.lambda_
    with translated(f"updating mapping {uuid}"):
        retry_while(
            ctx,
            lambda: client.update_event_source_mapping(UUID=uuid, **_update_params(desired)),
            lambda err: _in_use(err) or _cannot_access_stream(err),
            f"mapping {uuid} to accept an update",
            seconds=max(ctx.settle_seconds, ctx.propagation_seconds),
        )
    ctx.reporter.info(f"updated mapping {uuid}")
    _enabled(ctx, uuid, "to finish updating", "was updated")


def plan_delete(
    observed_all: list[ObservedMapping], stack: str, label: str, function_deleted: bool = False
) -> list[Change]:
    if not observed_all:
        return [Change("mapping", label, "none", ("does not exist",))]
    return [
        Change("mapping", m.uuid, "delete", (f"from {m.source_arn}",), m)
        if owned(m.tags, stack)
        else Change("mapping", m.uuid, "none", _left_alone(m, function_deleted), m)
        for m in observed_all
    ]


def _left_alone(found: ObservedMapping, function_deleted: bool) -> tuple[str, ...]:
    other = found.tags.get(STACK_TAG)
    whose = f"belongs to stack {other}" if other else "not tagged for any stack"
    if not function_deleted:
        return (f"{whose}; left alone",)
    function_name = found.function_arn.rsplit(":", 1)[-1]
    return (
        f"{whose}; left alone, and left pointing at function {function_name}, which this "
        "destroy deletes: its records will fail until its owner deletes the mapping",
    )


def delete(ctx: Context, change: Change) -> None:
    """Delete and wait until it is gone: a mapping still Deleting can keep invoking."""
    client = ctx.clients.lambda_
    uuid = change.observed.uuid
    with translated(f"deleting mapping {uuid}"):
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            retry_while(
                ctx,
                lambda: client.delete_event_source_mapping(UUID=uuid),
                _in_use,
                f"mapping {uuid} to accept the delete",
                seconds=ctx.settle_seconds,
            )
    poll_until(
        ctx, lambda: _get(ctx, uuid), lambda config: config is None, f"mapping {uuid} to be deleted"
    )
    ctx.reporter.info(f"deleted mapping {uuid}")
