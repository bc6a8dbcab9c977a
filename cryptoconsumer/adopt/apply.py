"""Carrying out an adoption without a gap.

1. `up`'s plan: the table adopted (tagged, deletion protection and PITR on), our queue, log
   group, role, function and mapping (AT_TIMESTAMP, from the look-back) created, the names
   recorded. Both functions now consume the stream and write the same items.
2. Our mapping must be Enabled; the CloudFormation stack must be as it was planned.
3. DeleteStack, by stack ID, waiting for DELETE_COMPLETE; the table (DeletionPolicy Retain)
   stays. Then the table is checked: the same table (TableId), ACTIVE, and an item read
   before the delete is still there.

Killed at any point, `adopt` again picks up where it stopped (see planning.py), and `up`
converges once the CloudFormation stack is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptoconsumer import stack as stacks
from cryptoconsumer.adopt import cloudformation as cfn
from cryptoconsumer.adopt.planning import Adoption
from cryptoconsumer.adopt.source import AdoptRefused
from cryptoconsumer.aws import translated
from cryptoconsumer.errors import AwsError
from cryptoconsumer.progress import Reporter
from cryptoconsumer.resources.base import Context, poll_until
from cryptoconsumer.resources.mapping import SETTLED_STATES


@dataclass(frozen=True)
class TableCheck:
    name: str
    table_id: str
    status: str
    sample_key: dict[str, str] | None
    sample_found: bool


@dataclass(frozen=True)
class Adopted:
    outputs: dict[str, str | None]
    cloudformation: str  # what became of the CloudFormation stack: deleted, or already gone
    table: TableCheck


def execute(adoption: Adoption, reporter: Reporter | None = None) -> Adopted:
    prepared = adoption.prepared
    ctx = prepared.ctx
    if reporter is not None:
        ctx.reporter = reporter
    if prepared.plan.mutating:
        outputs = stacks.execute(prepared, reporter)
    else:
        outputs = dict(prepared.plan.outputs)
    table = ctx.config.table.name
    if adoption.phase == "gone" or adoption.cfn is None:
        return Adopted(outputs, "gone", check_table(ctx, table, None))
    uuid = outputs.get("mapping_uuid")
    if not uuid:
        raise AwsError("the new mapping has no UUID after up; nothing was deleted", "NoMapping")
    ensure_enabled(ctx, uuid)
    before = check_table(ctx, table, None)
    if adoption.phase == "adopt":
        ensure_unchanged(ctx, adoption.cfn)
    cfn.delete(ctx, adoption.cfn)
    return Adopted(outputs, "deleted", check_table(ctx, table, before))


def ensure_enabled(ctx: Context, uuid: str) -> None:
    """Only an Enabled mapping of ours lets the old one go."""
    client = ctx.clients.lambda_

    def probe() -> dict[str, Any] | None:
        with translated(f"reading mapping {uuid}"):
            try:
                return dict(client.get_event_source_mapping(UUID=uuid))
            except client.exceptions.ResourceNotFoundException:
                return None

    found = poll_until(
        ctx,
        probe,
        lambda config: config is None or config.get("State") in SETTLED_STATES,
        f"mapping {uuid} to settle before the CloudFormation stack goes",
    )
    state = found.get("State") if found else "gone"
    if state != "Enabled":
        raise AdoptRefused(
            f"this stack's mapping {uuid} is {state}, not Enabled: the CloudFormation stack is "
            "left running so that records keep flowing; run adopt again"
        )


def ensure_unchanged(ctx: Context, planned: cfn.CfnStack) -> None:
    """Nobody updated the CloudFormation stack since it was read (a DeletionPolicy could have
    changed with it)."""
    now = cfn.describe(ctx.clients, planned.stack_id)
    if (
        now is None
        or now.get("StackStatus") != planned.status
        or str(now.get("LastUpdatedTime") or now.get("CreationTime") or "") != planned.last_updated
    ):
        status = now.get("StackStatus") if now else "gone"
        raise AdoptRefused(
            f"CloudFormation stack {planned.name} changed since it was read (now {status}): "
            "nothing of it was deleted; run adopt again to plan against what it is now"
        )


def check_table(ctx: Context, name: str, before: TableCheck | None) -> TableCheck:
    """The table as it is; after DeleteStack, it must be the same table with the same item."""
    client = ctx.clients.dynamodb
    with translated(f"checking table {name}"):
        try:
            table = client.describe_table(TableName=name)["Table"]
        except client.exceptions.ResourceNotFoundException:
            raise AwsError(
                f"table {name} does not exist: restore it from its point-in-time backups",
                "TableGone",
            ) from None
        table_id = str(table.get("TableId", ""))
        if before is None:
            scanned = client.scan(
                TableName=name,
                Limit=1,
                ProjectionExpression="ticker, last_refreshed",
                ConsistentRead=True,
            ).get("Items", [])
            key = {k: v["S"] for k, v in scanned[0].items()} if scanned else None
            found = bool(scanned)
        else:
            key = before.sample_key
            found = key is None or "Item" in client.get_item(
                TableName=name, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
            )
    check = TableCheck(name, table_id, str(table.get("TableStatus", "")), key, found)
    if before is not None:
        if before.table_id and table_id != before.table_id:
            raise AwsError(
                f"table {name} is a different table after DeleteStack (TableId "
                f"{before.table_id} -> {table_id})",
                "TableReplaced",
            )
        if not found:
            raise AwsError(f"table {name} lost item {key} during DeleteStack", "ItemGone")
        ctx.reporter.info(
            f"table {name} survived: same TableId, {check.status}"
            + (f", item {key['ticker']} {key['last_refreshed']} still there" if key else "")
        )
    return check
