"""The failed-batches bucket: Lambda's S3 on-failure destination, records included.

Private (all four public-access blocks on), SSE-S3 encrypted, unversioned, and every object
expires after the retention. S3 bucket names are global: the bucket is made (or found ours)
before the role may write to it or the mapping names it, so failed batches can never go to a
same-named bucket of someone else's.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptoconsumer.aws import error_code, translated
from cryptoconsumer.config import BucketSpec
from cryptoconsumer.errors import AwsError, OwnershipError
from cryptoconsumer.resources.base import Change, Context, owned, tag_dict, tag_list

LIFECYCLE_RULE_ID = "cryptoconsumer-expire-failed-batches"
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
ENCRYPTION = "AES256"  # SSE-S3: no key policy, no kms:GenerateDataKey grant needed
# us-east-1 refuses a LocationConstraint naming itself (InvalidLocationConstraint); every
# other region requires one (IllegalLocationConstraintException).
NO_LOCATION_CONSTRAINT = "us-east-1"
NOT_FOUND_CODES = ("404", "NoSuchBucket", "NotFound")
DELETE_BATCH = 1000  # DeleteObjects' per-call maximum
# Lambda may still write an object while the bucket is emptied; empty it again this often.
EMPTY_ATTEMPTS = 3


@dataclass(frozen=True)
class ObservedBucket:
    name: str
    arn: str
    tags: dict[str, str]
    public_access_block: dict[str, bool] | None = None
    encryption: str | None = None
    versioning: str = ""  # "" never enabled, "Enabled", "Suspended"
    lifecycle: tuple[dict[str, Any], ...] = ()
    objects: int = 0
    more_objects: bool = False  # more than the one page counted

    @property
    def object_count(self) -> str:
        return f"{self.objects}+" if self.more_objects else str(self.objects)


@dataclass(frozen=True)
class ForeignBucket:
    """A bucket of our name that these credentials may not read: another account's."""

    name: str


def arn(partition: str, name: str) -> str:
    return f"arn:{partition}:s3:::{name}"


def read(ctx: Context, name: str, stack: str) -> ObservedBucket | ForeignBucket | None:
    client = ctx.clients.client("s3")
    with translated(f"reading bucket {name}"):
        try:
            client.head_bucket(Bucket=name)
        except Exception as err:
            code = error_code(err)
            if code in NOT_FOUND_CODES:
                return None
            if code in ("403", "AccessDenied", "Forbidden"):
                return ForeignBucket(name)
            raise
        tags = _optional(lambda: client.get_bucket_tagging(Bucket=name)["TagSet"], "NoSuchTagSet")
        found = ObservedBucket(name=name, arn=arn(ctx.partition, name), tags=tag_dict(tags))
        if not owned(found.tags, stack):
            return found  # someone else's: nothing more is read, nothing is ever changed
        readers: dict[str, Callable[[], Any]] = {
            "public_access_block": lambda: _optional(
                lambda: client.get_public_access_block(Bucket=name)[
                    "PublicAccessBlockConfiguration"
                ],
                "NoSuchPublicAccessBlockConfiguration",
            ),
            "encryption": lambda: _encryption(client, name),
            "versioning": lambda: client.get_bucket_versioning(Bucket=name).get("Status", ""),
            "lifecycle": lambda: tuple(
                _optional(
                    lambda: client.get_bucket_lifecycle_configuration(Bucket=name)["Rules"],
                    "NoSuchLifecycleConfiguration",
                )
                or ()
            ),
            "listing": lambda: client.list_objects_v2(Bucket=name, MaxKeys=DELETE_BATCH),
        }
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(readers)) as pool:
            futures = {key: pool.submit(reader) for key, reader in readers.items()}
            results = {key: future.result() for key, future in futures.items()}
    listing = results.pop("listing")
    return ObservedBucket(
        name=name,
        arn=found.arn,
        tags=found.tags,
        objects=int(listing.get("KeyCount", 0)),
        more_objects=bool(listing.get("IsTruncated")),
        **results,
    )


