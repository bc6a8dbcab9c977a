"""The role's one inline policy: exactly this stream, table, queue and log group, and the
stream's customer-managed KMS key when it has one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.resources.conftest import World

FUNCTION_ROLE = "crypto_data_consumer-role"


def statements(world: World) -> dict[str, dict[str, Any]]:
    iam = world.plain("iam")
    (name,) = iam.list_role_policies(RoleName=FUNCTION_ROLE)["PolicyNames"]
    document = iam.get_role_policy(RoleName=FUNCTION_ROLE, PolicyName=name)["PolicyDocument"]
    return {statement["Sid"]: statement for statement in document["Statement"]}


def encrypt_stream(world: World, key_id: str) -> None:
    world.plain("kinesis").start_stream_encryption(
        StreamName="ticks", EncryptionType="KMS", KeyId=key_id
    )


def test_a_plain_stream_needs_no_kms_grant(world: World) -> None:
    world.up()

    granted = statements(world)

    assert "DecryptTheStream" not in granted
    assert granted["ReadTheStream"]["Resource"] == world.stream_arn
    assert granted["ListStreams"]["Resource"] == "*"


@pytest.mark.parametrize("refer_by", ["alias", "arn"])
def test_a_customer_managed_key_is_granted_by_its_arn(world: World, refer_by: str) -> None:
    kms = world.plain("kms")
    key = kms.create_key(Description="ticks")["KeyMetadata"]
    kms.create_alias(AliasName="alias/ticks", TargetKeyId=key["KeyId"])
    encrypt_stream(world, "alias/ticks" if refer_by == "alias" else key["Arn"])

    world.up()

    decrypt = statements(world)["DecryptTheStream"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == key["Arn"]


def test_the_aws_managed_kinesis_key_needs_no_grant(world: World) -> None:
    encrypt_stream(world, "alias/aws/kinesis")

    world.up()

    assert "DecryptTheStream" not in statements(world)
