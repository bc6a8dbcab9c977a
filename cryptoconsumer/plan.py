"""A plan: the ordered changes for one stack, and the executor that runs them.

`plan` and `up --dry-run` render a Plan; `up` and `destroy` execute the very same value, so
"what would happen" and "what happens" cannot disagree. Steps without a dependency between
them run at once, so a fresh `up` costs about its longest chain, not the sum of its waits.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from cryptoconsumer.config import Setting
from cryptoconsumer.errors import CryptoConsumerError
from cryptoconsumer.resources.base import Change, Context, ResourceKind

PlanKind = Literal["up", "destroy"]
Outputs = dict[str, str]
Step = Callable[[Context, Change, Outputs], Outputs]

# What must finish before a resource's changes may start.
UP_ORDER: dict[ResourceKind, tuple[ResourceKind, ...]] = {
    "table": (),
    "queue": (),
    "log_group": (),
    # The role may write to the bucket, and the mapping name it, only once it is ours.
    "role": ("bucket",),
    "function": ("role", "queue", "log_group"),
    "consumer": (),
    "mapping": ("function", "table", "queue", "role", "consumer", "bucket"),
    # Recorded first: a run that dies half-way leaves the record of what it was asked to do,
    # so a bare `up` finishes the job and `destroy` finds every name.
    "settings": (),
    # S3 on-failure destination (issue 11)
    "bucket": (),
    # dashboard: after the alarms its alarm widget names by ARN.
    "dashboard": ("alarm",),
    # alarms and notifications: after what they watch, the alarms once their topic exists
    "topic": ("function", "queue"),
    "alarm": ("topic", "function", "queue"),
}
# Enhanced fan-out switched off: the consumer is deregistered only once the mapping that
# reads through it has been replaced by one on the stream.
UP_ORDER_RETIRING_CONSUMER: dict[ResourceKind, tuple[ResourceKind, ...]] = {
    **UP_ORDER,
    "consumer": ("mapping",),
    "mapping": ("function", "table", "queue", "role", "bucket"),
}
# Alarms switched off (or notifying --alarm-topic-arn): the stack's topic goes once no alarm
# of ours points at it any more.
RETIRING_TOPIC: dict[ResourceKind, tuple[ResourceKind, ...]] = {
    "topic": ("alarm",),
    "alarm": ("function", "queue"),
}
# What must have finished (done, failed or held back) before a resource's deletes start.
DESTROY_ORDER: dict[ResourceKind, tuple[ResourceKind, ...]] = {
    "mapping": (),
    "consumer": ("mapping",),
    "function": ("mapping", "consumer"),
    "log_group": ("function", "mapping"),
    "role": ("function", "mapping"),
    "queue": ("function", "mapping"),
    "table": ("function", "mapping"),
    # alarms and notifications: the topic once no alarm of ours notifies it
    "alarm": ("mapping",),
    "topic": ("mapping", "alarm"),
    # Last: while anything is left, the record is how a re-run finds it.
    "settings": (
        "mapping",
        "consumer",
        "function",
        "log_group",
        "role",
        "queue",
        "table",
        "bucket",
        "dashboard",
        "alarm",
        "topic",
    ),
    # S3 on-failure destination (issue 11)
    "bucket": ("function", "mapping"),
    # dashboard: it only graphs; nothing needs it gone first.
    "dashboard": (),
}
# Why a delete is held back when a resource it needs could not be deleted.
HELD_BACK_BECAUSE: dict[ResourceKind, str] = {
    "mapping": "mapping {names} could not be deleted and may still feed the function",
    "consumer": (
        "stream consumer {names} could not be deregistered; the function records which "
        "consumer it was, so it stays until a later destroy deregisters the consumer"
    ),
    "function": (
        "function {names} could not be deleted and a mapping this stack does not own still feeds it"
    ),
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
    # Resources AWS is still settling (Pending, CREATING, Creating, ...) that nothing changes:
    # `up` still runs the plan, to wait for them instead of calling the stack ready.
    settling: tuple[ResourceKind, ...] = ()

    @property
    def mutating(self) -> bool:
        return any(change.action in MUTATING for change in self.changes)

    def for_resource(self, resource: ResourceKind) -> list[Change]:
        return [change for change in self.changes if change.resource == resource]


def up_order(plan: Plan) -> dict[ResourceKind, tuple[ResourceKind, ...]]:
    retiring = any(c.resource == "consumer" and c.action == "delete" for c in plan.changes)
    order = UP_ORDER_RETIRING_CONSUMER if retiring else UP_ORDER
    if any(c.resource == "topic" and c.action == "delete" for c in plan.changes):
        order = {**order, **RETIRING_TOPIC}
    return order


@dataclass(frozen=True)
class StepFailure:
    """A change that failed, or was held back because one it depends on failed."""

    resource: ResourceKind
    name: str
    outcome: Literal["failed", "held back"]
    error: str

    @property
    def line(self) -> str:
        if self.outcome == "failed":
            return self.error
        return f"{self.resource} {self.name}: not deleted: {self.error}"

    def as_json(self) -> dict[str, str]:
        return {
            "resource": self.resource,
            "name": self.name,
            "outcome": self.outcome,
            "error": self.error,
        }


class PartialFailure(CryptoConsumerError):
    """A destroy that deleted what it could; each failure and each held-back delete named."""

    def __init__(self, failures: list[StepFailure]) -> None:
        failed = sum(1 for f in failures if f.outcome == "failed")
        held = len(failures) - failed
        super().__init__(
            f"destroy incomplete: {failed} delete(s) failed, {held} held back; every other "
            "delete was done; run destroy again to finish"
        )
        self.failures = tuple(failures)


def still_fed_by_others(plan: Plan) -> bool:
    """A mapping this stack does not own points at the function: it stays and feeds it."""
    return any(c.resource == "mapping" and c.action == "none" and c.observed for c in plan.changes)


def destroy_needs(plan: Plan) -> dict[ResourceKind, tuple[ResourceKind, ...]]:
    """What must have been deleted for a resource's delete to go ahead.

    While a mapping exists it can invoke the function, so nothing goes before every mapping
    of ours is gone. After that nothing feeds the function, and one failed delete holds back
    no other, except: a consumer that could not be deregistered keeps the function (the only
    record of it), and a function still fed by someone else's mapping keeps what it uses.
    """
    needs: dict[ResourceKind, tuple[ResourceKind, ...]] = {
        resource: ("mapping",) for resource in DESTROY_ORDER if resource != "mapping"
    }
    needs["mapping"] = ()
    if any(c.resource == "consumer" and c.action == "delete" for c in plan.changes):
        needs["function"] = ("mapping", "consumer")
    if still_fed_by_others(plan):
        for resource in ("log_group", "role", "queue", "table", "bucket"):
            needs[resource] = ("mapping", "function")
    # dashboard: it only graphs, so it goes whatever else fails.
    needs["dashboard"] = ()
    # The record goes last and only when all else went: it is how a re-run finds what is left.
    needs["settings"] = tuple(r for r in DESTROY_ORDER if r != "settings")
    return needs


def execute(
    plan: Plan,
    ctx: Context,
    steps: Mapping[ResourceKind, Step],
) -> dict[str, str | None]:
    """Run each resource's changes once its dependencies are done.

    `up` stops at the first failure: work already started finishes (an AWS call cannot be
    taken back), nothing new starts, and the failure is raised. `destroy` goes on with every
    delete that does not need the failed one, and raises PartialFailure naming them all.
    """
    destroying = plan.kind == "destroy"
    order = DESTROY_ORDER if destroying else up_order(plan)
    needs = destroy_needs(plan) if destroying else order
    outputs: dict[str, str | None] = dict(plan.outputs)
    pending: set[ResourceKind] = {r for r in order if plan.for_resource(r)}
    finished: set[ResourceKind] = set(order) - pending  # done, failed or held back
    broken: set[ResourceKind] = set()  # failed or held back
    failures: list[StepFailure] = []
    lock = threading.Lock()

    def run(resource: ResourceKind, snapshot: Outputs) -> Outputs:
        produced: Outputs = {}
        for change in plan.for_resource(resource):
            try:
                produced.update(steps[resource](ctx, change, {**snapshot, **produced}))
            except CryptoConsumerError as error:
                if not destroying:
                    raise
                with lock:
                    failures.append(StepFailure(resource, change.name, "failed", str(error)))
        return produced

    def hold_back(resource: ResourceKind, blockers: list[ResourceKind]) -> None:
        for change in plan.for_resource(resource):
            if change.action != "delete":
                continue
            if resource == "settings":
                reason = "kept, so that running destroy again finds what is left"
            else:
                reason = "; ".join(
                    HELD_BACK_BECAUSE[blocker].format(
                        names=", ".join(c.name for c in plan.for_resource(blocker))
                    )
                    for blocker in blockers
                )
            failures.append(StepFailure(resource, change.name, "held back", reason))

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(order)) as pool:
        running: dict[concurrent.futures.Future[Outputs], ResourceKind] = {}
        failure: BaseException | None = None
        while pending or running:
            started = True
            while failure is None and started:
                started = False
                for resource in sorted(pending):
                    if not all(dep in finished for dep in order[resource]):
                        continue
                    pending.discard(resource)
                    blockers = [dep for dep in needs[resource] if dep in broken]
                    if blockers:
                        hold_back(resource, blockers)
                        finished.add(resource)
                        broken.add(resource)
                        started = True  # what waited for it may start now
                        continue
                    snapshot = {k: v for k, v in outputs.items() if v is not None}
                    running[pool.submit(run, resource, snapshot)] = resource
            if not running:
                break
            done, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                resource = running.pop(future)
                error = future.exception()
                if error is not None:
                    failure = failure or error
                    continue
                outputs.update(future.result())
                finished.add(resource)
                with lock:
                    if any(f.resource == resource for f in failures):
                        broken.add(resource)
        if failure is not None:
            raise failure
    if failures:
        raise PartialFailure(failures)
    return outputs