def _optional(call: Callable[[], Any], missing_code: str) -> Any:
    try:
        return call()
    except Exception as err:
        if error_code(err) == missing_code:
            return None
        raise


def _encryption(client: Any, name: str) -> str | None:
    rules = _optional(
        lambda: client.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"][
            "Rules"
        ],
        "ServerSideEncryptionConfigurationNotFoundError",
    )
    for rule in rules or []:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm"):
            return str(default["SSEAlgorithm"])
    return None


def lifecycle_rules(spec: BucketSpec) -> list[dict[str, Any]]:
    return [
        {
            "ID": LIFECYCLE_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "Expiration": {"Days": spec.retention_days},
        }
    ]


def _lifecycle_days(observed: ObservedBucket) -> int | None:
    """Our rule's retention, when the lifecycle is exactly our one rule."""
    if len(observed.lifecycle) != 1:
        return None
    rule = observed.lifecycle[0]
    expiration = rule.get("Expiration") or {}
    days = expiration.get("Days")
    # Every object: no prefix, tag or size filter (S3 may answer an empty prefix or none).
    whole_bucket = not rule.get("Prefix") and all(
        key == "Prefix" and not value for key, value in (rule.get("Filter") or {}).items()
    )
    only_expiry = set(rule) <= {"ID", "Status", "Filter", "Prefix", "Expiration"} and set(
        expiration
    ) == {"Days"}
    if rule.get("Status") != "Enabled" or not whole_bucket or not only_expiry:
        return None
    return days if isinstance(days, int) else None


def drift(spec: BucketSpec, observed: ObservedBucket) -> list[str]:
    details = []
    if observed.public_access_block != PUBLIC_ACCESS_BLOCK:
        off = sorted(
            k for k in PUBLIC_ACCESS_BLOCK if not (observed.public_access_block or {}).get(k)
        )
        details.append(f"public access block: {', '.join(off)} off -> on")
    if observed.encryption is None:
        details.append("default encryption: none -> SSE-S3")
    if observed.versioning == "Enabled":
        details.append("versioning: Enabled -> Suspended")
    days = _lifecycle_days(observed)
    if days is None:
        found = f"{len(observed.lifecycle)} other rule(s)" if observed.lifecycle else "none"
        details.append(f"lifecycle: {found} -> objects expire after {spec.retention_days} days")
    elif days != spec.retention_days:
        details.append(f"objects expire after: {days} days -> {spec.retention_days} days")
    return details


def plan(ctx: Context, spec: BucketSpec, name: str, observed: ObservedBucket | None) -> Change:
    if observed is None:
        return Change(
            "bucket",
            name,
            "create",
            (
                "receives each failed batch with its records (dlq redrive replays them)",
                "public access blocked, SSE-S3 encryption, versioning off",
                f"objects expire after {spec.retention_days} days",
            ),
        )
    details = drift(spec, observed)
    return Change("bucket", name, "update" if details else "none", tuple(details), observed)


def plan_retired(observed: ObservedBucket) -> Change:
    """--failure-destination sqs on a stack that had the bucket: it may still hold batches."""
    return Change(
        "bucket",
        observed.name,
        "retain",
        (
            f"no longer the failure destination (--failure-destination sqs); kept with its "
            f"{observed.object_count} object(s); `dlq redrive` still replays them; "
            "`destroy --delete-failed-batches` removes it",
        ),
        observed,
    )


def apply(ctx: Context, spec: BucketSpec, change: Change) -> dict[str, str]:
    name = change.name
    bucket_arn = arn(ctx.partition, name)
    observed: ObservedBucket | None = change.observed
    if change.action == "create":
        observed = _create(ctx, name)
    if change.action in ("create", "update"):
        _converge(ctx, spec, name, observed)
        ctx.reporter.info(f"{change.action}d bucket {name}")
    return {"bucket_arn": bucket_arn}


