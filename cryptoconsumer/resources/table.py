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
# States that end by themselves in ACTIVE; DELETING ends with no table; any other
# (INACCESSIBLE_ENCRYPTION_CREDENTIALS, ARCHIVING, ARCHIVED, REPLICATION_NOT_AUTHORIZED, ...)
# needs a person: the function cannot write to the table in it.
SETTLING_STATES = ("CREATING", "UPDATING")
UNUSABLE_BECAUSE = {
    "INACCESSIBLE_ENCRYPTION_CREDENTIALS": (
        "its KMS key cannot be used (disabled, scheduled for deletion or its grant revoked); "
        "restore access to the key (after 7 days DynamoDB archives the table)"
    ),
    "ARCHIVING": "DynamoDB is archiving it because its KMS key was inaccessible for 7 days",
    "ARCHIVED": "DynamoDB archived it because its KMS key was inaccessible for 7 days",
}


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
        try:
            tags = {
                tag["Key"]: tag["Value"]
                for page in _tag_pages(client, table["TableArn"])
                for tag in page
            }
        except client.exceptions.ResourceNotFoundException:
            return None  # deleted between the two calls: as good as gone
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
            "table", spec.name, "create", ("table is being deleted; re-create",), observed
        )
    if observed.status != "ACTIVE" and observed.status not in SETTLING_STATES:
        why = UNUSABLE_BECAUSE.get(observed.status, "the function cannot write to it")
        raise PlanBlockedError(
            f"table {spec.name} is {observed.status}, not ACTIVE: {why}; fix the table first"
        )
    details = drift(spec, observed)
    if not owned(observed.tags, ctx.config.stack):
        # Only `adopt` gets here: `up` refuses an untagged table before planning.
        details.insert(0, f"adopted: tagged {_tags_text(ctx)}; its items untouched")
    if observed.status != "ACTIVE" and not details:
        waiting = f"status {observed.status}: `up` waits until it is ACTIVE"
        return Change("table", spec.name, "none", (waiting,), observed)
    return Change("table", spec.name, "update" if details else "none", tuple(details), observed)


def _tags_text(ctx: Context) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(ctx.config.tags.items()))


def settling(observed: ObservedTable | None) -> bool:
    return observed is not None and observed.status in SETTLING_STATES


def apply(ctx: Context, spec: TableSpec, change: Change) -> dict[str, str]:
    if change.action == "create":
        deleting = change.observed is not None and change.observed.status == "DELETING"
        arn = _create(ctx, spec, deleting)
    else:
        arn = change.observed.arn
    if change.action in ("create", "update"):
        _converge(ctx, spec, change.observed if change.action == "update" else None)
    elif settling(change.observed):
        _active(ctx, spec.name)
    return {"table_arn": arn}


def _active(ctx: Context, name: str) -> None:
    wait(
        ctx, ctx.clients.dynamodb, "table_exists", f"table {name} to become ACTIVE", TableName=name
    )


def _gone(ctx: Context, name: str) -> None:
    client = ctx.clients.dynamodb
    wait(ctx, client, "table_not_exists", f"table {name} to finish deleting", TableName=name)


def _create(ctx: Context, spec: TableSpec, deleting: bool) -> str:
    client = ctx.clients.dynamodb
    if deleting:
        # A table kept DELETING by an earlier destroy blocks its name until it is gone.
        _gone(ctx, spec.name)
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
            # An interrupted earlier run created it (read and converge), or a delete the
            # plan did not see yet is still running (wait until it is gone, then create).
            found = client.describe_table(TableName=spec.name)["Table"]
            if found["TableStatus"] != "DELETING":
                return str(found["TableArn"])
            _gone(ctx, spec.name)
            arn = client.create_table(**params)["TableDescription"]["TableArn"]
    ctx.reporter.info(f"created table {spec.name}")
    return arn


def _converge(ctx: Context, spec: TableSpec, observed: ObservedTable | None) -> None:
    """Bring billing, deletion protection and PITR to the spec; each refused while CREATING."""
    client = ctx.clients.dynamodb
    if observed is None or observed.status != "ACTIVE":
        _active(ctx, spec.name)
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
            _active(ctx, spec.name)
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
    status = change.observed.status
    with translated(f"deleting table {name}"):
        if status != "DELETING":
            if status != "ACTIVE":
                _active(ctx, name)
            protected = change.observed.deletion_protection
            if protected:
                client.update_table(TableName=name, DeletionProtectionEnabled=False)
            try:
                with contextlib.suppress(client.exceptions.ResourceNotFoundException):
                    client.delete_table(TableName=name)
            except Exception:
                if protected:
                    # The table stays: it must not stay unprotected because of this attempt.
                    with contextlib.suppress(Exception):
                        client.update_table(TableName=name, DeletionProtectionEnabled=True)
                raise
    wait(ctx, client, "table_not_exists", f"table {name} to be deleted", TableName=name)
    ctx.reporter.info(f"deleted table {name}")
