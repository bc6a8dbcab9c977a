"""The DynamoDB table: key schema fixed, billing, point-in-time recovery, deletion protection."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from cryptoconsumer.aws import translated
from cryptoconsumer.config import TableSpec
from cryptoconsumer.errors import PlanBlockedError
from cryptoconsumer.resources.base import Change, Context, field_diff, owned, tag_list, wait

KEY_SCHEMA = (("ticker", "HASH"), ("last_refreshed", "RANGE"))


@dataclass(frozen=True)
class ObservedTable:
    name: str
    arn: str
    status: str
    key_schema: tuple[tuple[str, str], ...]
    billing_mode: str
    read_capacity: int | None
    write_capacity: int | None
    deletion_protection: bool
    point_in_time_recovery: bool
    tags: dict[str, str]


def read(ctx: Context, spec: TableSpec) -> ObservedTable | None:
    client = ctx.clients.dynamodb
    with translated(f"reading table {spec.name}"):
        try:
            table = client.describe_table(TableName=spec.name)["Table"]
        except client.exceptions.ResourceNotFoundException:
            return None
        tags = {
            tag["Key"]: tag["Value"]
            for page in _tag_pages(client, table["TableArn"])
            for tag in page
        }
        pitr = False
        if table["TableStatus"] == "ACTIVE":
            backups = client.describe_continuous_backups(TableName=spec.name)
            pitr = (
                backups["ContinuousBackupsDescription"]
                .get("PointInTimeRecoveryDescription", {})
                .get("PointInTimeRecoveryStatus")
                == "ENABLED"
            )
    throughput = table.get("ProvisionedThroughput", {})
    billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    return ObservedTable(
        name=spec.name,
        arn=table["TableArn"],
        status=table["TableStatus"],
        key_schema=tuple((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]),
        billing_mode=billing,
        read_capacity=throughput.get("ReadCapacityUnits") if billing == "PROVISIONED" else None,
        write_capacity=throughput.get("WriteCapacityUnits") if billing == "PROVISIONED" else None,
        deletion_protection=bool(table.get("DeletionProtectionEnabled", False)),
        point_in_time_recovery=pitr,
        tags=tags,
    )


def _tag_pages(client: Any, arn: str) -> Any:
    token: str | None = None
    while True:
        params = {"ResourceArn": arn, **({"NextToken": token} if token else {})}
        page = client.list_tags_of_resource(**params)
        yield page.get("Tags", [])
        token = page.get("NextToken")
        if not token:
            return


def drift(spec: TableSpec, observed: ObservedTable) -> list[str]:
    details = field_diff("billing mode", observed.billing_mode, spec.billing_mode)
    if spec.billing_mode == "PROVISIONED":
        details += field_diff("read capacity", observed.read_capacity, spec.read_capacity)
        details += field_diff("write capacity", observed.write_capacity, spec.write_capacity)
    details += field_diff(
        "point-in-time recovery", observed.point_in_time_recovery, spec.point_in_time_recovery
    )
    details += field_diff(
        "deletion protection", observed.deletion_protection, spec.deletion_protection
    )
    return details


def plan(ctx: Context, spec: TableSpec, observed: ObservedTable | None) -> Change:
    if observed is None:
        mode = (
            "on-demand"
            if spec.billing_mode == "PAY_PER_REQUEST"
            else (f"provisioned {spec.read_capacity}/{spec.write_capacity}")
        )
        return Change(
            "table",
            spec.name,
            "create",
            (
                "key ticker (S) + last_refreshed (S)",
                mode,
                "point-in-time recovery on",
                "deletion protection on",
            ),
        )
    if observed.key_schema != KEY_SCHEMA:
        found = ", ".join(f"{name} ({kind})" for name, kind in observed.key_schema)
        raise PlanBlockedError(
            f"table {spec.name} has key schema {found}, not ticker (HASH) + last_refreshed "
            "(RANGE); a key schema cannot change in place: use --table-name to pick another table"
        )
    if observed.status == "DELETING":
        return Change(
            "table", spec.name, "create", ("table is being deleted; re-create",), observed=None
        )
    details = drift(spec, observed)
    if not owned(observed.tags, ctx.config.stack):
        # Only `adopt` gets here: `up` refuses an untagged table before planning.
        details.insert(0, f"adopted: tagged {_tags_text(ctx)}; its items untouched")
    return Change("table", spec.name, "update" if details else "none", tuple(details), observed)


def _tags_text(ctx: Context) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(ctx.config.tags.items()))


def apply(ctx: Context, spec: TableSpec, change: Change) -> dict[str, str]:
    arn = _create(ctx, spec) if change.action == "create" else change.observed.arn
    if change.action in ("create", "update"):
        _converge(ctx, spec, change.observed if change.action == "update" else None)
    return {"table_arn": arn}


def _create(ctx: Context, spec: TableSpec) -> str:
    client = ctx.clients.dynamodb
    # A table kept DELETING by an earlier destroy blocks its name until it is gone.
    wait(
        ctx,
        client,
        "table_not_exists",
        f"table {spec.name} to finish deleting",
        TableName=spec.name,
    )
    params: dict[str, Any] = {
        "TableName": spec.name,
        "KeySchema": [{"AttributeName": n, "KeyType": k} for n, k in KEY_SCHEMA],
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n, _ in KEY_SCHEMA],
        "BillingMode": spec.billing_mode,
        "DeletionProtectionEnabled": spec.deletion_protection,
        "Tags": tag_list(ctx.config.tags),
    }
    if spec.billing_mode == "PROVISIONED":
        params["ProvisionedThroughput"] = {
            "ReadCapacityUnits": spec.read_capacity,
            "WriteCapacityUnits": spec.write_capacity,
        }
    with translated(f"creating table {spec.name}"):
        try:
            arn = client.create_table(**params)["TableDescription"]["TableArn"]
        except client.exceptions.ResourceInUseException:
            # An interrupted earlier run created it; read and converge instead.
            arn = client.describe_table(TableName=spec.name)["Table"]["TableArn"]
    ctx.reporter.info(f"created table {spec.name}")
    return arn


def _converge(ctx: Context, spec: TableSpec, observed: ObservedTable | None) -> None:
    """Bring billing, deletion protection and PITR to the spec; each refused while CREATING."""
    client = ctx.clients.dynamodb
    wait(ctx, client, "table_exists", f"table {spec.name} to become ACTIVE", TableName=spec.name)
    current = observed or read(ctx, spec)
    assert current is not None
    if not owned(current.tags, ctx.config.stack):
        # Tagged first: once it carries the tag, a re-run after a crash sees it as this stack's.
        with translated(f"tagging table {spec.name}"):
            client.tag_resource(ResourceArn=current.arn, Tags=tag_list(ctx.config.tags))
        ctx.reporter.info(f"tagged table {spec.name} as stack {ctx.config.stack}'s")
    update: dict[str, Any] = {}
    if current.billing_mode != spec.billing_mode or (
        spec.billing_mode == "PROVISIONED"
        and (current.read_capacity, current.write_capacity)
        != (spec.read_capacity, spec.write_capacity)
    ):
        update["BillingMode"] = spec.billing_mode
        if spec.billing_mode == "PROVISIONED":
            update["ProvisionedThroughput"] = {
                "ReadCapacityUnits": spec.read_capacity,
                "WriteCapacityUnits": spec.write_capacity,
            }
    if current.deletion_protection != spec.deletion_protection:
        update["DeletionProtectionEnabled"] = spec.deletion_protection
    with translated(f"updating table {spec.name}"):
        if update:
            client.update_table(TableName=spec.name, **update)
            ctx.reporter.info(f"updated table {spec.name}")
            wait(
                ctx,
                client,
                "table_exists",
                f"table {spec.name} to become ACTIVE",
                TableName=spec.name,
            )
        if current.point_in_time_recovery != spec.point_in_time_recovery:
            client.update_continuous_backups(
                TableName=spec.name,
                PointInTimeRecoverySpecification={
                    "PointInTimeRecoveryEnabled": spec.point_in_time_recovery
                },
            )
            ctx.reporter.info(f"point-in-time recovery on for table {spec.name}")


def plan_delete(
    observed: ObservedTable | None, spec: TableSpec, delete_table: bool, stack: str
) -> Change:
    if observed is None:
        return Change("table", spec.name, "none", ("does not exist",))
    if not owned(observed.tags, stack):
        return Change("table", spec.name, "none", ("not tagged for this stack; left alone",))
    if not delete_table:
        return Change(
            "table",
            spec.name,
            "retain",
            ("kept with its data; delete it with: cryptoconsumer destroy --delete-table",),
            observed,
        )
    details = ["deletes every item"]
    if observed.deletion_protection:
        details.insert(0, "turn deletion protection off")
    return Change("table", spec.name, "delete", tuple(details), observed)


def delete(ctx: Context, change: Change) -> None:
    client = ctx.clients.dynamodb
    name = change.name
    with translated(f"deleting table {name}"):
        if change.observed.status != "DELETING":
            wait(ctx, client, "table_exists", f"table {name} to become ACTIVE", TableName=name)
            if change.observed.deletion_protection:
                client.update_table(TableName=name, DeletionProtectionEnabled=False)
            with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                client.delete_table(TableName=name)
    wait(ctx, client, "table_not_exists", f"table {name} to be deleted", TableName=name)
    ctx.reporter.info(f"deleted table {name}")
