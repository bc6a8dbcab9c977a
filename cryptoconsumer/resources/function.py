"""The Lambda function: code by CodeSha256, configuration field by field, waits between updates."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from typing import Any

from cryptoconsumer.aws import translated
from cryptoconsumer.config import FunctionSpec
from cryptoconsumer.errors import AwsError
from cryptoconsumer.package import Package
from cryptoconsumer.resources.base import (
    Change,
    Context,
    field_diff,
    is_error,
    owned,
    retry_while,
    wait,
)

ROLE_NOT_ASSUMABLE = "cannot be assumed by Lambda"


@dataclass(frozen=True)
class ObservedFunction:
    name: str
    arn: str
    state: str
    last_update_status: str
    state_reason: str
    runtime: str
    handler: str
    timeout: int
    memory: int
    architecture: str
    role_arn: str
    environment: dict[str, str]
    code_sha256: str
    tags: dict[str, str]
    state_reason_code: str = ""
    last_update_reason: str = ""
    last_update_reason_code: str = ""

    @property
    def failed(self) -> bool:
        """AWS gave up on its creation or on its last update; invocations may fail."""
        return self.state == "Failed" or self.last_update_status == "Failed"

    @property
    def settling(self) -> bool:
        return self.state == "Pending" or self.last_update_status == "InProgress"

    @property
    def failure(self) -> str:
        """What AWS says went wrong, as one phrase; "" when nothing did."""
        said = []
        if self.state == "Failed":
            said.append(_said("State Failed", self.state_reason_code, self.state_reason))
        if self.last_update_status == "Failed":
            said.append(
                _said(
                    "LastUpdateStatus Failed", self.last_update_reason_code, self.last_update_reason
                )
            )
        return "; ".join(said)


def _said(what: str, code: str, reason: str) -> str:
    return f"{what}{f' ({code})' if code else ''}: {reason or 'no reason given'}"


class FunctionFailedError(AwsError):
    """Lambda reports the function Failed: it must not be fed, and `up` must not succeed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "FunctionFailed")


@dataclass(frozen=True)
class DesiredFunction:
    spec: FunctionSpec
    role_arn: str
    environment: dict[str, str]
    package: Package


def environment(table_name: str, queue_url: str | None) -> dict[str, str]:
    variables = {"DYNAMO_TABLE_NAME": table_name}
    if queue_url:
        variables["DEAD_LETTER_QUEUE_URL"] = queue_url
    return variables


def read(ctx: Context, spec: FunctionSpec) -> ObservedFunction | None:
    client = ctx.clients.lambda_
    with translated(f"reading function {spec.name}"):
        try:
            found = client.get_function(FunctionName=spec.name)
        except client.exceptions.ResourceNotFoundException:
            return None
    return _observed(found["Configuration"], found.get("Tags") or {})


def _observed(config: dict[str, Any], tags: dict[str, str]) -> ObservedFunction:
    return ObservedFunction(
        name=config["FunctionName"],
        arn=config["FunctionArn"],
        state=config.get("State", "Active"),
        last_update_status=config.get("LastUpdateStatus", "Successful"),
        state_reason=config.get("StateReason") or "",
        state_reason_code=config.get("StateReasonCode") or "",
        last_update_reason=config.get("LastUpdateStatusReason") or "",
        last_update_reason_code=config.get("LastUpdateStatusReasonCode") or "",
        runtime=config.get("Runtime", ""),
        handler=config.get("Handler", ""),
        timeout=int(config.get("Timeout", 3)),
        memory=int(config.get("MemorySize", 128)),
        architecture=(config.get("Architectures") or ["x86_64"])[0],
        role_arn=config.get("Role", ""),
        environment=dict((config.get("Environment") or {}).get("Variables") or {}),
        code_sha256=config.get("CodeSha256", ""),
        tags=dict(tags),
    )


