"""The alarms topic and its e-mail subscriptions, on moto made to behave like AWS: e-mail
subscriptions stay pending until confirmed, cannot be unsubscribed meanwhile, and CreateTopic
of an existing name with other attributes is refused."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from cryptoconsumer import stack
from cryptoconsumer.errors import AwsError, OwnershipError
from tests.resources.conftest import World

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:crypto-alarms"
OTHER_TOPIC = "arn:aws:sns:us-east-1:123456789012:pager"


def subscriptions(world: World, arn: str = TOPIC_ARN) -> dict[str, str]:
    found = world.clients.sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    return {s["Endpoint"]: s["SubscriptionArn"] for s in found}


def topic_change(world: World, **options: Any) -> Any:
    config = world.config(**options)
    changes = stack.plan_up(config, world.clients, ctx=world.context(config)).plan.changes
    return [c for c in changes if c.resource == "topic"]


def test_up_makes_an_encrypted_tagged_topic_and_subscribes_each_address(world: World) -> None:
    (planned,) = topic_change(world, alarm_email=("b@example.com", "a@example.com"))
    assert planned.action == "create"
    assert planned.details[1:] == (
        "subscribe a@example.com by e-mail: it must confirm from the mail AWS sends",
        "subscribe b@example.com by e-mail: it must confirm from the mail AWS sends",
    )

    world.up(alarm_email=("b@example.com", "a@example.com"))

    sns = world.plain("sns")
    attributes = sns.get_topic_attributes(TopicArn=TOPIC_ARN)["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/aws/sns"
    found = {
        t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=TOPIC_ARN)["Tags"]
    }
    assert found == {"cryptoconsumer:stack": "crypto", "managed-by": "cryptoconsumer"}
    assert subscriptions(world) == {
        "a@example.com": "PendingConfirmation",
        "b@example.com": "PendingConfirmation",
    }


def test_a_pending_subscription_is_never_made_again(world: World) -> None:
    world.up(alarm_email=("a@example.com",))
    world.faults.calls.clear()

    (planned,) = topic_change(world, alarm_email=("a@example.com",))
    world.up(alarm_email=("a@example.com",))

    assert planned.action == "none"
    assert planned.details == (
        "a@example.com: pending confirmation (the link is in the mail AWS sent)",
    )
    assert world.faults.calls["sns.Subscribe"] == 0
    assert len(subscriptions(world)) == 1


def test_a_dropped_address_is_unsubscribed_once_confirmed_and_noted_while_pending(
    world: World,
) -> None:
    world.up(alarm_email=("a@example.com", "b@example.com"))
    world.faults.confirm_email("a@example.com")

    (planned,) = topic_change(world)
    world.up()

    assert planned.action == "update"
    assert "unsubscribe a@example.com (not an --alarm-email)" in planned.details
    assert any(
        d.startswith("b@example.com: pending, not an --alarm-email") for d in planned.details
    )
    assert subscriptions(world) == {"b@example.com": "PendingConfirmation"}
    assert world.faults.refusals["sns.Unsubscribe:InvalidParameter"] == 0


def test_unsubscribing_a_pending_subscription_is_refused_as_aws_does(world: World) -> None:
    world.up(alarm_email=("a@example.com",))

    with pytest.raises(ClientError, match="InvalidParameter"):
        world.clients.sns.unsubscribe(SubscriptionArn="PendingConfirmation")


def test_encryption_removed_outside_up_is_restored(world: World) -> None:
    world.up()
    world.plain("sns").set_topic_attributes(
        TopicArn=TOPIC_ARN, AttributeName="KmsMasterKeyId", AttributeValue=""
    )

    (planned,) = topic_change(world)
    world.up()

    assert planned.details == ("encryption key: none -> alias/aws/sns",)
    attributes = world.plain("sns").get_topic_attributes(TopicArn=TOPIC_ARN)["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/aws/sns"


def test_create_topic_with_other_attributes_is_refused_as_aws_does(world: World) -> None:
    world.up()

    with pytest.raises(ClientError, match="already exists with different attributes"):
        world.clients.sns.create_topic(
            Name="crypto-alarms", Attributes={"KmsMasterKeyId": "alias/other"}
        )


def test_someone_elses_topic_of_our_name_is_refused(world: World) -> None:
    world.plain("sns").create_topic(Name="crypto-alarms")

    with pytest.raises(OwnershipError, match="topic crypto-alarms exists but is not tagged"):
        world.up()

    world.destroy()
    assert [t["TopicArn"] for t in world.plain("sns").list_topics()["Topics"]] == [TOPIC_ARN]


def test_alarm_topic_arn_is_notified_and_never_changed(world: World) -> None:
    world.plain("sns").create_topic(Name="pager")
    world.up()  # first with the stack's own topic

    world.up(alarm_topic_arn=OTHER_TOPIC)

    found = world.plain("cloudwatch").describe_alarms(AlarmNamePrefix="crypto-")["MetricAlarms"]
    assert {tuple(a["AlarmActions"]) for a in found} == {(OTHER_TOPIC,)}
    topics = [t["TopicArn"] for t in world.plain("sns").list_topics()["Topics"]]
    assert topics == [OTHER_TOPIC]  # the stack's own topic went; theirs is untouched
    assert world.plain("sns").list_tags_for_resource(ResourceArn=OTHER_TOPIC)["Tags"] == []

    world.destroy()
    assert [t["TopicArn"] for t in world.plain("sns").list_topics()["Topics"]] == [OTHER_TOPIC]


def test_a_missing_alarm_topic_arn_is_refused_before_any_change(world: World) -> None:
    world.faults.calls.clear()

    with pytest.raises(AwsError, match=r"--alarm-topic-arn .* does not exist"):
        world.up(alarm_topic_arn=OTHER_TOPIC)

    assert world.plain("dynamodb").list_tables()["TableNames"] == []
    mutating = [
        c
        for c in world.faults.calls
        if not c.split(".")[1].startswith(("Get", "List", "Describe", "Head"))
    ]
    assert mutating == []
