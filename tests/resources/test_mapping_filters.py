"""The mapping's filters, their KMS key and its metrics: created with the mapping, changed in place
(UpdateEventSourceMapping, never a replacement), compared as parsed JSON, drift-checked.
"""

from __future__ import annotations

import json
from typing import Any

from cryptoconsumer import stack
from cryptoconsumer.resources.base import Change
from tests.resources.conftest import World

FUNCTION = "crypto_data_consumer"
USD = '{"data": {"to_currency_code": ["USD"]}}'
EUR = '{"data": {"to_currency_code": ["EUR"]}}'
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def only_mapping(world: World) -> dict[str, Any]:
    [found] = world.plain("lambda").list_event_source_mappings(FunctionName=FUNCTION)[
        "EventSourceMappings"
    ]
    return dict(world.plain("lambda").get_event_source_mapping(UUID=found["UUID"]))


def patterns(config: dict[str, Any]) -> list[Any]:
    return [
        json.loads(f["Pattern"]) for f in (config.get("FilterCriteria") or {}).get("Filters", [])
    ]


def mapping_change(world: World, **options: Any) -> Change:
    config = world.config(**options)
    prepared = stack.plan_up(config, world.clients, ctx=world.context(config))
    [change] = prepared.plan.for_resource("mapping")
    return change


def test_a_new_mapping_gets_its_filters_and_metrics_and_the_plan_says_what_is_dropped(
    world: World,
) -> None:
    change = mapping_change(world, filter=(USD,))
    assert change.action == "create"
    assert 'filters: [{"data":{"to_currency_code":["USD"]}}]' in change.details
    assert any("dropped by AWS" in d and "FilteredOutEventCount" in d for d in change.details)

    world.up(filter=(USD,))

    config = only_mapping(world)
    assert patterns(config) == [{"data": {"to_currency_code": ["USD"]}}]
    assert config["MetricsConfig"] == {"Metrics": ["EventCount"]}
    assert not config.get("KMSKeyArn")


def test_a_change_of_filters_is_an_update_showing_old_and_new_patterns(world: World) -> None:
    world.up(filter=(USD,))
    uuid = only_mapping(world)["UUID"]
    world.faults.calls.clear()

    change = mapping_change(world, filter=(USD, EUR))
    assert change.action == "update"
    assert change.details[0] == (
        'filters: [{"data":{"to_currency_code":["USD"]}}] -> '
        '[{"data":{"to_currency_code":["USD"]}}, {"data":{"to_currency_code":["EUR"]}}]'
    )
    # Filters were there already: nothing new to say about dropped records.
    assert not any("dropped by AWS" in d for d in change.details)
    world.up(filter=(USD, EUR))

    config = only_mapping(world)
    assert config["UUID"] == uuid
    assert world.faults.calls["lambda.UpdateEventSourceMapping"] == 1
    assert world.faults.calls["lambda.CreateEventSourceMapping"] == 0
    assert world.faults.calls["lambda.DeleteEventSourceMapping"] == 0
    assert sorted(map(json.dumps, patterns(config))) == sorted(
        map(json.dumps, [json.loads(USD), json.loads(EUR)])
    )


def test_the_same_patterns_spelled_differently_or_reordered_are_no_change(world: World) -> None:
    world.up(filter=(USD, EUR))
    respelled = '{ "data" : {\n "to_currency_code" : [ "EUR" ] } }'

    assert mapping_change(world, filter=(respelled, USD)).action == "none"


def test_filters_changed_outside_are_drift_that_up_puts_back(world: World) -> None:
    world.up(filter=(USD,))
    uuid = only_mapping(world)["UUID"]
    world.plain("lambda").update_event_source_mapping(
        UUID=uuid, FilterCriteria={"Filters": [{"Pattern": EUR}]}
    )

    change = mapping_change(world, filter=(USD,))
    assert change.action == "update"
    assert change.details[0] == (
        'filters: [{"data":{"to_currency_code":["EUR"]}}] -> '
        '[{"data":{"to_currency_code":["USD"]}}]'
    )
    world.up(filter=(USD,))
    assert patterns(only_mapping(world)) == [json.loads(USD)]


def test_filters_left_out_are_cleared_by_an_update(world: World) -> None:
    world.up(filter=(USD,))

    change = mapping_change(world)
    assert change.details[0] == 'filters: [{"data":{"to_currency_code":["USD"]}}] -> (none)'
    world.up()

    assert patterns(only_mapping(world)) == []


def test_filters_added_to_a_running_mapping_say_unmatched_records_are_dropped(
    world: World,
) -> None:
    world.up(mapping_metrics=False)

    change = mapping_change(world, only_tickers="BTCUSD", mapping_metrics=False)
    assert change.action == "update"
    assert any("dropped by AWS" in d and "counted nowhere" in d for d in change.details)


def test_mapping_metrics_off_and_on_again(world: World) -> None:
    world.up()
    assert only_mapping(world)["MetricsConfig"] == {"Metrics": ["EventCount"]}

    change = mapping_change(world, mapping_metrics=False)
    assert change.details == ("mapping metrics: on -> off",)
    world.up(mapping_metrics=False)
    assert only_mapping(world)["MetricsConfig"] == {"Metrics": []}
    assert mapping_change(world, mapping_metrics=False).action == "none"


def test_encrypted_filters_are_read_with_get_and_a_second_up_changes_nothing(
    world: World,
) -> None:
    world.up(filter=(USD,), filter_kms_key=KEY)
    assert only_mapping(world)["KMSKeyArn"] == KEY
    world.faults.calls.clear()

    # The listing answers no FilterCriteria for an encrypted mapping (faults.py, as AWS).
    assert mapping_change(world, filter=(USD,), filter_kms_key=KEY).action == "none"
    assert world.faults.calls["lambda.GetEventSourceMapping"] >= 1


def test_filters_aws_cannot_decrypt_for_us_are_said_and_written_again(world: World) -> None:
    world.up(filter=(USD,), filter_kms_key=KEY)
    world.faults.undecryptable_filters = True

    change = mapping_change(world, filter=(USD,), filter_kms_key=KEY)
    assert change.action == "update"
    assert change.details[0].startswith("filters unreadable (KMSAccessDeniedException: ")


def test_the_key_goes_with_the_filters(world: World) -> None:
    world.up(filter=(USD,), filter_kms_key=KEY)

    change = mapping_change(world, filter=(USD,))
    assert f"filter KMS key: {KEY} -> None" in change.details
    world.up(filter=(USD,))
    assert not only_mapping(world).get("KMSKeyArn")
