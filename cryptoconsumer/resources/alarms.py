"""The stack's CloudWatch alarms, each notifying the alarms topic when it fires and clears.

- iterator-age: IteratorAge Maximum above --alarm-iterator-age for 3 consecutive minutes;
- errors: Errors Sum > 0 over 5 minutes;
- dead-letters: the dead-letter queue's ApproximateNumberOfMessagesVisible Maximum > 0;
- throttles: Throttles Sum > 0 over 5 minutes.

Every alarm treats missing data as notBreaching: these metrics are only published while
something happens (no records, no invocations: no IteratorAge, Errors or Throttles datapoint;
an idle empty queue publishes nothing), and quiet is healthy.

All of a stack's alarms are read in one DescribeAlarms call by name prefix, filtered to this
stack's exact names. Reading each alarm's tags would cost a request per alarm on every `up` and
`status`, so each alarm's description carries a marker naming the stack (status shows
ownership from it) and its tags are read only when `up` or `destroy` is about to change or
delete it: tags decide, as for every other resource.
PutMetricAlarm creates or overwrites; it applies Tags only when it creates.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptoconsumer.aws import translated
from cryptoconsumer.config import ALARM_KINDS, MANAGED_BY, STACK_TAG, alarm_name, alarm_prefix
from cryptoconsumer.errors import OwnershipError
from cryptoconsumer.resources.base import Change, Context, owned, tag_dict, tag_list

# A stream consumer runs at most shards x parallelization-factor invocations at once: any
# throttle means reserved or account concurrency is below that, and the shard stalls.
THROTTLES_THRESHOLD = 0
# PutMetricAlarm's parameters that `up` sets and compares (AlarmName and Tags aside).
COMPARED = (
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
)
LABELS = {
    "AlarmDescription": "description",
    "MetricName": "metric",
    "EvaluationPeriods": "evaluation periods",
    "DatapointsToAlarm": "datapoints to alarm",
    "ComparisonOperator": "comparison",
    "TreatMissingData": "missing data",
    "ActionsEnabled": "actions enabled",
    "AlarmActions": "alarm actions",
    "OKActions": "OK actions",
    "InsufficientDataActions": "insufficient-data actions",
}


def marker(stack: str) -> str:
    return f"[{MANAGED_BY[0]}={MANAGED_BY[1]} {STACK_TAG}={stack}]"


@dataclass(frozen=True)
class DesiredAlarm:
    kind: str
    name: str
    summary: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ObservedAlarm:
    name: str
    arn: str
    state: str
    params: dict[str, Any]
    reason: str = ""
    updated: datetime | None = None

    def marked(self, stack: str) -> bool:
        return str(self.params.get("AlarmDescription", "")).endswith(marker(stack))


def desired(ctx: Context, topic_arn: str) -> list[DesiredAlarm]:
    """The alarms `up` keeps, in ALARM_KINDS order; none without alarms."""
    config = ctx.config
    spec = config.alarms
    if spec is None:
        return []
    function_dimension = [{"Name": "FunctionName", "Value": config.function.name}]
    wanted = {
        "iterator-age": (
            f"IteratorAge above {spec.iterator_age_seconds} s for 3 minutes: "
            "the function is falling behind the stream",
            dict(
                Namespace="AWS/Lambda",
                MetricName="IteratorAge",
                Dimensions=function_dimension,
                Statistic="Maximum",
                Period=60,
                EvaluationPeriods=3,
                DatapointsToAlarm=3,
                Threshold=float(spec.iterator_age_seconds * 1000),
            ),
        ),
        "errors": (
            "function errors in 5 minutes",
            dict(
                Namespace="AWS/Lambda",
                MetricName="Errors",
                Dimensions=function_dimension,
                Statistic="Sum",
                Period=300,
                EvaluationPeriods=1,
                DatapointsToAlarm=1,
                Threshold=0.0,
            ),
        ),
        "throttles": (
            f"more than {THROTTLES_THRESHOLD} throttled invocation(s) in 5 minutes",
            dict(
                Namespace="AWS/Lambda",
                MetricName="Throttles",
                Dimensions=function_dimension,
                Statistic="Sum",
                Period=300,
                EvaluationPeriods=1,
                DatapointsToAlarm=1,
                Threshold=float(THROTTLES_THRESHOLD),
            ),
        ),
    }
    if spec.queue_name:
        wanted["dead-letters"] = (
            f"records in the dead-letter queue {spec.queue_name}",
            dict(
                Namespace="AWS/SQS",
                MetricName="ApproximateNumberOfMessagesVisible",
                Dimensions=[{"Name": "QueueName", "Value": spec.queue_name}],
                Statistic="Maximum",
                Period=60,
                EvaluationPeriods=1,
                DatapointsToAlarm=1,
                Threshold=0.0,
            ),
        )
    alarms = []
    for kind in ALARM_KINDS:
        if kind not in wanted:
            continue
        summary, params = wanted[kind]
        description = (
            f"cryptoconsumer stack {config.stack}: {summary}. `cryptoconsumer up` "
            f"sets this alarm; changes made elsewhere are overwritten. {marker(config.stack)}"
        )
        params.update(
            AlarmDescription=description,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
            ActionsEnabled=True,
            AlarmActions=[topic_arn],
            OKActions=[topic_arn],
            InsufficientDataActions=[],
        )
        alarms.append(DesiredAlarm(kind, alarm_name(config.stack, kind), summary, params))
    return alarms


def _compared(found: dict[str, Any]) -> dict[str, Any]:
    params = {key: found.get(key) for key in COMPARED}
    params["Dimensions"] = sorted(
        ({"Name": d["Name"], "Value": d["Value"]} for d in found.get("Dimensions", [])),
        key=lambda d: d["Name"],
    )
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        params[key] = list(found.get(key) or [])
    if params["Threshold"] is not None:
        params["Threshold"] = float(params["Threshold"])
    return params


def read_all(ctx: Context, stack: str) -> tuple[ObservedAlarm, ...]:
    """This stack's alarms: one DescribeAlarms by prefix ("crypto-" also lists stack
    "crypto-prod"'s alarms, so only this stack's exact names are kept)."""
    names = {alarm_name(stack, kind) for kind in ALARM_KINDS}
    client = ctx.clients.cloudwatch
    with translated(f"reading the alarms of stack {stack}"):
        pages = client.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=alarm_prefix(stack),
            AlarmTypes=["MetricAlarm"],
            PaginationConfig={"PageSize": 100},
        )
        found = [alarm for page in pages for alarm in page.get("MetricAlarms", [])]
    return tuple(
        ObservedAlarm(
            a["AlarmName"],
            a["AlarmArn"],
            a.get("StateValue", ""),
            _compared(a),
            reason=str(a.get("StateReason", "")),
            updated=a.get("StateUpdatedTimestamp"),
        )
        for a in sorted(found, key=lambda a: a["AlarmName"])
        if a["AlarmName"] in names
    )


def topic_arn_of(alarms: tuple[ObservedAlarm, ...], topic: str, stack: str) -> str | None:
    """The ARN of the stack's topic as its own alarms name it (spares an STS call)."""
    for alarm in alarms:
        if not alarm.marked(stack):
            continue
        for arn in alarm.params["AlarmActions"]:
            if arn.split(":")[2:3] == ["sns"] and arn.rsplit(":", 1)[-1] == topic:
                return str(arn)
    return None


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return (
            ", ".join(f"{v['Name']}={v['Value']}" if isinstance(v, dict) else str(v) for v in value)
            or "none"
        )
    return str(value)


