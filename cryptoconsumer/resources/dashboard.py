"""The CloudWatch dashboard STACK-consumer: the graphs an on-call person opens first.

Dashboards take no tags. Ours is recognised by its name and by a text widget in its body that
says `cryptoconsumer:stack=STACK` (the marker): a dashboard of our name without it belongs to
someone else and is never overwritten or deleted. The body is generated from the stack's names
(the alarms' too) and compared, parsed, with what GetDashboard returns: an edit in the console
is drift, and `up` puts the generated body back (PutDashboard creates or replaces in one call,
so a re-run after a crash converges).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptoconsumer.aws import translated
from cryptoconsumer.config import MANAGED_BY, STACK_TAG, DashboardSpec, alarm_name
from cryptoconsumer.resources.base import Change, Context, is_error

WIDTH, HEIGHT = 12, 6  # half of CloudWatch's 24-column grid
PERIOD = 60
# The console's host per partition; the ISO partitions have no public console.
CONSOLE_HOSTS = {
    "aws": "https://{region}.console.aws.amazon.com",
    "aws-cn": "https://{region}.console.amazonaws.cn",
    "aws-us-gov": "https://{region}.console.amazonaws-us-gov.com",
}


def _not_found(err: Exception) -> bool:
    # The model's code is ResourceNotFound (DashboardNotFoundError); moto answers the same
    # code in a shape botocore does not map to that class.
    return is_error(err, "ResourceNotFound", "ResourceNotFoundException")


def marker(stack: str) -> str:
    return f"{STACK_TAG}={stack}"


@dataclass(frozen=True)
class ObservedDashboard:
    name: str
    body: dict[str, Any] | None  # None: not JSON (only the console could store that)
    arn: str
    stack: str | None  # the stack its marker names; None without a marker

    def owned_by(self, stack: str) -> bool:
        return self.stack == stack


def _marker_stack(body: dict[str, Any] | None) -> str | None:
    if not isinstance(body, dict):
        return None
    for widget in body.get("widgets") or []:
        if not isinstance(widget, dict) or widget.get("type") != "text":
            continue
        markdown = str((widget.get("properties") or {}).get("markdown", ""))
        managed = f"{MANAGED_BY[0]}={MANAGED_BY[1]}"
        for line in markdown.splitlines():
            words = line.replace("`", " ").split()
            stacks = [w.split("=", 1)[1] for w in words if w.startswith(f"{STACK_TAG}=")]
            if stacks and managed in words:
                return stacks[0]
    return None


def read(ctx: Context, name: str) -> ObservedDashboard | None:
    """By name alone: with --no-dashboard too, so `up` and `destroy` find ours to remove."""
    from botocore.exceptions import ClientError

    with translated(f"reading dashboard {name}"):
        try:
            found = ctx.clients.cloudwatch.get_dashboard(DashboardName=name)
        except ClientError as err:
            if _not_found(err):
                return None
            raise
    try:
        body = json.loads(found.get("DashboardBody") or "{}")
    except ValueError:
        body = None
    return ObservedDashboard(
        name=name,
        body=body if isinstance(body, dict) else None,
        arn=str(found.get("DashboardArn", "")),
        stack=_marker_stack(body if isinstance(body, dict) else None),
    )


def console_url(partition: str, region: str, name: str) -> str | None:
    host = CONSOLE_HOSTS.get(partition)
    if host is None:
        return None
    return f"{host.format(region=region)}/cloudwatch/home?region={region}#dashboards:name={name}"


def _metric_widget(
    title: str,
    region: str,
    metrics: list[list[Any]],
    position: int,
    annotations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "title": title,
        "region": region,
        "view": "timeSeries",
        "stacked": False,
        "period": PERIOD,
        "metrics": metrics,
    }
    if annotations:
        properties["annotations"] = {"horizontal": annotations}
    return {
        "type": "metric",
        "x": (position % 2) * WIDTH,
        "y": 2 + (position // 2) * HEIGHT,
        "width": WIDTH,
        "height": HEIGHT,
        "properties": properties,
    }


def alarm_arns(ctx: Context, spec: DashboardSpec) -> list[str]:
    return [ctx.arn("cloudwatch", f"alarm:{alarm_name(spec.stack, kind)}") for kind in spec.alarms]


def body(ctx: Context, spec: DashboardSpec, stream_name: str | None) -> dict[str, Any]:
    """The dashboard, generated from the stack's names: equal input, equal body."""
    region = ctx.region
    function = ["FunctionName", spec.function_name]
    graphs: list[tuple[str, list[list[Any]], list[dict[str, Any]] | None]] = []
    if stream_name:
        graphs.append(
            (
                "Records into the stream",
                [["AWS/Kinesis", "IncomingRecords", "StreamName", stream_name, {"stat": "Sum"}]],
                None,
            )
        )
    age = [["AWS/Lambda", "IteratorAge", *function, {"stat": "Maximum", "label": "IteratorAge"}]]
    if stream_name:
        age.insert(
            0,
            [
                "AWS/Kinesis",
                "GetRecords.IteratorAgeMilliseconds",
                "StreamName",
                stream_name,
                {"stat": "Maximum", "label": "GetRecords.IteratorAgeMilliseconds"},
            ],
        )
    graphs += [
        ("Iterator age (ms)", age, None),
        (
            "Invocations and errors",
            [
                ["AWS/Lambda", "Invocations", *function, {"stat": "Sum"}],
                ["AWS/Lambda", "Errors", *function, {"stat": "Sum"}],
            ],
            None,
        ),
        (
            "Duration (ms) against the timeout",
            [
                ["AWS/Lambda", "Duration", *function, {"stat": "p50", "label": "p50"}],
                ["AWS/Lambda", "Duration", *function, {"stat": "p99", "label": "p99"}],
            ],
            [{"label": f"timeout {spec.timeout} s", "value": spec.timeout * 1000}],
        ),
        (
            "Concurrency and throttles",
            [
                ["AWS/Lambda", "ConcurrentExecutions", *function, {"stat": "Maximum"}],
                ["AWS/Lambda", "Throttles", *function, {"stat": "Sum"}],
            ],
            None,
        ),
    ]
    if spec.queue_name:
        graphs.append(
            (
                "Dead letters waiting",
                [
                    [
                        "AWS/SQS",
                        "ApproximateNumberOfMessagesVisible",
                        "QueueName",
                        spec.queue_name,
                        {"stat": "Maximum"},
                    ]
                ],
                None,
            )
        )
    table = ["TableName", spec.table_name]
    graphs.append(
        (
            "DynamoDB writes",
            [
                ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", *table, {"stat": "Sum"}],
                ["AWS/DynamoDB", "WriteThrottleEvents", *table, {"stat": "Sum"}],
            ],
            None,
        )
    )
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": 2 * WIDTH if not spec.alarms else WIDTH,
            "height": 2,
            "properties": {
                "markdown": (
                    f"## {spec.stack}: Kinesis -> Lambda -> DynamoDB\n"
                    f"`{marker(spec.stack)}` `{MANAGED_BY[0]}={MANAGED_BY[1]}`: "
                    "made by `cryptoconsumer up`, which puts this body back when it is edited."
                )
            },
        }
    ]
    if spec.alarms:
        widgets.append(
            {
                "type": "alarm",
                "x": WIDTH,
                "y": 0,
                "width": WIDTH,
                "height": 2,
                "properties": {"title": "Alarms", "alarms": alarm_arns(ctx, spec)},
            }
        )
    widgets += [
        _metric_widget(title, region, metrics, position, annotations)
        for position, (title, metrics, annotations) in enumerate(graphs)
    ]
    return {"widgets": widgets}


