"""`--managed-policy`: a policy that grants every action, or every action of a service, on every
resource is refused, whatever its name; read from its default version, as IAM sends it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cryptoconsumer import stack
from cryptoconsumer.errors import InputError
from cryptoconsumer.resources.role import check_managed_policies, too_broad
from tests.resources.conftest import World

AWS_POLICY = "arn:aws:iam::aws:policy/"


def allow(action: Any, resource: Any = "*", **more: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **more}],
    }


@pytest.fixture
def managed_policies(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto ships AWS's managed policies, with their real documents, only when asked."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    yield


@pytest.fixture
def aws_world(managed_policies: None, world: World) -> World:
    return world


def real_document(world: World, name: str) -> dict[str, Any]:
    iam = world.plain("iam")
    version = iam.get_policy(PolicyArn=AWS_POLICY + name)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=AWS_POLICY + name, VersionId=version)["PolicyVersion"][
        "Document"
    ]


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("AdministratorAccess", "Statement[0] allows every action ('*') on every resource ('*')"),
        (
            "PowerUserAccess",
            "Statement[0] allows every action but iam:*, organizations:*, account:* (NotAction) "
            "on every resource ('*')",
        ),
        ("IAMFullAccess", "Statement[0] allows every iam action ('iam:*') on every resource"),
    ],
)
def test_the_real_broad_aws_policies_are_too_broad(aws_world: World, name: str, says: str) -> None:
    found = too_broad(real_document(aws_world, name))

    assert found is not None and found.startswith(says), found


@pytest.mark.parametrize(
    "name",
    [
        "AmazonS3ReadOnlyAccess",
        "service-role/AWSLambdaKinesisExecutionRole",
        "AWSXRayDaemonWriteAccess",
    ],
)
def test_real_narrow_aws_policies_pass(aws_world: World, name: str) -> None:
    assert too_broad(real_document(aws_world, name)) is None


BROAD = {
    "a service's every action": allow("s3:*"),
    "a service's every action, in a list": allow(["sqs:SendMessage", "dynamodb:*"]),
    "every resource in a list": allow("kinesis:*", ["arn:aws:kinesis:us-east-1:1:stream/a", "*"]),
    "every resource of a service": allow("s3:*", "arn:aws:s3:::*"),
    "every resource of an account": allow("iam:*", "arn:aws:iam::123456789012:*"),
    "every object of every bucket": allow("s3:*", "arn:aws:s3:::*/*"),
    "a wildcard service": allow("*:Get*"),
    "two wildcards": allow("s3:**"),
    "every action, spelled *:*": allow("*:*"),
    "NotResource": {
        "Statement": [{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret"}]
    },
    "NotAction on every resource": {
        "Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    },
    "a condition does not narrow it": allow(
        "*", Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}}
    ),
}
NARROW = {
    "named actions on every resource": allow(["xray:PutTraceSegments", "kinesis:ListStreams"]),
    "part of a service on every resource": allow(["s3:Get*", "s3:*Object*"]),
    "every action of a service on one resource": allow("s3:*", "arn:aws:s3:::my-bucket/*"),
    "NotAction on one resource": {
        "Statement": [
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::my-bucket"}
        ]
    },
    "a Deny takes away": {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]},
    "NotResource *: nothing": {
        "Statement": [{"Effect": "Allow", "Action": "*", "NotResource": "*"}]
    },
}


@pytest.mark.parametrize("document", BROAD.values(), ids=BROAD.keys())
def test_broad_documents_are_refused(document: dict[str, Any]) -> None:
    assert too_broad(document) is not None


@pytest.mark.parametrize("document", NARROW.values(), ids=NARROW.keys())
def test_narrow_documents_pass(document: dict[str, Any]) -> None:
    assert too_broad(document) is None


def test_the_statement_is_named_by_its_sid() -> None:
    document = {
        "Statement": [
            {"Sid": "Logs", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"},
            {"Sid": "Everything", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
        ]
    }

    assert too_broad(document) == (
        "statement 'Everything' (Statement[1]) allows every sqs action ('sqs:*') "
        "on every resource ('*')"
    )


def create_policy(world: World, name: str, document: dict[str, Any]) -> str:
    return world.plain("iam").create_policy(PolicyName=name, PolicyDocument=json.dumps(document))[
        "Policy"
    ]["Arn"]


def test_the_default_version_is_what_counts(world: World) -> None:
    """A policy whose first version was narrow but whose default now grants everything."""
    arn = create_policy(world, "grows", allow("xray:PutTraceSegments"))
    world.plain("iam").create_policy_version(
        PolicyArn=arn, PolicyDocument=json.dumps(allow("*")), SetAsDefault=True
    )
    ctx = world.context(world.config(managed_policies=(arn,)))

    with pytest.raises(InputError) as refused:
        check_managed_policies(ctx, (arn,))

    assert str(refused.value).startswith(
        f"--managed-policy {arn}: its default version v2: Statement[0] allows every action"
    )
    # IAM sent the document URL-encoded (tests/faults.py), as AWS does; it was decoded.
    assert world.faults.calls["iam.GetPolicyVersion"] == 1


def test_iam_documents_arrive_url_encoded_and_are_decoded(world: World) -> None:
    document = allow("s3:GetObject", "arn:aws:s3:::a%20bucket/*")
    arn = create_policy(world, "narrow", document)
    raw: list[bytes] = []
    # Same event as the fault layer's hook, registered after it: sees what it made.
    world.session.events.register(
        "before-parse.iam", lambda response_dict, **_: raw.append(response_dict["body"])
    )

    check_managed_policies(world.context(world.config()), (arn,))
    read_back = world.clients.iam.get_policy_version(PolicyArn=arn, VersionId="v1")

    assert b"<Document>%7B%22" in raw[1]  # {" URL-encoded: what AWS sends, not moto
    assert read_back["PolicyVersion"]["Document"] == document


def test_a_policy_that_does_not_exist_is_bad_input(world: World) -> None:
    arn = "arn:aws:iam::123456789012:policy/missing"

    with pytest.raises(InputError, match=f"--managed-policy {arn} does not exist"):
        stack.plan_up(
            world.config(managed_policies=(arn,)),
            world.clients,
            ctx=world.context(world.config(managed_policies=(arn,))),
        )


def test_a_narrow_customer_policy_is_attached(world: World) -> None:
    arn = create_policy(
        world, "traces", allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"])
    )

    world.up(managed_policies=(arn,))

    attached = world.plain("iam").list_attached_role_policies(RoleName="crypto_data_consumer-role")
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [arn]
