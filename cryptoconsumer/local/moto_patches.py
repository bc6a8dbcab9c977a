"""Where moto differs from AWS in ways the emulator cannot live with, patched in this process only.

Installed once per process and active only while an emulator runs (`activate`): moto's backends
are process-global, so a moto server or `mock_aws` in the same process (the test suite's) sees
moto as it ships whenever no emulator is running.

- Kinesis stream consumers (enhanced fan-out): AWS appends the registration time to a
  consumer's ARN (`STREAM_ARN/consumer/NAME:1700000000`), refuses a second consumer of the same
  name (ResourceInUseException), and DeregisterStreamConsumer by stream and name removes that
  consumer (moto keeps only it and removes all the others).
- CreateEventSourceMapping accepts a registered consumer's ARN as a Kinesis source (moto answers
  "Invalid EventSourceArn"), and, like AWS, refuses a second mapping of one function from the
  same source (ResourceConflictException); two mappings from different sources (a stream and
  its consumer) are accepted.
- GetEventSourceMapping and ListEventSourceMappings answer `StartingPositionTimestamp`, which
  moto keeps but leaves out.
- moto runs the mapped function in Docker on every PutRecords of a mapped stream; the emulator's
  poller is the event source mapping, so that is switched off.
- Every change to a mapping is announced to listeners (the poller rescans at once instead of at
  its next tick, so a deleted mapping's readers stop promptly and a new one starts promptly).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

CONSUMER_MARKER = "/consumer/"
SOURCE_KINDS = {"kinesis": "Kinesis", "sqs": "SQS", "dynamodb": "DynamoDB", "kafka": "Kafka"}

_applied = False
_active = 0
_apply_lock = threading.Lock()
_mapping_listeners: list[Callable[[], None]] = []


def on_mapping_change(listener: Callable[[], None]) -> Callable[[], None]:
    """Call `listener` after every create, update or delete of a mapping; returns an undo."""
    _mapping_listeners.append(listener)

    def remove() -> None:
        if listener in _mapping_listeners:
            _mapping_listeners.remove(listener)

    return remove


def _announce_mapping_change() -> None:
    for listener in list(_mapping_listeners):
        listener()


def stream_of_source(source_arn: str) -> str:
    """The stream a mapping source reads: the stream itself, or a consumer's stream."""
    return source_arn.split(CONSUMER_MARKER, 1)[0]


def activate() -> Callable[[], None]:
    """Install the patches (once) and switch them on until the returned callable is called."""
    global _applied, _active
    with _apply_lock:
        if not _applied:
            _patch_kinesis_consumers()
            _patch_mappings()
            _applied = True
        _active += 1
    done = threading.Event()

    def deactivate() -> None:
        global _active
        with _apply_lock:
            if not done.is_set():
                done.set()
                _active -= 1

    return deactivate


def active() -> bool:
    return _active > 0


def _patch_kinesis_consumers() -> None:
    from moto.kinesis import models
    from moto.kinesis.exceptions import ResourceInUseError

    original_init = models.Consumer.__init__

    def consumer_init(self: Any, consumer_name: str, *args: Any, **kwargs: Any) -> None:
        original_init(self, consumer_name, *args, **kwargs)
        if not active():
            return
        created: datetime = self.created
        self.consumer_arn = f"{self.consumer_arn}:{int(created.timestamp())}"

    original_register = models.KinesisBackend.register_stream_consumer

    def register(self: Any, stream_arn: str, consumer_name: str) -> Any:
        stream = self._find_stream_by_arn(stream_arn)
        names = {c.consumer_name for c in stream.consumers} if stream is not None else set()
        if active() and consumer_name in names:
            raise ResourceInUseError(
                f"Consumer {consumer_name} under stream {stream.stream_name} "
                f"under account {self.account_id} already exists."
            )
        return original_register(self, stream_arn, consumer_name)

    original_deregister = models.KinesisBackend.deregister_stream_consumer

    def deregister(self: Any, stream_arn: str, consumer_name: str, consumer_arn: str) -> None:
        if active() and stream_arn and consumer_name:
            stream = self._find_stream_by_arn(stream_arn)
            if stream is not None:
                stream.consumers = [c for c in stream.consumers if c.consumer_name != consumer_name]
            return
        original_deregister(self, stream_arn, consumer_name, consumer_arn)

    models.Consumer.__init__ = consumer_init  # type: ignore[method-assign]
    models.KinesisBackend.register_stream_consumer = register  # type: ignore[method-assign]
    models.KinesisBackend.deregister_stream_consumer = deregister  # type: ignore[method-assign]