def _title(widget: Any) -> str:
    if isinstance(widget, dict):
        properties = widget.get("properties") or {}
        if isinstance(properties, dict) and properties.get("title"):
            return str(properties["title"])
        return str(widget.get("type", "widget"))
    return "widget"


def drift(desired: dict[str, Any], observed: ObservedDashboard) -> list[str]:
    """What an edit changed, by widget title; [] when the bodies are equal as JSON."""
    if observed.body == desired:
        return []
    if observed.body is None:
        return ["body: not JSON -> the generated body"]
    found = [w for w in observed.body.get("widgets") or [] if isinstance(w, dict)]
    wanted = desired["widgets"]
    found_titles = {_title(w): w for w in found}
    wanted_titles = {_title(w): w for w in wanted}
    details = [f"widget {t!r}: removed -> restored" for t in wanted_titles if t not in found_titles]
    details += [f"widget {t!r}: added -> removed" for t in found_titles if t not in wanted_titles]
    details += [
        f"widget {t!r}: edited -> restored"
        for t, widget in wanted_titles.items()
        if t in found_titles and found_titles[t] != widget
    ]
    extra = sorted(set(observed.body) - {"widgets"})
    if extra:
        details.append(f"body settings {', '.join(extra)}: set -> removed")
    return details or ["widgets: reordered -> the generated order"]


def plan(
    ctx: Context,
    spec: DashboardSpec,
    desired: dict[str, Any],
    observed: ObservedDashboard | None,
) -> Change:
    if observed is None:
        graphs = sum(1 for w in desired["widgets"] if w["type"] == "metric")
        alarms = f", the states of {len(spec.alarms)} alarm(s)" if spec.alarms else ""
        return Change("dashboard", spec.name, "create", (f"{graphs} graphs{alarms}",))
    details = drift(desired, observed)
    return Change("dashboard", spec.name, "update" if details else "none", tuple(details), observed)


def plan_retired(observed: ObservedDashboard) -> Change:
    """--no-dashboard on a stack that has ours: a dashboard holds no data, so it goes."""
    return Change(
        "dashboard", observed.name, "delete", ("--no-dashboard: no longer wanted",), observed
    )


def apply_retired(ctx: Context, change: Change) -> dict[str, str]:
    if change.action == "delete":
        delete(ctx, change)
    return {}


def apply(
    ctx: Context, spec: DashboardSpec, desired: dict[str, Any], change: Change
) -> dict[str, str]:
    if change.action in ("create", "update"):
        with translated(f"putting dashboard {spec.name}"):
            answer = ctx.clients.cloudwatch.put_dashboard(
                DashboardName=spec.name, DashboardBody=json.dumps(desired, sort_keys=True)
            )
        for message in answer.get("DashboardValidationMessages") or []:
            ctx.reporter.info(
                f"dashboard {spec.name}: CloudWatch says {message.get('Message', '')}"
            )
        done = "created" if change.action == "create" else "updated"
        ctx.reporter.info(f"{done} dashboard {spec.name}")
    return {}


def plan_delete(observed: ObservedDashboard | None, name: str, stack: str) -> Change:
    if observed is None:
        return Change("dashboard", name, "none", ("does not exist",))
    if not observed.owned_by(stack):
        return Change("dashboard", name, "none", ("has no marker of this stack; left alone",))
    return Change("dashboard", name, "delete", (), observed)


def delete(ctx: Context, change: Change) -> None:
    from botocore.exceptions import ClientError

    with translated(f"deleting dashboard {change.name}"):
        try:
            ctx.clients.cloudwatch.delete_dashboards(DashboardNames=[change.name])
        except ClientError as err:
            if not _not_found(err):
                raise
    ctx.reporter.info(f"deleted dashboard {change.name}")