def _create(ctx: Context, name: str) -> ObservedBucket | None:
    """None when made now (tagged by CreateBucket itself); what exists when it already did."""
    client = ctx.clients.client("s3")
    configuration: dict[str, Any] = {"Tags": tag_list(ctx.config.tags)}
    if ctx.region != NO_LOCATION_CONSTRAINT:
        configuration["LocationConstraint"] = ctx.region
    with translated(f"creating bucket {name}"):
        try:
            client.create_bucket(Bucket=name, CreateBucketConfiguration=configuration)
        except Exception as err:
            code = error_code(err)
            if code == "BucketAlreadyExists":
                raise AwsError(
                    f"bucket name {name} is taken by another AWS account (S3 names are global); "
                    "choose another --stack",
                    code,
                ) from None
            if code != "BucketAlreadyOwnedByYou":
                raise
        else:
            return None
    # Made by an interrupted earlier run (tagged then), or by someone else in this account.
    found = read(ctx, name, ctx.config.stack)
    if not isinstance(found, ObservedBucket) or not owned(found.tags, ctx.config.stack):
        raise OwnershipError(
            f"bucket {name} was created meanwhile without the tags of stack "
            f"{ctx.config.stack}; refusing to change it or send failed batches to it"
        )
    return found


def _converge(ctx: Context, spec: BucketSpec, name: str, observed: ObservedBucket | None) -> None:
    """Every setting, each call on its own: a re-run after a crash finds what is missing."""
    client = ctx.clients.client("s3")
    with translated(f"configuring bucket {name}"):
        if observed is None or observed.public_access_block != PUBLIC_ACCESS_BLOCK:
            client.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=dict(PUBLIC_ACCESS_BLOCK)
            )
        if observed is None or observed.encryption is None:
            client.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": ENCRYPTION}}]
                },
            )
        if observed is not None and observed.versioning == "Enabled":
            # Versioning once enabled can only be suspended, never switched off again.
            client.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": "Suspended"}
            )
        if observed is None or _lifecycle_days(observed) != spec.retention_days:
            client.put_bucket_lifecycle_configuration(
                Bucket=name, LifecycleConfiguration={"Rules": lifecycle_rules(spec)}
            )


def plan_delete(
    observed: ObservedBucket | ForeignBucket | None, name: str, consent: bool, stack: str
) -> Change:
    if isinstance(observed, ForeignBucket):
        return Change("bucket", name, "none", ("not readable with these credentials; left alone",))
    if observed is None:
        return Change("bucket", name, "none", ("does not exist",))
    if not owned(observed.tags, stack):
        return Change("bucket", name, "none", ("not tagged for this stack; left alone",))
    if not consent:
        return Change(
            "bucket",
            name,
            "retain",
            (
                f"kept with its {observed.object_count} failed batch(es); delete it with: "
                "cryptoconsumer destroy --delete-failed-batches",
            ),
            observed,
        )
    details = (
        (f"empties it: {observed.object_count} failed batch(es) in it are lost",)
        if observed.objects
        else ()
    )
    return Change("bucket", name, "delete", details, observed)


def delete(ctx: Context, change: Change) -> None:
    """Empty (every version and delete marker: versioning may have been on), then delete."""
    client = ctx.clients.client("s3")
    name = change.name
    with translated(f"deleting bucket {name}"):
        for attempt in range(EMPTY_ATTEMPTS):
            try:
                _empty(client, name)
                client.delete_bucket(Bucket=name)
                break
            except Exception as err:
                code = error_code(err)
                if code in NOT_FOUND_CODES:
                    break
                if code != "BucketNotEmpty" or attempt == EMPTY_ATTEMPTS - 1:
                    raise
    ctx.reporter.info(f"deleted bucket {name}")


def _empty(client: Any, name: str) -> None:
    for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for kind in ("Versions", "DeleteMarkers")
            for item in page.get(kind, [])
        ]
        for start in range(0, len(doomed), DELETE_BATCH):
            answer = client.delete_objects(
                Bucket=name, Delete={"Objects": doomed[start : start + DELETE_BATCH], "Quiet": True}
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise AwsError(
                    f"emptying bucket {name}: {len(answer['Errors'])} object(s) not deleted "
                    f"({first.get('Code')}: {first.get('Message')})",
                    str(first.get("Code", "")),
                )
