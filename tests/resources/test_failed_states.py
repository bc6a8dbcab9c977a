"""States AWS reports that are not success: a Lambda function Failed (State or
LastUpdateStatus, reproduced by tests/faults.py), a mapping AWS left Disabled, a table in a
state the function cannot write to, and states still settling. None is reported as ready."""

from __future__ import annotations

import time

import pytest

from cryptoconsumer import stack
from cryptoconsumer.errors import AwsError, PlanBlockedError
from cryptoconsumer.resources.function import FunctionFailedError
from cryptoconsumer.status import read_status
from tests.resources.conftest import World

FUNCTION = "crypto_data_consumer"
BROKEN = ("InvalidZipFileException", "Lambda was unable to unzip the deployment package.")


def plan(world: World, **options: object) -> stack.Prepared:
    config = world.config(**options)
    return stack.plan_up(config, world.clients, ctx=world.context(config))


def change_of(prepared: stack.Prepared, resource: str) -> tuple[str, tuple[str, ...]]:
    (change,) = prepared.plan.for_resource(resource)  # type: ignore[arg-type]
    return change.action, change.details


def mappings(world: World) -> list[dict[str, object]]:
    return world.plain("lambda").list_event_source_mappings(FunctionName=FUNCTION)[
        "EventSourceMappings"
    ]


def function_state(world: World) -> tuple[str, str]:
    config = world.clients.lambda_.get_function(FunctionName=FUNCTION)["Configuration"]
    return config["State"], config["LastUpdateStatus"]


def test_a_function_whose_creation_failed_is_never_mapped_and_up_fails_with_the_reason(
    world: World,
) -> None:
    world.faults.broken_functions[FUNCTION] = BROKEN

    with pytest.raises(FunctionFailedError) as failed:
        world.up()

    assert str(failed.value) == (
        f"function {FUNCTION} is Failed after it was created: State Failed "
        f"(InvalidZipFileException): {BROKEN[1]}"
    )
    assert mappings(world) == []


def test_plan_and_status_say_failed_with_the_reason(world: World) -> None:
    world.faults.broken_functions[FUNCTION] = BROKEN
    with pytest.raises(FunctionFailedError):
        world.up()

    action, details = change_of(plan(world), "function")

    assert action == "update"
    assert details[0] == (
        f"State Failed (InvalidZipFileException): {BROKEN[1]}: re-apply its code and "
        "configuration to repair it"
    )
    assert change_of(plan(world), "mapping")[0] == "create"
    status = read_status(world.config(), world.clients, world.context(world.config()))
    (row,) = [r for r in status.resources if r.resource == "function"]
    assert row.state == "Failed/Successful"
    assert row.problems[0].startswith(f"State Failed (InvalidZipFileException): {BROKEN[1]}")
    assert not status.healthy


def test_up_repairs_a_failed_function_then_maps_the_stream(world: World) -> None:
    world.faults.broken_functions[FUNCTION] = BROKEN
    with pytest.raises(FunctionFailedError):
        world.up()
    del world.faults.broken_functions[FUNCTION]  # the cause is fixed: the next attempt works
    world.faults.calls.clear()

    outputs = world.up()

    assert world.faults.calls["lambda.UpdateFunctionCode"] == 1
    assert world.faults.calls["lambda.UpdateFunctionConfiguration"] == 1
    assert function_state(world) == ("Active", "Successful")
    assert [m["UUID"] for m in mappings(world)] == [outputs["mapping_uuid"]]
    assert any(m == f"repaired function {FUNCTION}: Active" for m in world.reporter.messages)
    again = plan(world)
    assert change_of(again, "function") == ("none", ())
    assert not again.plan.mutating


def test_a_repair_that_fails_again_fails_up_with_the_reason_twice(world: World) -> None:
    world.faults.broken_functions[FUNCTION] = BROKEN
    with pytest.raises(FunctionFailedError):
        world.up()

    for _ in range(2):
        with pytest.raises(FunctionFailedError) as failed:
            world.up()
        assert str(failed.value) == (
            f"function {FUNCTION} is Failed after it got its code: State Failed "
            f"(InvalidZipFileException): {BROKEN[1]}; LastUpdateStatus Failed "
            f"(InvalidZipFileException): {BROKEN[1]}"
        )
        assert mappings(world) == []


def test_a_failed_update_of_a_mapped_function_fails_up_and_is_repaired_next_time(
    world: World,
) -> None:
    world.up()
    world.faults.broken_functions[FUNCTION] = ("InternalError", "An internal error occurred.")

    with pytest.raises(FunctionFailedError, match="Failed after it got its configuration"):
        world.up(memory=512)

    assert function_state(world) == ("Active", "Failed")
    action, details = change_of(plan(world, memory=512), "function")
    assert action == "update"
    assert details[0].startswith("LastUpdateStatus Failed (InternalError): An internal error")
    del world.faults.broken_functions[FUNCTION]

    world.up(memory=512)

    assert function_state(world) == ("Active", "Successful")


def test_a_mapping_aws_leaves_disabled_is_a_failure_with_its_reason(world: World) -> None:
    reason = "PROBLEM: Function call failed"
    world.faults.disabled_mappings[FUNCTION] = reason

    with pytest.raises(AwsError) as failed:
        world.up()

    assert failed.value.code == "MappingNotEnabled"
    assert str(failed.value).endswith(
        f"is Disabled after it was created: StateTransitionReason: {reason}"
    )
    action, details = change_of(plan(world), "mapping")
    assert action == "update"
    assert details == (
        "state: Disabled -> Enabled",
        f"disabled by AWS: StateTransitionReason: {reason}",
    )
    del world.faults.disabled_mappings[FUNCTION]

    world.up()

    assert [m["State"] for m in mappings(world)] == ["Enabled"]


@pytest.mark.parametrize("status", ["INACCESSIBLE_ENCRYPTION_CREDENTIALS", "ARCHIVED"])
def test_a_table_the_function_cannot_write_to_blocks_the_plan(world: World, status: str) -> None:
    world.up()
    world.faults.table_status["crypto_intraday"] = status

    with pytest.raises(PlanBlockedError, match=f"table crypto_intraday is {status}, not ACTIVE"):
        plan(world)


def test_up_waits_for_what_is_still_settling_instead_of_saying_up_to_date(world: World) -> None:
    world.up()
    world.faults._function_pending_until[FUNCTION] = time.monotonic() + 0.3

    prepared = plan(world)

    assert not prepared.plan.mutating
    assert prepared.plan.settling == ("function",)
    assert change_of(prepared, "function") == (
        "none",
        ("Pending/Successful: `up` waits until it is ready",),
    )
    stack.execute(prepared)
    assert "waiting for function crypto_data_consumer to become Active" in world.reporter.messages
    assert function_state(world) == ("Active", "Successful")
