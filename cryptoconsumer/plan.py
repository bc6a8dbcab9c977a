"""A plan: the ordered changes for one stack, and the executor that runs them.

`plan` and `up --dry-run` render a Plan; `up` and `destroy` execute the very same value, so
"what would happen" and "what happens" cannot disagree. Steps without a dependency between
them run at once, so a fresh `up` costs about its longest chain, not the sum of its waits.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from cryptoconsumer.config import Setting
from cryptoconsumer.resources.base import Change, Context, ResourceKind

PlanKind = Literal["up", "destroy"]
Outputs = dict[str, str]
Step = Callable[[Context, Change, Outputs], Outputs]

# What must finish before a resource's changes may start.
UP_ORDER: dict[ResourceKind, tuple[ResourceKind, ...]] = {
    "table": (),
    "queue": (),
    "log_group": (),
    "role": (),
    "function": ("role", "queue", "log_group"),
    "consumer": (),
    "mapping": ("function", "table", "queue", "role", "consumer"),
    # Recorded first: a run that dies half-way leaves the record of what it was asked to do,
    # so a bare `up` finishes the job and `destroy` finds every name.
    "settings": (),
}
# Enhanced fan-out switched off: the consumer is deregistered only once the mapping that
# reads through it has been replaced by one on the stream.
UP_ORDER_RETIRING_CONSUMER: dict[ResourceKind, tuple[ResourceKind, ...]] = {
    **UP_ORDER,
    "consumer": ("mapping",),
    "mapping": ("function", "table", "queue", "role"),
}
DESTROY_ORDER: dict[ResourceKind, tuple[ResourceKind, ...]] = {
    "mapping": (),
    "function": ("mapping",),
    "log_group": ("function",),
    "role": ("function", "mapping"),
    "queue": ("function", "mapping"),
    "table": ("function", "mapping"),
    "consumer": ("mapping",),
    # Last: while anything is left, the record is how a re-run finds it.
    "settings": ("mapping", "consumer", "function", "log_group", "role", "queue", "table"),
}
MUTATING: frozenset[str] = frozenset({"create", "update", "replace", "delete"})


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    stack: str
    region: str
    changes: tuple[Change, ...]
    outputs: Mapping[str, str | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # The options `up` applies that are not defaults, and where each came from.
    settings: tuple[Setting, ...] = ()

    @property
    def mutating(self) -> bool:
        return any(change.action in MUTATING for change in self.changes)

    def for_resource(self, resource: ResourceKind) -> list[Change]:
        return [change for change in self.changes if change.resource == resource]


def up_order(plan: Plan) -> dict[ResourceKind, tuple[ResourceKind, ...]]:
    retiring = any(c.resource == "consumer" and c.action == "delete" for c in plan.changes)
    return UP_ORDER_RETIRING_CONSUMER if retiring else UP_ORDER


def execute(
    plan: Plan,
    ctx: Context,
    steps: Mapping[ResourceKind, Step],
) -> dict[str, str | None]:
    """Run each resource's changes once its dependencies are done; stop at the first failure.

    Work already started finishes (an AWS call cannot be taken back); nothing new starts.
    """
    order = DESTROY_ORDER if plan.kind == "destroy" else up_order(plan)
    outputs: dict[str, str | None] = dict(plan.outputs)
    done: set[ResourceKind] = set()
    pending: set[ResourceKind] = {r for r in order if plan.for_resource(r)}
    done |= set(order) - pending

    def run(resource: ResourceKind, snapshot: Outputs) -> Outputs:
        produced: Outputs = {}
        for change in plan.for_resource(resource):
            produced.update(steps[resource](ctx, change, {**snapshot, **produced}))
        return produced

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(order)) as pool:
        running: dict[concurrent.futures.Future[Outputs], ResourceKind] = {}
        failure: BaseException | None = None
        while pending or running:
            if failure is None:
                for resource in sorted(pending):
                    if all(dep in done for dep in order[resource]):
                        snapshot = {k: v for k, v in outputs.items() if v is not None}
                        running[pool.submit(run, resource, snapshot)] = resource
                        pending.discard(resource)
            if not running:
                break
            finished, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                resource = running.pop(future)
                error = future.exception()
                if error is not None:
                    failure = failure or error
                    continue
                outputs.update(future.result())
                done.add(resource)
        if failure is not None:
            raise failure
    return outputs