def drift(wanted: DesiredAlarm, observed: ObservedAlarm) -> list[str]:
    want = _compared(wanted.params)
    details = []
    for key in COMPARED:
        if observed.params.get(key) != want[key]:
            label = LABELS.get(key, key.lower())
            if key == "AlarmDescription":
                details.append(f"{label}: changed outside cryptoconsumer")
            else:
                details.append(
                    f"{label}: {_shown(observed.params.get(key))} -> {_shown(want[key])}"
                )
    return details


def read_tags(ctx: Context, alarms: list[ObservedAlarm]) -> dict[str, dict[str, str]]:
    """Tags of the alarms about to change, at once (ListTagsForResource is per alarm)."""
    if not alarms:
        return {}
    client = ctx.clients.cloudwatch

    def tags_of(alarm: ObservedAlarm) -> dict[str, str]:
        with translated(f"reading the tags of alarm {alarm.name}"):
            return tag_dict(client.list_tags_for_resource(ResourceARN=alarm.arn).get("Tags"))

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(alarms)) as pool:
        return dict(zip((a.name for a in alarms), pool.map(tags_of, alarms), strict=True))


def plan(
    ctx: Context, wanted: list[DesiredAlarm], observed: tuple[ObservedAlarm, ...]
) -> list[Change]:
    """Create the missing, update the drifted (once their tags prove them ours), delete ours
    that are no longer wanted (--no-alarms, --no-dlq); refuse to touch anyone else's."""
    stack = ctx.config.stack
    found = {alarm.name: alarm for alarm in observed}
    drifts = {w.name: drift(w, found[w.name]) for w in wanted if w.name in found}
    wanted_names = {w.name for w in wanted}
    unwanted = [a for a in observed if a.name not in wanted_names and a.marked(stack)]
    tags = read_tags(ctx, [found[name] for name, d in drifts.items() if d] + unwanted)
    changes = []
    for w in wanted:
        current = found.get(w.name)
        if current is None:
            changes.append(Change("alarm", w.name, "create", (w.summary,)))
            continue
        details = drifts[w.name]
        if details and not owned(tags[w.name], stack):
            raise OwnershipError(
                f"alarm {w.name} exists but is not tagged cryptoconsumer:stack={stack}: it "
                "belongs to someone else; refusing to change it (choose another --stack, or "
                "--no-alarms)"
            )
        changes.append(
            Change("alarm", w.name, "update" if details else "none", tuple(details), current)
        )
    why = "alarms are off (--no-alarms)" if ctx.config.alarms is None else "no dead-letter queue"
    for alarm in unwanted:
        if owned(tags[alarm.name], stack):
            changes.append(Change("alarm", alarm.name, "delete", (why,), alarm))
    return changes


