"""What every resource module shares: the Change value, the context, ownership and waiting."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from cryptoconsumer.aws import error_code, error_message, translate
from cryptoconsumer.config import MANAGED_BY, STACK_TAG, StackConfig
from cryptoconsumer.errors import TimedOutError
from cryptoconsumer.progress import NullReporter, Reporter

if TYPE_CHECKING:
    from cryptoconsumer.aws import Clients

T = TypeVar("T")

ResourceKind = Literal[
    "table",
    "queue",
    "log_group",
    "role",
    "function",
    "mapping",
    "consumer",
    "settings",
    # S3 on-failure destination (issue 11)
    "bucket",
    # dashboard
    "dashboard",
    # alarms and notifications
    "topic",
    "alarm",
]
Action = Literal["create", "update", "replace", "delete", "retain", "none"]

# How long semantic retries (IAM propagation, in-progress updates) may take before giving up.
PROPAGATION_SECONDS = 90.0
SETTLE_SECONDS = 300.0


@dataclass(frozen=True)
class Change:
    """One planned step for one resource; `plan` prints it, `up`/`destroy` execute it."""

    resource: ResourceKind
    name: str
    action: Action
    details: tuple[str, ...] = ()
    observed: Any = None
    blocked: str | None = None
    # How the change is carried out when that is more than its action (a mapping
    # replacement's order and start); with `as_json()` it is part of the JSON plan.
    how: Any = None


@dataclass
class Context:
    """What planning and applying need besides the desired stack itself."""

    clients: Clients
    config: StackConfig
    reporter: Reporter = field(default_factory=NullReporter)
    account: str = ""
    partition: str = "aws"
    # Timing knobs, shortened by tests that simulate AWS's eventual consistency.
    poll_delay: float = 1.0
    propagation_seconds: float = PROPAGATION_SECONDS
    settle_seconds: float = SETTLE_SECONDS

    @property
    def region(self) -> str:
        return self.clients.region

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account}:{resource}"
        )


def owned(tags: dict[str, str], stack: str) -> bool:
    return tags.get(STACK_TAG) == stack and tags.get(MANAGED_BY[0]) == MANAGED_BY[1]


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def field_diff(label: str, observed: object, desired: object) -> list[str]:
    return [] if observed == desired else [f"{label}: {observed} -> {desired}"]


def is_error(err: Exception, *codes: str, message_has: str = "") -> bool:
    return error_code(err) in codes and message_has.lower() in error_message(err).lower()


def retry_while(
    ctx: Context,
    action: Callable[[], T],
    retryable: Callable[[Exception], bool],
    waiting_for: str,
    seconds: float | None = None,
) -> T:
    """Retry `action` while AWS answers with a known transient refusal, bounded in time.

    Only for the semantic cases botocore cannot know (IAM propagation, updates in
    progress); throttling is botocore's standard retry mode. A non-retryable error is
    raised at once, never after a sleep.
    """
    from botocore.exceptions import ClientError

    deadline = time.monotonic() + (ctx.propagation_seconds if seconds is None else seconds)
    delay = ctx.poll_delay
    announced = False
    while True:
        try:
            return action()
        except ClientError as err:
            if not retryable(err):
                raise
            if time.monotonic() + delay > deadline:
                raise TimedOutError(
                    f"gave up waiting for {waiting_for}: {error_message(err)}", error_code(err)
                ) from err
            if not announced:
                ctx.reporter.info(f"waiting for {waiting_for} ({error_code(err)})")
                announced = True
            time.sleep(delay * (0.5 + random.random() / 2))
            # A small cap: the wait usually ends within seconds, and overshoot is wall time.
            delay = min(delay * 1.5, 2.0)


def poll_until(
    ctx: Context,
    probe: Callable[[], T],
    done: Callable[[T], bool],
    waiting_for: str,
    seconds: float | None = None,
) -> T:
    """A bounded poll with a progress line, for states no botocore waiter covers."""
    deadline = time.monotonic() + (ctx.settle_seconds if seconds is None else seconds)
    with ctx.reporter.waiting(f"waiting for {waiting_for}"):
        while True:
            value = probe()
            if done(value):
                return value
            if time.monotonic() > deadline:
                raise TimedOutError(f"gave up waiting for {waiting_for}")
            time.sleep(ctx.poll_delay)


def wait(ctx: Context, client: Any, waiter_name: str, waiting_for: str, **params: Any) -> None:
    """Run a botocore waiter at a CLI's pace (the default table_exists pace is 20 s)."""
    from botocore.exceptions import WaiterError

    attempts = max(1, int(ctx.settle_seconds / max(ctx.poll_delay, 0.05)))
    with ctx.reporter.waiting(f"waiting for {waiting_for}"):
        try:
            client.get_waiter(waiter_name).wait(
                WaiterConfig={"Delay": max(ctx.poll_delay, 0.05), "MaxAttempts": attempts},
                **params,
            )
        except WaiterError as err:
            raise translate(err, f"waiting for {waiting_for}") from err