def configuration_drift(desired: DesiredFunction, observed: ObservedFunction) -> list[str]:
    spec = desired.spec
    details = field_diff("runtime", observed.runtime, spec.runtime)
    details += field_diff("handler", observed.handler, spec.handler)
    details += field_diff("timeout", observed.timeout, spec.timeout)
    details += field_diff("memory", observed.memory, spec.memory)
    details += field_diff("role", observed.role_arn, desired.role_arn)
    for key in sorted(set(observed.environment) | set(desired.environment)):
        details += field_diff(
            f"environment {key}", observed.environment.get(key), desired.environment.get(key)
        )
    return details


def code_drift(desired: DesiredFunction, observed: ObservedFunction) -> list[str]:
    details = field_diff("architecture", observed.architecture, desired.spec.architecture)
    if observed.code_sha256 != desired.package.code_sha256:
        details.append(
            f"code: CodeSha256 {observed.code_sha256 or '?'} -> {desired.package.code_sha256}"
        )
    return details


def drift(desired: DesiredFunction, observed: ObservedFunction) -> list[str]:
    return code_drift(desired, observed) + configuration_drift(desired, observed)


def plan(ctx: Context, desired: DesiredFunction, observed: ObservedFunction | None) -> Change:
    spec = desired.spec
    if observed is None:
        return Change(
            "function",
            spec.name,
            "create",
            (
                f"{spec.runtime} {spec.architecture}, {spec.memory} MB, {spec.timeout} s",
                f"code {desired.package.code_sha256} ({desired.package.size} bytes)",
            ),
        )
    details = drift(desired, observed)
    if observed.failed:
        repair = f"{observed.failure}: re-apply its code and configuration to repair it"
        return Change("function", spec.name, "update", (repair, *details), observed)
    if observed.settling and not details:
        waiting = f"{observed.state}/{observed.last_update_status}: `up` waits until it is ready"
        return Change("function", spec.name, "none", (waiting,), observed)
    return Change("function", spec.name, "update" if details else "none", tuple(details), observed)


def _role_not_yet_assumable(err: Exception) -> bool:
    return is_error(err, "InvalidParameterValueException", message_has=ROLE_NOT_ASSUMABLE)


def _update_in_progress(err: Exception) -> bool:
    return is_error(err, "ResourceConflictException")


def apply(ctx: Context, desired: DesiredFunction, change: Change) -> dict[str, str]:
    """Create or update; either way, done only when Lambda reports it Active and its last
    update Successful. A Failed function is repaired by re-applying code and configuration
    (AWS starts a new attempt); if it is still Failed, that is the step's failure."""
    observed = _create(ctx, desired) if change.action == "create" else change.observed
    if change.action in ("create", "update"):
        _converge(ctx, desired, observed)
    elif observed.settling:
        _ready(ctx, desired.spec.name)
    return {"function_arn": observed.arn}


def _create(ctx: Context, desired: DesiredFunction) -> ObservedFunction:
    """Create and wait until Active; returns the existing function if an earlier run made it."""
    client = ctx.clients.lambda_
    spec = desired.spec
    params = {
        "FunctionName": spec.name,
        "Runtime": spec.runtime,
        "Role": desired.role_arn,
        "Handler": spec.handler,
        "Code": {"ZipFile": desired.package.zip_bytes},
        "Timeout": spec.timeout,
        "MemorySize": spec.memory,
        "Architectures": [spec.architecture],
        "Environment": {"Variables": desired.environment},
        "Description": f"cryptoconsumer stack {ctx.config.stack}: Kinesis ticks to DynamoDB",
        "Tags": dict(ctx.config.tags),
    }
    with translated(f"creating function {spec.name}"):
        try:
            created = retry_while(
                ctx,
                lambda: client.create_function(**params),
                _role_not_yet_assumable,
                f"IAM to let Lambda assume role {desired.role_arn.rsplit('/', 1)[-1]}",
            )
        except client.exceptions.ResourceConflictException:
            # Made by an interrupted earlier run: converge it.
            existing = read(ctx, spec)
            if existing is None:
                raise AwsError(
                    f"function {spec.name} was reported to exist but cannot be read; run again",
                    "ResourceConflictException",
                ) from None
            return existing
    ctx.reporter.info(f"created function {spec.name}")
    _wait(ctx, "function_active_v2", "to become Active", spec.name, "was created")
    # The create response still says Pending; the waiter has just seen it Active.
    return replace(_observed(created, dict(ctx.config.tags)), state="Active")


