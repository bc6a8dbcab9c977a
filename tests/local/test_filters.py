"""Lambda's event filtering for Kinesis, on the emulator: AWS's documented examples, and the
gaps filled in moto's matcher.

Each documented example is checked through `RecordFilter` (a Kinesis record whose data is the
example's event, the pattern wrapped under "data", as Lambda applies it), and the poller's
side end to end: records that match no filter never reach the function but move the
checkpoint.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cryptoconsumer.local.events import StreamRecord
from cryptoconsumer.local.filters import InvalidFilter, RecordFilter, parse_pattern
from tests.local.conftest import Harness, wait_for

# The event of EventBridge's content-filtering examples (an EC2 state-change notification).
EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "ddddd4-aaaa-7777-4444-345499999999",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
}

# EventBridge's "content-based filtering with event patterns" examples, against EC2_EVENT.
EVENTBRIDGE_EXAMPLES: list[tuple[str, dict[str, Any], bool]] = [
    ("prefix", {"time": [{"prefix": "2017-10-02"}]}, True),
    ("prefix, other region", {"source": ["aws.autoscaling"], "region": [{"prefix": "eu-"}]}, False),
    ("anything-but string", {"detail": {"state": [{"anything-but": "initializing"}]}}, True),
    ("anything-but number", {"detail": {"x-limit": [{"anything-but": 123}]}}, True),
    (
        "anything-but strings",
        {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
        True,
    ),
    ("anything-but numbers", {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}, True),
    ("anything-but prefix", {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, True),
    (
        "anything-but CloudTrail",
        {"detail-type": [{"anything-but": "AWS API Call via CloudTrail"}]},
        True,
    ),
    ("anything-but sources", {"source": [{"anything-but": ["aws.ec2", "aws.s3"]}]}, False),
    ("anything-but source prefix", {"source": [{"anything-but": {"prefix": "aws."}}]}, False),
    (
        "numeric",
        {
            "detail": {
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"numeric": ["=", 3.018e2]}],
            }
        },
        True,
    ),
    ("cidr", {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, True),
    ("exists false, present", {"detail": {"c-count": [{"exists": False}]}}, False),
    ("exists true, absent", {"detail": {"description": [{"exists": True}]}}, False),
    (
        "complex",
        {
            "time": [{"prefix": "2017-10-02"}],
            "detail": {
                "state": [{"anything-but": "initializing"}],
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"anything-but": [100, 200, 300]}],
            },
        },
        True,
    ),
    (
        "array value",
        {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"]},
        True,
    ),
]

# Lambda's "comparison operators" table: each row's example, with a value that satisfies it
# and one that does not.
LAMBDA_OPERATORS: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("null", {"UserID": [None]}, {"UserID": None}, {"UserID": "u-1"}),
    ("empty", {"LastName": [""]}, {"LastName": ""}, {"LastName": "Doe"}),
    ("equals", {"Name": ["Alice"]}, {"Name": "Alice"}, {"Name": "alice"}),
    (
        "equals ignore case",
        {"Name": [{"equals-ignore-case": "alice"}]},
        {"Name": "ALICE"},
        {"Name": "Bob"},
    ),
    (
        "and",
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Monday"},
        {"Location": "New York", "Day": "Tuesday"},
    ),
    (
        "or",
        {"PaymentType": ["Credit", "Debit"]},
        {"PaymentType": "Debit"},
        {"PaymentType": "Cash"},
    ),
    (
        "or, multiple fields",
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Location": "Paris", "Day": "Monday"},
        {"Location": "Paris", "Day": "Friday"},
    ),
    (
        "not",
        {"Weather": [{"anything-but": ["Raining"]}]},
        {"Weather": "Sunny"},
        {"Weather": "Raining"},
    ),
    ("numeric equals", {"Price": [{"numeric": ["=", 100]}]}, {"Price": 100}, {"Price": 101}),
    (
        "numeric range",
        {"Price": [{"numeric": [">", 10, "<=", 20]}]},
        {"Price": 20},
        {"Price": 10},
    ),
    ("exists", {"ProductName": [{"exists": True}]}, {"ProductName": "x"}, {"Other": 1}),
    ("does not exist", {"ProductName": [{"exists": False}]}, {"Other": 1}, {"ProductName": "x"}),
    ("begins with", {"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, {"Region": "eu-1"}),
    (
        "ends with",
        {"FileName": [{"suffix": ".png"}]},
        {"FileName": "photo.png"},
        {"FileName": "photo.jpg"},
    ),
]


def record(data: bytes | dict[str, Any], key: str = "1") -> StreamRecord:
    payload = data if isinstance(data, bytes) else json.dumps(data).encode()
    return StreamRecord(
        "shardId-000000000000",
        "49590338271490256608559692538361571095921575989136588898",
        key,
        payload,
        1545084650.987,
    )


def matches(pattern: dict[str, Any], data: bytes | dict[str, Any], key: str = "1") -> bool:
    compiled = RecordFilter.from_criteria({"Filters": [{"Pattern": json.dumps(pattern)}]})
    assert compiled is not None
    return compiled.matches(record(data, key))


@pytest.mark.parametrize(("name", "pattern", "expected"), EVENTBRIDGE_EXAMPLES)
def test_eventbridge_documented_examples(
    name: str, pattern: dict[str, Any], expected: bool
) -> None:
    assert matches({"data": pattern}, EC2_EVENT) is expected


def test_anything_but_prefix_refuses_the_excluded_prefix() -> None:
    initializing = {**EC2_EVENT, "detail": {**EC2_EVENT["detail"], "state": "initializing"}}
    pattern = {"data": {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}}
    assert not matches(pattern, initializing)


def test_exists_matches_leaf_nodes_only() -> None:
    # EventBridge's note: c-count holding an object is not a leaf, so "exists: false" matches.
    nested = {**EC2_EVENT, "detail": {"state": "running", "c-count": {"c1": 100}}}
    assert matches({"data": {"detail": {"c-count": [{"exists": False}]}}}, nested)


@pytest.mark.parametrize(("name", "pattern", "good", "bad"), LAMBDA_OPERATORS)
def test_lambda_comparison_operators(
    name: str, pattern: dict[str, Any], good: dict[str, Any], bad: dict[str, Any]
) -> None:
    assert matches({"data": pattern}, good)
    assert not matches({"data": pattern}, bad)


def test_lambdas_kinesis_example_filters_on_data() -> None:
    # Lambda's documented Kinesis record, whose base64 data decodes to this object.
    data = {"RecordNumber": "0001", "TimeStamp": "yyyy-mm-ddThh:mm:ss", "RequestCode": "AAAA"}
    pattern = {"data": {"RequestCode": ["AAAA"]}}
    assert matches(pattern, data)
    assert not matches(pattern, {**data, "RequestCode": "BBBB"})


def test_a_non_json_payload_matches_only_patterns_that_do_not_look_inside_data() -> None:
    assert matches({"partitionKey": ["1"]}, b"not json {")
    assert not matches({"partitionKey": ["2"]}, b"not json {")
    assert not matches({"data": {"RequestCode": ["AAAA"]}}, b"not json {")
    assert not matches({"data": [{"exists": False}]}, b"not json {")
    either = {"$or": [{"data": {"RequestCode": ["AAAA"]}}, {"partitionKey": ["1"]}]}
    assert matches(either, b"not json {")
    assert matches({"partitionKey": [{"prefix": "BTC"}]}, b"\xff\xfe", key="BTCUSD")


def test_record_metadata_is_matched_like_the_records_fields() -> None:
    assert matches({"kinesisSchemaVersion": ["1.0"], "partitionKey": ["1"]}, {"a": 1})
    assert matches({"approximateArrivalTimestamp": [{"numeric": [">", 1.5e9]}]}, {"a": 1})


# -- where moto's matcher differed from AWS ------------------------------------------------


def test_a_boolean_is_not_a_number() -> None:
    assert matches({"data": {"x": [1]}}, {"x": 1})
    assert not matches({"data": {"x": [1]}}, {"x": True})
    assert not matches({"data": {"x": [True]}}, {"x": 1})
    assert matches({"data": {"x": [True]}}, {"x": True})
    assert not matches({"data": {"x": [{"numeric": [">", 0]}]}}, {"x": True})


def test_fields_inside_arrays_of_objects_are_matched() -> None:
    data = {"items": [{"id": 2, "kind": "a"}, {"id": 1, "kind": "b"}]}
    assert matches({"data": {"items": {"id": [1]}}}, data)
    assert not matches({"data": {"items": {"id": [3]}}}, data)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"data": "x"}',
        '{"data": []}',
        '{"data": {"x": [{"prefx": "a"}]}}',
        '{"data": {"x": [{"numeric": [">"]}]}}',
        '{"data": {"x": [{"numeric": ["~", 1]}]}}',
        '{"data": {"x": [{"exists": "yes"}]}}',
        '{"$or": [{"a": [1]}]}',
        '{"a": [' + ",".join(['"x"'] * 1100) + "]}",
    ],
)
def test_invalid_patterns_are_refused(text: str) -> None:
    with pytest.raises(InvalidFilter):
        parse_pattern(text)


# -- end to end on the emulator ------------------------------------------------------------


def criteria(*patterns: dict[str, Any]) -> dict[str, Any]:
    return {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}


def test_records_matching_no_filter_never_reach_the_function(harness: Harness) -> None:
    stream = harness.stream()
    function = harness.function()
    btc = json.dumps({"from_currency_code": "BTC", "exchange_rate": 1})
    eth = json.dumps({"from_currency_code": "ETH", "exchange_rate": 2})
    doge = json.dumps({"from_currency_code": "DOGE", "exchange_rate": 3})
    sequences = harness.put(stream, btc, "not json", doge, eth, doge)

    uuid = harness.mapping(
        function,
        stream,
        FilterCriteria=criteria({"data": {"from_currency_code": ["BTC", "ETH"]}}),
    )

    answer = harness.clients.lambda_.get_event_source_mapping(UUID=uuid)
    assert json.loads(answer["FilterCriteria"]["Filters"][0]["Pattern"]) == {
        "data": {"from_currency_code": ["BTC", "ETH"]}
    }
    wait_for("the two matching records", lambda: sum(map(len, function.batches())) == 2)
    # Filtered-out records still move the checkpoint: the last one was filtered out.
    wait_for(
        "the checkpoint past the filtered-out tail",
        lambda: harness.poller.checkpoint(uuid, "shardId-000000000000") == sequences[-1],
    )
    assert [s for batch in function.batches() for s in batch] == [sequences[0], sequences[3]]


def test_updating_the_filters_applies_to_the_next_records(harness: Harness) -> None:
    stream = harness.stream()
    function = harness.function()
    uuid = harness.mapping(function, stream, FilterCriteria=criteria({"partitionKey": ["a"]}))
    [first] = harness.put(stream, "one", key="a")
    harness.put(stream, "two", key="b")
    wait_for("the first record", lambda: function.batches() == [[first]])

    harness.clients.lambda_.update_event_source_mapping(
        UUID=uuid, FilterCriteria=criteria({"partitionKey": ["b"]})
    )
    new_patterns = (json.dumps({"partitionKey": ["b"]}),)

    def restarted() -> bool:
        config = harness.poller.mapping(uuid)
        return bool(config and config.filter_patterns == new_patterns) and harness.poller.polling(
            uuid
        )

    # AWS applies a filter change eventually; the test waits until the new readers run.
    wait_for("the readers to restart with the new filter", restarted)
    [later_b] = harness.put(stream, "three", key="b")
    harness.put(stream, "four", key="a")

    wait_for(
        "the record for the new filter",
        lambda: later_b in [s for batch in function.batches() for s in batch],
    )
    assert [s for batch in function.batches() for s in batch] == [first, later_b]


@pytest.mark.parametrize(
    "bad",
    [
        {"Filters": [{"Pattern": "not json"}]},
        {"Filters": [{"Pattern": '{"data": {"x": [{"prefx": "a"}]}}'}]},
        {"Filters": [{"Pattern": json.dumps({"partitionKey": [str(i)]})} for i in range(6)]},
    ],
)
def test_a_bad_filter_is_refused_by_the_api(harness: Harness, bad: dict[str, Any]) -> None:
    stream = harness.stream()
    function = harness.function()

    with pytest.raises(ClientError) as refused:
        harness.clients.lambda_.create_event_source_mapping(
            FunctionName=function.name,
            EventSourceArn=stream,
            StartingPosition="LATEST",
            FilterCriteria=bad,
        )

    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert harness.clients.lambda_.list_event_source_mappings()["EventSourceMappings"] == []
