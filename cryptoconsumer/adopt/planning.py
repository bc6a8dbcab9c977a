"""The adoption plan: `up`'s plan for this stack, built from what the CloudFormation stack runs,
then what deleting the CloudFormation stack does to each of its resources.

Where values come from: command line > environment > stack file > the settings recorded on
the stack > what the CloudFormation stack runs (its table's name and billing, its mapping's
stream, batch size, batching window and parallelization) > the built-in defaults. So options
of `up` win, and a re-run after a crash takes what the first run recorded.

Names: the table keeps its name. Our function takes the default name unless the
CloudFormation stack's function holds it; then it is NAME-adopted, for good (one
make-before-break, never a moment without an enabled mapping), and recorded, so `status`,
`up` and every other command find it with no option.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from cryptoconsumer import stack as stacks
from cryptoconsumer.adopt import cloudformation as cfn
from cryptoconsumer.adopt.source import AdoptRefused, Source, inspect
from cryptoconsumer.aws import Clients, translated
from cryptoconsumer.config import (
    DEFAULT_STACK,
    RECORDED,
    Layer,
    StackConfig,
    StackOptions,
    build_config,
    check_fields,
    default_names,
    layered,
)
from cryptoconsumer.errors import InputError
from cryptoconsumer.progress import NullReporter, Reporter
from cryptoconsumer.resources import settings
from cryptoconsumer.resources.base import Context, owned
from cryptoconsumer.resources.lookback import LookBack, look_back

SUFFIX = "-adopted"
Phase = Literal["adopt", "finish", "gone"]
Planner = Callable[["StackConfig", bool], "stacks.Prepared"]
DeletionAction = Literal["delete", "retain", "gone"]


def origin(stack_name: str) -> str:
    return f"CloudFormation stack {stack_name}"


@dataclass(frozen=True)
class Deletion:
    """What DeleteStack does to one resource of the CloudFormation stack."""

    kind: str
    name: str
    action: DeletionAction
    details: tuple[str, ...]
    resource: cfn.StackResource


@dataclass
class Adoption:
    cfn_name: str
    phase: Phase
    prepared: stacks.Prepared
    cfn: cfn.CfnStack | None
    source: Source | None
    look_back: LookBack | None
    deletions: tuple[Deletion, ...]
    notes: tuple[str, ...]

    @property
    def config(self) -> StackConfig:
        return self.prepared.ctx.config

    @property
    def mutating(self) -> bool:
        return self.prepared.plan.mutating or self.phase != "gone"


def check_given(given: StackOptions) -> None:
    """Refusals the options alone decide, before any AWS call."""
    check_fields(given)
    if given.starting_position and given.starting_position.upper() == "LATEST":
        raise InputError(
            "adopt does not start the new mapping at LATEST: it could skip records the old "
            "mapping has not processed yet; leave --starting-position out (adopt starts "
            "AT_TIMESTAMP from the old mapping's iterator age) or use TRIM_HORIZON"
        )


def prepare(
    layers: Sequence[Layer],
    clients: Clients,
    cfn_name: str,
    *,
    force_unknown: bool = False,
    forget: frozenset[str] = frozenset(),
    reporter: Reporter | None = None,
    ctx: Context | None = None,
    now: datetime | None = None,
) -> Adoption:
    given, _ = layered(*layers)
    check_given(given)
    stack_name = given.stack or DEFAULT_STACK
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        cfn_future = pool.submit(cfn.read, clients, cfn_name)
        recorded_future = pool.submit(settings.read, clients, stack_name)
        recorded = recorded_future.result()
        found = cfn_future.result()
    record = _record_layer(recorded, forget)
    reporter = reporter or NullReporter()

    def planned(config: StackConfig, adopt_table: bool) -> stacks.Prepared:
        context = replace(ctx, config=config) if ctx else None
        return stacks.plan_up(
            config,
            clients,
            reporter=reporter,
            ctx=context,
            recorded=recorded,
            adopt_table=adopt_table,
        )

    if found is None or found.status == "DELETE_COMPLETE":
        if not record:
            raise AdoptRefused(f"CloudFormation stack {cfn_name} does not exist")
        # Deleted by an earlier adopt (or by hand): what is left is `up` on the record.
        config = _config([*layers, *record])
        return Adoption(cfn_name, "gone", planned(config, False), found, None, None, (), ())
    if found.status in cfn.DELETING_STATES:
        return _finishing(found, [*layers, *record], planned)
    source = inspect(clients, found, force_unknown)
    derived = _derived(source, given.stack or DEFAULT_STACK)
    first = _config([*layers, *record, derived])
    _check_names(first, source)
    ours = _our_mapping(clients, first)
    back = None
    if ours is None:
        back = look_back(clients, source.function_name, now)
        position = Layer(
            origin(found.name),
            StackOptions(
                starting_position="AT_TIMESTAMP",
                starting_timestamp=back.timestamp.isoformat().replace("+00:00", "Z"),
            ),
        )
    else:
        position = Layer(origin(found.name), ours)
    config = _config([*layers, *record, _merged(derived, position)])
    if ours is None and back is not None:
        _check_start(config, back)
    prepared = planned(config, True)
    notes = _notes(source, config, back)
    plan = replace(prepared.plan, notes=(*prepared.plan.notes, *notes))
    prepared.plan = plan
    return Adoption(
        cfn_name, "adopt", prepared, found, source, back, deletions(source), tuple(notes)
    )


def _record_layer(
    recorded: settings.ObservedSettings | None, forget: frozenset[str]
) -> list[Layer]:
    if not (recorded and recorded.owned):
        return []
    kept = replace(recorded.options(), **{name: None for name in forget})
    return [Layer(RECORDED, kept)]


def _config(layers: Sequence[Layer]) -> StackConfig:
    options, origins = layered(*layers)
    return build_config(options, origins)


def _merged(first: Layer, second: Layer) -> Layer:
    values = {
        name: getattr(second.options, name)
        for name in StackOptions.__dataclass_fields__
        if getattr(second.options, name) is not None
    }
    return Layer(first.origin, replace(first.options, **values))


def _derived(source: Source, stack_name: str) -> Layer:
    """What the CloudFormation stack runs, as a source of option values."""
    names = default_names(stack_name)
    # Only a name the CloudFormation stack holds changes; a free default stays the default.
    function_name = None
    if names["function"] == source.function_name:
        function_name = names["function"] + SUFFIX
    role_name = None
    if names["role"] in {r.physical_id for r in source.roles}:
        role_name = names["role"] + SUFFIX
    mode, read, write = source.billing
    mapping = source.mapping_config
    return Layer(
        origin(source.stack.name),
        StackOptions(
            stream_arn=source.stream_arn,
            table_name=source.table_name,
            function_name=function_name,
            role_name=role_name,
            billing_mode=mode,
            read_capacity=read,
            write_capacity=write,
            batch_size=mapping.get("BatchSize"),
            batch_window=mapping.get("MaximumBatchingWindowInSeconds"),
            parallelization_factor=mapping.get("ParallelizationFactor"),
        ),
    )


def _check_names(config: StackConfig, source: Source) -> None:
    """The record or the options may name other things than the stack adopts."""
    where = f"stack {config.stack}"
    if config.table.name != source.table_name:
        raise AdoptRefused(
            f"{where} names table {config.table.name} ({config.origins['table_name']}), but "
            f"adopt keeps CloudFormation stack {source.stack.name}'s table {source.table_name}: "
            "leave --table-name out, or adopt into another --stack"
        )
    assert config.stream is not None
    if config.stream.arn != source.stream_arn:
        raise AdoptRefused(
            f"{where} reads {config.stream.arn} ({config.origins['stream_arn']}), but "
            f"CloudFormation stack {source.stack.name}'s mapping reads {source.stream_arn}"
        )
    if config.function.name == source.function_name:
        raise AdoptRefused(
            f"function {source.function_name} belongs to CloudFormation stack "
            f"{source.stack.name} until it is deleted: leave --function-name out (adopt then "
            f"uses {source.function_name}{SUFFIX}) or choose another"
        )
    if config.role.name in {r.physical_id for r in source.roles}:
        raise AdoptRefused(
            f"role {config.role.name} belongs to CloudFormation stack {source.stack.name}: "
            "choose another --role-name"
        )


def _our_mapping(clients: Clients, config: StackConfig) -> StackOptions | None:
    """Where this stack's mapping on the stream already starts (an interrupted adopt), so a
    re-run plans no replacement; None when it does not exist yet."""
    client = clients.lambda_
    with translated(f"listing mappings of function {config.function.name}"):
        try:
            # By function alone: with --enhanced-fan-out the source is the stream's consumer.
            found = client.list_event_source_mappings(FunctionName=config.function.name)[
                "EventSourceMappings"
            ]
        except client.exceptions.ResourceNotFoundException:
            return None
        for mapping in found:
            arn = mapping.get("EventSourceMappingArn")
            tags = client.list_tags(Resource=arn).get("Tags", {}) if arn else {}
            if owned(tags, config.stack) and mapping.get("State") != "Deleting":
                position = mapping.get("StartingPosition") or "AT_TIMESTAMP"
                stamp = mapping.get("StartingPositionTimestamp")
                if position == "AT_TIMESTAMP" and stamp is None:
                    # Not returned (moto): the record or a fresh look-back says it.
                    return None
                return StackOptions(
                    starting_position=position,
                    starting_timestamp=stamp.isoformat() if stamp is not None else None,
                )
    return None


def _check_start(config: StackConfig, back: LookBack) -> None:
    spec = config.mapping
    if spec.starting_position == "LATEST":
        raise AdoptRefused(
            f"stack {config.stack} would start its new mapping at LATEST "
            f"({config.origins['starting_position']}), which could skip records the old mapping "
            "has not processed: forget it with --reset starting-position"
        )
    if spec.starting_timestamp and spec.starting_timestamp > back.timestamp:
        raise AdoptRefused(
            f"--starting-timestamp {spec.starting_timestamp.isoformat()} is later than the "
            f"look-back start {back.timestamp.isoformat()}: records the old mapping may not "
            "have processed would be skipped"
        )


def _finishing(found: cfn.CfnStack, layers: Sequence[Layer], plan_up: Planner) -> Adoption:
    """DeleteStack was called (by an earlier adopt): converge our side, then wait for it."""
    config = _config(layers)
    table = found.of_type(cfn.TABLE)
    if config.stream is None or not table or config.table.name != table[0].physical_id:
        raise AdoptRefused(
            f"CloudFormation stack {found.name} is {found.status}, and stack {config.stack} "
            "records no adoption of it: adopt needs a stable stack"
        )
    prepared = plan_up(config, True)
    enabled = [
        c
        for c in prepared.plan.for_resource("mapping")
        if c.action in ("none", "update") and c.observed is not None
    ]
    if not enabled:
        raise AdoptRefused(
            f"CloudFormation stack {found.name} is {found.status} but stack {config.stack} has "
            "no mapping on its stream: adopt needs a stable stack; run `cryptoconsumer up`"
        )
    kept = tuple(
        Deletion(_kind(r), r.physical_id, "retain" if r.retained else "delete", (r.status,), r)
        for r in found.resources
    )
    return Adoption(found.name, "finish", prepared, found, None, None, kept, ())


def _kind(resource: cfn.StackResource) -> str:
    return {
        cfn.TABLE: "table",
        cfn.ROLE: "role",
        cfn.POLICY: "policy",
        cfn.FUNCTION: "function",
        cfn.MAPPING: "mapping",
        cfn.CDK_METADATA: "metadata",
    }.get(resource.type, "other")


def deletions(source: Source) -> tuple[Deletion, ...]:
    """Every resource of the CloudFormation stack and what DeleteStack does to it."""
    found = []
    for resource in source.stack.resources:
        kind = _kind(resource)
        where = f"{resource.type} {resource.logical_id}"
        if resource.retained:
            details = [f"{where}: DeletionPolicy {resource.deletion_policy}, kept"]
            if kind == "table":
                details.append("with every item; this stack's table from now on")
            found.append(Deletion(kind, resource.physical_id, "retain", tuple(details), resource))
            continue
        details = [f"{where}: deleted with the stack"]
        if kind == "mapping":
            details.append("after this stack's mapping on the same stream is Enabled")
        if kind == "role":
            policies = cfn.managed_policy_names(resource)
            if policies:
                details.append(f"its managed policies go with it: {', '.join(policies)}")
        if kind == "other":
            details.append("not part of the consumer: deleted because of --force-unknown")
        found.append(Deletion(kind, resource.physical_id, "delete", tuple(details), resource))
    return tuple(found)


def _notes(source: Source, config: StackConfig, back: LookBack | None) -> list[str]:
    notes = []
    if back is not None:
        notes.append(f"new mapping {back.reason()}")
    if config.function.name == source.function_name + SUFFIX:
        notes.append(
            f"function {source.function_name} is the CloudFormation stack's until it is "
            f"deleted: this stack's is {config.function.name}, kept under that name and "
            "recorded, so every command finds it"
        )
    notes.append(
        f"the old function's log group /aws/lambda/{source.function_name}, if Lambda made one, "
        "is not in the CloudFormation stack: it stays as it is"
    )
    return notes