def apply(ctx: Context, wanted: DesiredAlarm | None, change: Change) -> dict[str, str]:
    client = ctx.clients.cloudwatch
    if change.action == "delete":
        delete(ctx, change)
        return {}
    if change.action not in ("create", "update") or wanted is None:
        return {}
    # Tags only on create: on an existing alarm AWS ignores them (ownership was checked).
    tags = {"Tags": tag_list(ctx.config.tags)} if change.action == "create" else {}
    with translated(f"setting alarm {wanted.name}"):
        client.put_metric_alarm(AlarmName=wanted.name, **wanted.params, **tags)
    ctx.reporter.info(f"{change.action}d alarm {wanted.name}")
    return {}


def plan_delete(ctx: Context, observed: tuple[ObservedAlarm, ...]) -> list[Change]:
    stack = ctx.config.stack
    tags = read_tags(ctx, list(observed))
    return [
        Change("alarm", alarm.name, "delete", (), alarm)
        if owned(tags[alarm.name], stack)
        else Change("alarm", alarm.name, "none", ("not tagged for this stack; left alone",))
        for alarm in observed
    ]


def delete(ctx: Context, change: Change) -> None:
    client = ctx.clients.cloudwatch
    # An alarm already gone (a crash after the call) is ResourceNotFound: the job is done.
    with translated(f"deleting alarm {change.name}"):
        with contextlib.suppress(client.exceptions.ResourceNotFound):
            client.delete_alarms(AlarmNames=[change.name])
    ctx.reporter.info(f"deleted alarm {change.name}")