def _find_consumer(account_id: str, region: str, consumer_arn: str) -> Any:
    from moto.kinesis.models import kinesis_backends

    backend = kinesis_backends[account_id][region]
    for stream in backend.streams.values():
        consumer = stream.get_consumer_by_arn(consumer_arn)
        if consumer is not None:
            return consumer
    return None


def _patch_mappings() -> None:
    from moto.awslambda.models import EventSourceMapping, LambdaBackend
    from moto.core.exceptions import JsonRESTError as RESTError

    def no_invocation(self: LambdaBackend, *args: Any, **kwargs: Any) -> None:
        return None

    original_create = LambdaBackend.create_event_source_mapping

    def create(self: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
        if not active():
            return original_create(self, spec)
        source = str(spec.get("EventSourceArn") or "")
        function_name = str(spec.get("FunctionName") or "")
        if source and function_name:
            function = self._lambdas.get_function_by_name_or_arn_with_qualifier(function_name)
            for existing in self._event_source_mappings.values():
                if (
                    existing.event_source_arn == source
                    and existing.function_arn == function.function_arn
                ):
                    kind = SOURCE_KINDS.get(source.split(":")[2], source.split(":")[2])
                    raise RESTError(
                        "ResourceConflictException",
                        f'An event source mapping with {kind} arn " {source} " and function '
                        f'" {function_name} " already exists. Please update or delete the '
                        f"existing mapping with UUID {existing.uuid}",
                    )
        if CONSUMER_MARKER in source and source.split(":")[2:3] == ["kinesis"]:
            if _find_consumer(self.account_id, self.region_name, source) is None:
                raise RESTError("ResourceNotFoundException", "Invalid EventSourceArn")
            function = self._lambdas.get_function_by_name_or_arn_with_qualifier(function_name)
            spec = {
                **spec,
                "RegionName": self.region_name,
                "AccountId": self.account_id,
                "FunctionArn": function.function_arn,
            }
            mapping = EventSourceMapping(spec)
            self._event_source_mappings[mapping.uuid] = mapping
        else:
            mapping = original_create(self, spec)
        _announce_mapping_change()
        return mapping

    original_update = LambdaBackend.update_event_source_mapping
    original_delete = LambdaBackend.delete_event_source_mapping

    def update(self: LambdaBackend, uuid: str, spec: dict[str, Any]) -> Any:
        mapping = original_update(self, uuid, spec)
        _announce_mapping_change()
        return mapping

    def delete(self: LambdaBackend, uuid: str) -> Any:
        mapping = original_delete(self, uuid)
        _announce_mapping_change()
        return mapping

    original_configuration = EventSourceMapping.get_configuration

    def configuration(self: EventSourceMapping) -> dict[str, Any]:
        answer = original_configuration(self)
        if active() and self.starting_position_timestamp is not None:
            answer["StartingPositionTimestamp"] = float(self.starting_position_timestamp)
        return answer

    LambdaBackend.send_kinesis_message = no_invocation  # type: ignore[method-assign]
    LambdaBackend.create_event_source_mapping = create  # type: ignore[method-assign]
    LambdaBackend.update_event_source_mapping = update  # type: ignore[method-assign]
    LambdaBackend.delete_event_source_mapping = delete  # type: ignore[method-assign]
    EventSourceMapping.get_configuration = configuration  # type: ignore[method-assign]
