"""The failed-batches bucket (--failure-destination s3): made private and expiring, diffed,
owned by tag, kept on destroy unless consented, and the mapping's destination."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cryptoconsumer import stack
from cryptoconsumer.aws import AwsTarget, Clients
from cryptoconsumer.config import StackOptions, build_config, failed_batches_bucket
from cryptoconsumer.errors import AwsError, InputError, OwnershipError
from cryptoconsumer.resources import bucket, role
from tests.resources.conftest import REGION, World

ACCOUNT = "123456789012"
BUCKET = f"crypto-failed-batches-{ACCOUNT}-{REGION}"
S3 = {"failure_destination": "s3"}


def _mapping(world: World) -> dict[str, Any]:
    [found] = world.plain("lambda").list_event_source_mappings(FunctionName="crypto_data_consumer")[
        "EventSourceMappings"
    ]
    return found


def _policy(world: World) -> dict[str, Any]:
    document = world.plain("iam").get_role_policy(
        RoleName="crypto_data_consumer-role", PolicyName=role.POLICY_NAME
    )["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def _s3_statements(world: World) -> dict[str, Any]:
    return {
        str(s["Action"]): s["Resource"]
        for s in _policy(world)["Statement"]
        if str(s["Action"]).startswith("s3:")
    }


def _plan(world: World, **options: Any) -> stack.Prepared:
    config = world.config(**options)
    return stack.plan_up(config, world.clients, ctx=world.context(config))


def _destroy(world: World, consent: bool) -> stack.Prepared:
    config = world.config()
    prepared = stack.plan_destroy(
        config, world.clients, ctx=world.context(config), delete_failed_batches=consent
    )
    stack.execute(prepared)
    return prepared


def test_up_makes_a_private_expiring_bucket_and_points_the_mapping_at_it(world: World) -> None:
    outputs = world.up(**S3)

    s3 = world.plain("s3")
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=BUCKET).get("Status") is None
    [expiry] = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert expiry["Expiration"] == {"Days": 14} and expiry["Status"] == "Enabled"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags == {"cryptoconsumer:stack": "crypto", "managed-by": "cryptoconsumer"}
    destination = _mapping(world)["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == f"arn:aws:s3:::{BUCKET}"
    assert outputs["bucket"] == BUCKET
    # PutObject on the bucket's objects only, ListBucket on the bucket: what Lambda asks for.
    assert _s3_statements(world) == {
        "s3:PutObject": f"arn:aws:s3:::{BUCKET}/*",
        "s3:ListBucket": f"arn:aws:s3:::{BUCKET}",
    }
    # The queue stays, for the function's bad records.
    assert world.plain("sqs").get_queue_url(QueueName="crypto_data_consumer-dlq")


def test_a_second_up_changes_nothing(world: World) -> None:
    world.up(**S3)

    prepared = _plan(world, **S3)

    assert not prepared.plan.mutating, [
        (c.resource, c.action, c.details) for c in prepared.plan.changes
    ]
    [change] = prepared.plan.for_resource("bucket")
    assert change.action == "none"


def test_drift_in_lifecycle_encryption_public_access_and_versioning_is_shown_and_repaired(
    world: World,
) -> None:
    world.up(**S3)
    s3 = world.plain("s3")
    s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "x",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Expiration": {"Days": 400},
                }
            ]
        },
    )
    s3.delete_bucket_encryption(Bucket=BUCKET)
    s3.put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

    [change] = _plan(world, **S3).plan.for_resource("bucket")

    assert change.action == "update"
    assert change.details == (
        "public access block: BlockPublicPolicy off -> on",
        "default encryption: none -> SSE-S3",
        "versioning: Enabled -> Suspended",
        "objects expire after: 400 days -> 14 days",
    )
    world.up(**S3)
    assert not _plan(world, **S3).plan.mutating
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Suspended"


def test_a_new_retention_rewrites_the_lifecycle_rule(world: World) -> None:
    world.up(**S3)

    [change] = _plan(world, **S3, failure_retention_days=30).plan.for_resource("bucket")
    world.up(**S3, failure_retention_days=30)

    assert change.details == ("objects expire after: 14 days -> 30 days",)
    [expiry] = world.plain("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert expiry["Expiration"] == {"Days": 30}


def test_a_bucket_of_our_name_without_our_tags_is_never_touched(world: World) -> None:
    s3 = world.plain("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})

    with pytest.raises(OwnershipError, match=f"bucket {BUCKET} exists but is not tagged"):
        world.up(**S3)

    assert world.faults.calls["s3.PutBucketTagging"] == 0
    assert world.faults.calls["s3.PutPublicAccessBlock"] == 0
    assert world.faults.calls["iam.CreateRole"] == 0  # refused before anything changed


def test_a_name_another_account_owns_is_refused_before_any_change(world: World) -> None:
    world.faults.foreign_buckets.add(BUCKET)

    with pytest.raises(OwnershipError, match="another AWS account owns the name"):
        world.up(**S3)

    assert not [key for key in world.faults.calls if key.split(".")[1].startswith("Create")]


def test_a_name_taken_between_read_and_create_is_one_clear_error(world: World) -> None:
    world.faults.buckets_taken_at_create.add(BUCKET)

    with pytest.raises(AwsError, match="taken by another AWS account") as raised:
        world.up(**S3)

    assert raised.value.code == "BucketAlreadyExists"
    assert "\n" not in str(raised.value)
    # The role never got a grant on a name that is not ours, nor the mapping the name.
    assert world.faults.calls["iam.CreateRole"] == 0
    assert world.faults.calls["lambda.CreateEventSourceMapping"] == 0


def test_outside_us_east_1_the_bucket_is_made_with_its_location_constraint(
    world: World,
) -> None:
    region = "eu-west-1"
    kinesis = boto3.client("kinesis", region_name=region)
    kinesis.create_stream(StreamName="ticks", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="ticks")["StreamDescriptionSummary"][
        "StreamARN"
    ]
    config = build_config(StackOptions(stream_arn=arn, region=region, failure_destination="s3"))
    clients = Clients(AwsTarget(region=region), session=boto3.Session(region_name=region))
    ctx = world.context(config)
    ctx.clients = clients

    stack.execute(stack.plan_up(config, clients, ctx=ctx))

    name = f"crypto-failed-batches-{ACCOUNT}-{region}"
    location = boto3.client("s3", region_name=region).get_bucket_location(Bucket=name)
    assert location["LocationConstraint"] == region


def test_back_to_sqs_keeps_the_bucket_and_moves_the_destination_to_the_queue(
    world: World,
) -> None:
    world.up(**S3)
    world.plain("s3").put_object(Bucket=BUCKET, Key="aws/lambda/x/shard/2026/01/01/obj", Body=b"{}")

    prepared = _plan(world)
    [kept] = prepared.plan.for_resource("bucket")
    stack.execute(prepared)

    assert kept.action == "retain"
    assert "kept with its 1 object(s)" in kept.details[0]
    queue_arn = world.plain("sqs").get_queue_attributes(
        QueueUrl=world.plain("sqs").get_queue_url(QueueName="crypto_data_consumer-dlq")["QueueUrl"],
        AttributeNames=["QueueArn"],
    )["Attributes"]["QueueArn"]
    assert _mapping(world)["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
    assert world.plain("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1
    # The grant stayed while the mapping still named the bucket; the next up drops it.
    assert _s3_statements(world)
    world.up()
    assert _s3_statements(world) == {}
    assert not _plan(world).plan.mutating


def test_destroy_keeps_the_bucket_without_consent(world: World) -> None:
    world.up(**S3)
    world.plain("s3").put_object(Bucket=BUCKET, Key="aws/lambda/a", Body=b"{}")

    prepared = _destroy(world, consent=False)

    [change] = prepared.plan.for_resource("bucket")
    assert change.action == "retain"
    assert "--delete-failed-batches" in change.details[0]
    assert world.plain("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1


def test_destroy_with_consent_empties_every_version_and_deletes_the_bucket(world: World) -> None:
    world.up(**S3)
    s3 = world.plain("s3")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2"):
        s3.put_object(Bucket=BUCKET, Key="aws/lambda/a", Body=body)
    s3.delete_object(Bucket=BUCKET, Key="aws/lambda/a")  # a delete marker as well

    prepared = _destroy(world, consent=True)

    [change] = prepared.plan.for_resource("bucket")
    assert change.action == "delete"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == []


def test_destroy_leaves_a_bucket_of_our_name_that_is_not_ours(world: World) -> None:
    world.up()
    world.plain("s3").create_bucket(Bucket=BUCKET)

    prepared = _destroy(world, consent=True)

    [change] = prepared.plan.for_resource("bucket")
    assert (change.action, change.details) == ("none", ("not tagged for this stack; left alone",))
    assert world.plain("s3").head_bucket(Bucket=BUCKET)


@pytest.mark.parametrize(
    ("stack_name", "expected"),
    [
        ("crypto", f"crypto-failed-batches-{ACCOUNT}-eu-west-1"),
        ("prod-2", f"prod-2-failed-batches-{ACCOUNT}-eu-west-1"),
        # Capitals and _ are not allowed in bucket names: lowercased, with a digest of the
        # exact name so that My_Stack and my-stack never share a bucket.
        ("My_Stack", f"my-stack-453a302f-failed-batches-{ACCOUNT}-eu-west-1"),
        ("_", f"d2e2adf7-failed-batches-{ACCOUNT}-eu-west-1"),
        ("xn--a", f"{failed_batches_bucket('xn--a', ACCOUNT, 'eu-west-1')}"),
    ],
)
def test_bucket_names_are_valid_for_every_stack_name(stack_name: str, expected: str) -> None:
    name = failed_batches_bucket(stack_name, ACCOUNT, "eu-west-1")

    assert name == expected
    assert bucket_name_is_valid(name)


def test_a_long_stack_name_is_shortened_to_63_characters() -> None:
    name = failed_batches_bucket("a" * 32, ACCOUNT, "ap-southeast-2")

    assert len(name) == 63 and bucket_name_is_valid(name)
    assert name != failed_batches_bucket("a" * 31, ACCOUNT, "ap-southeast-2")


def test_stacks_that_differ_only_in_case_get_different_buckets() -> None:
    assert failed_batches_bucket("Crypto", ACCOUNT, REGION) != failed_batches_bucket(
        "crypto", ACCOUNT, REGION
    )


def test_the_retention_days_need_the_s3_destination() -> None:
    with pytest.raises(InputError, match="--failure-retention-days goes with"):
        build_config(StackOptions(failure_retention_days=30))
    with pytest.raises(InputError, match="drop --no-dlq"):
        build_config(StackOptions(failure_destination="s3", dlq=False))
    with pytest.raises(InputError, match="--failure-destination must be one of sqs, s3"):
        build_config(StackOptions(failure_destination="sns"))


def bucket_name_is_valid(name: str) -> bool:
    return (
        3 <= len(name) <= 63
        and bucket.arn("aws", name).endswith(name)
        and name == name.lower()
        and name[0].isalnum()
        and name[-1].isalnum()
        and set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-.")
        and not name.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
    )


def test_a_lifecycle_rule_that_is_not_the_whole_bucket_is_drift(world: World) -> None:
    world.up(**S3)
    world.plain("s3").put_bucket_lifecycle_configuration(
        Bucket=BUCKET,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": lifecycle_id(),
                    "Status": "Enabled",
                    "Filter": {"Prefix": "aws/lambda/other/"},
                    "Expiration": {"Days": 14},
                }
            ]
        },
    )

    [change] = _plan(world, **S3).plan.for_resource("bucket")

    assert change.details == ("lifecycle: 1 other rule(s) -> objects expire after 14 days",)


def test_destroy_leaves_a_bucket_it_may_not_read(world: World) -> None:
    world.up(**S3)
    world.faults.foreign_buckets.add(BUCKET)
    config = world.config(**S3)

    prepared = stack.plan_destroy(
        config, world.clients, ctx=world.context(config), delete_failed_batches=True
    )

    [change] = prepared.plan.for_resource("bucket")
    assert (change.action, change.details) == (
        "none",
        ("not readable with these credentials; left alone",),
    )


def lifecycle_id() -> str:
    return bucket.LIFECYCLE_RULE_ID
