"""What `up` applied, recorded on the stack: the SSM parameter /cryptoconsumer/STACK/settings.

Any machine with the credentials reads it, so `status`, `destroy` and the operations commands
know the stack's names, stream and settings from `--stack` alone, and drift means "changed
outside `up`". Only the values that were not left to their built-in default are recorded;
a later cryptoconsumer with other defaults changes what nobody chose, and nothing else.

The value is a small JSON document that says whose it is ({"managed_by": "cryptoconsumer",
"stack": ..., "format": 1, "settings": {...}}): GetParameter returns no tags, and reading
them would cost a second call on every command, so ownership is checked by content (the
parameter is tagged at creation as well). A parameter of that name that is not ours is never
overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptoconsumer.aws import Clients, error_code, translated
from cryptoconsumer.config import RECORDED_FIELDS, StackOptions, option_flag
from cryptoconsumer.errors import AwsError, OwnershipError, PlanBlockedError
from cryptoconsumer.resources.base import Change, Context, tag_list

FORMAT = 1
MANAGED_BY = "cryptoconsumer"
# SSM's limits on a parameter's value: 4 KB in the free standard tier, 8 KB in the advanced
# tier ($0.05 a month).
STANDARD_TIER_CHARS = 4096
ADVANCED_TIER_CHARS = 8192


def parameter_name(stack: str) -> str:
    return f"/cryptoconsumer/{stack}/settings"


@dataclass(frozen=True)
class ObservedSettings:
    name: str
    values: dict[str, Any]
    owned: bool
    tier: str
    # Fields recorded by a newer cryptoconsumer that this one does not know.
    unknown: tuple[str, ...] = ()

    def options(self) -> StackOptions:
        """The recorded values as a source of options (lists back to tuples)."""
        known = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in self.values.items()
            if name in RECORDED_FIELDS
        }
        return StackOptions(**known)


def document(stack: str, values: dict[str, Any]) -> str:
    body = {"format": FORMAT, "managed_by": MANAGED_BY, "stack": stack, "settings": values}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=list)


def _parse(name: str, stack: str, text: str, tier: str) -> ObservedSettings:
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    ours = (
        isinstance(body, dict)
        and body.get("managed_by") == MANAGED_BY
        and body.get("stack") == stack
        and isinstance(body.get("settings"), dict)
    )
    if not ours:
        return ObservedSettings(name, {}, owned=False, tier=tier)
    assert isinstance(body, dict)
    values = dict(body["settings"])
    unknown = tuple(sorted(key for key in values if key not in RECORDED_FIELDS))
    return ObservedSettings(name, values, owned=True, tier=tier, unknown=unknown)


def read(clients: Clients, stack: str) -> ObservedSettings | None:
    """The stack's record, or None when there is none (one GetParameter)."""
    name = parameter_name(stack)
    client = clients.ssm
    with translated(f"reading the recorded settings {name}"):
        try:
            found = client.get_parameter(Name=name)["Parameter"]
        except client.exceptions.ParameterNotFound:
            return None
        except Exception as err:
            if error_code(err) in ("AccessDeniedException", "AccessDenied"):
                raise AwsError(
                    f"cannot read the recorded settings {name}: these credentials need "
                    "ssm:GetParameter on it",
                    error_code(err),
                ) from None
            raise
    tier = "Advanced" if len(found.get("Value", "")) > STANDARD_TIER_CHARS else "Standard"
    return _parse(name, stack, str(found.get("Value", "")), tier)


def check_ownership(stack: str, observed: ObservedSettings | None) -> None:
    if observed is None:
        return
    if not observed.owned:
        raise OwnershipError(
            f"SSM parameter {observed.name} exists but is not cryptoconsumer's record of stack "
            f"{stack}: refusing to overwrite it (choose another --stack)"
        )
    if observed.unknown:
        raise PlanBlockedError(
            f"{observed.name} holds settings this cryptoconsumer does not know "
            f"({', '.join(observed.unknown)}): it was written by a newer version; upgrade"
        )


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {key: list(v) if isinstance(v, tuple) else v for key, v in values.items()}