def _wait(ctx: Context, waiter: str, until: str, name: str, after: str) -> None:
    """A Lambda waiter; when it stops on a Failed state, the error says what AWS said."""
    try:
        wait(ctx, ctx.clients.lambda_, waiter, f"function {name} {until}", FunctionName=name)
    except AwsError as err:
        current = read(ctx, FunctionSpec(name=name)) if err.code == "WaiterError" else None
        if current is None or not current.failed:
            raise
        raise FunctionFailedError(
            f"function {name} is Failed after it {after}: {current.failure}"
        ) from None


def _ready(ctx: Context, name: str) -> None:
    """Until Lambda has finished whatever it is doing to the function (Pending, InProgress)."""
    _wait(ctx, "function_active_v2", "to become Active", name, "was created")
    _wait(ctx, "function_updated_v2", "to finish its update", name, "was updated")


def _converge(ctx: Context, desired: DesiredFunction, observed: ObservedFunction) -> None:
    """Code first, then configuration; Lambda refuses an update while another is running."""
    client = ctx.clients.lambda_
    name = desired.spec.name
    if observed.settling:
        with contextlib.suppress(FunctionFailedError):  # a Failed one is repaired below
            _ready(ctx, name)
        observed = read(ctx, desired.spec) or observed
    repair = observed.failed
    if repair:
        ctx.reporter.info(f"function {name} is Failed ({observed.failure}); repairing it")
    if repair or code_drift(desired, observed):
        with translated(f"updating code of function {name}"):
            retry_while(
                ctx,
                lambda: client.update_function_code(
                    FunctionName=name,
                    ZipFile=desired.package.zip_bytes,
                    Architectures=[desired.spec.architecture],
                ),
                _update_in_progress,
                f"the update in progress on function {name}",
                seconds=ctx.settle_seconds,
            )
        _wait(ctx, "function_updated_v2", "to finish its code update", name, "got its code")
        ctx.reporter.info(f"updated code of function {name}")
    if repair or configuration_drift(desired, observed):
        spec = desired.spec
        with translated(f"updating configuration of function {name}"):
            retry_while(
                ctx,
                lambda: client.update_function_configuration(
                    FunctionName=name,
                    Runtime=spec.runtime,
                    Role=desired.role_arn,
                    Handler=spec.handler,
                    Timeout=spec.timeout,
                    MemorySize=spec.memory,
                    Environment={"Variables": desired.environment},
                ),
                lambda err: _update_in_progress(err) or _role_not_yet_assumable(err),
                f"function {name} to accept its configuration",
                seconds=max(ctx.settle_seconds, ctx.propagation_seconds),
            )
        _wait(
            ctx,
            "function_updated_v2",
            "to finish its configuration update",
            name,
            "got its configuration",
        )
        ctx.reporter.info(f"updated configuration of function {name}")
    if repair:
        # An update can succeed while the function itself stays Failed (State, not the update).
        _wait(ctx, "function_active_v2", "to become Active", name, "was repaired")
        current = read(ctx, desired.spec)
        if current is None or current.failed:
            failure = current.failure if current else "it no longer exists"
            raise FunctionFailedError(
                f"function {name} is still Failed after its code and configuration were "
                f"re-applied: {failure}"
            )
        ctx.reporter.info(f"repaired function {name}: Active")


def plan_delete(observed: ObservedFunction | None, spec: FunctionSpec, stack: str) -> Change:
    if observed is None:
        return Change("function", spec.name, "none", ("does not exist",))
    if not owned(observed.tags, stack):
        return Change("function", spec.name, "none", ("not tagged for this stack; left alone",))
    return Change("function", spec.name, "delete", (), observed)


def delete(ctx: Context, change: Change) -> None:
    client = ctx.clients.lambda_
    with translated(f"deleting function {change.name}"):
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            retry_while(
                ctx,
                lambda: client.delete_function(FunctionName=change.name),
                _update_in_progress,
                f"the update in progress on function {change.name}",
                seconds=ctx.settle_seconds,
            )
    ctx.reporter.info(f"deleted function {change.name}")