def diff(desired: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
    want, have = _jsonable(desired), _jsonable(recorded)
    details = []
    for key in sorted(set(want) | set(have)):
        flag = option_flag(key).removeprefix("--")
        if key not in have:
            details.append(f"{flag}: (default) -> {_shown(want[key])}")
        elif key not in want:
            details.append(f"{flag}: {_shown(have[key])} -> (default)")
        elif want[key] != have[key]:
            details.append(f"{flag}: {_shown(have[key])} -> {_shown(want[key])}")
    return details


def tier_for(stack: str, desired: dict[str, Any]) -> str:
    size = len(document(stack, _jsonable(desired)))
    if size > ADVANCED_TIER_CHARS:
        raise PlanBlockedError(
            f"the stack's settings take {size} characters; SSM holds at most "
            f"{ADVANCED_TIER_CHARS} (shorten the filter patterns)"
        )
    return "Advanced" if size > STANDARD_TIER_CHARS else "Standard"


def plan(ctx: Context, desired: dict[str, Any], observed: ObservedSettings | None) -> Change:
    stack = ctx.config.stack
    name = parameter_name(stack)
    tier = tier_for(stack, desired)
    note = ["kept in SSM's advanced tier: over 4 KB, $0.05 a month"] if tier == "Advanced" else []
    if observed is None:
        details = [
            f"{option_flag(key).removeprefix('--')} = {_shown(value)}"
            for key, value in sorted(_jsonable(desired).items())
        ] or ["every setting at its default"]
        return Change("settings", name, "create", (*details, *note))
    details = diff(desired, observed.values)
    return Change("settings", name, "update" if details else "none", tuple(details), observed)


def apply(ctx: Context, desired: dict[str, Any], change: Change) -> dict[str, str]:
    if change.action not in ("create", "update"):
        return {}
    client = ctx.clients.ssm
    stack = ctx.config.stack
    name = parameter_name(stack)
    tier = tier_for(stack, desired)
    observed: ObservedSettings | None = change.observed
    if observed is not None and observed.tier == "Advanced":
        tier = "Advanced"  # SSM cannot move a parameter back to the standard tier
    params: dict[str, Any] = {
        "Name": name,
        "Value": document(stack, _jsonable(desired)),
        "Type": "String",
        "Tier": tier,
        "Description": f"cryptoconsumer: the settings `up` applied to stack {stack}",
    }
    with translated(f"recording the settings in {name}"):
        if change.action == "create":
            try:
                # Tags only at creation: SSM refuses Tags together with Overwrite.
                client.put_parameter(**params, Tags=tag_list(ctx.config.tags))
            except client.exceptions.ParameterAlreadyExists:
                # Made by an interrupted earlier run: overwrite only if it is ours.
                check_ownership(stack, read(ctx.clients, stack))
                client.put_parameter(**params, Overwrite=True)
        else:
            client.put_parameter(**params, Overwrite=True)
    ctx.reporter.info(f"recorded the settings in {name}")
    return {}


def plan_delete(observed: ObservedSettings | None, stack: str) -> Change:
    name = parameter_name(stack)
    if observed is None:
        return Change("settings", name, "none", ("does not exist",))
    if not observed.owned:
        return Change("settings", name, "none", ("not this stack's record; left alone",))
    return Change("settings", name, "delete", ("after everything else is gone",), observed)


def delete(ctx: Context, change: Change) -> None:
    client = ctx.clients.ssm
    with translated(f"deleting the recorded settings {change.name}"):
        try:
            client.delete_parameter(Name=change.name)
        except client.exceptions.ParameterNotFound:
            pass
    ctx.reporter.info(f"deleted the recorded settings {change.name}")
