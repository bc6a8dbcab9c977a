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
- CreateEventSourceMapping and UpdateEventSourceMapping check FilterCriteria as Lambda does
  (at most 5 filters, the default quota; each pattern valid JSON in the event-pattern grammar,
  at most 4,096 characters) and refuse a bad one with InvalidParameterValueException; moto
  stored anything.
- GetEventSourceMapping and ListEventSourceMappings answer `StartingPositionTimestamp`, which
  moto keeps but leaves out.
- Invoke runs the function through the poller's runner (`invoke.Invoker`) instead of moto's
  Docker or canned answers, once the pipeline registers one (`set_invoker`).
- moto runs the mapped function in Docker on every PutRecords of a mapped stream; the emulator's
  poller is the event source mapping, so that is switched off.
- Every change to a mapping or a function is announced to listeners (the poller rescans at once
  instead of at its next tick, so a deleted mapping's readers stop promptly, a new one starts
  promptly and a function's new code or settings reach its next invocation), and
  every PutRecord(s) to a stream wakes its idle readers, which then read it with GetRecords like
  any client (a wake-up, not a delivery: no record skips the API).
- Resharding (SplitShard, MergeShards, UpdateShardCount): AWS closes the parent shards, keeps
  their records in them and sends every later put to an open child; once a reader is past a
  closed shard's last record, GetRecords answers no NextShardIterator. moto routes a put to the
  first shard whose hash range holds the key, closed or not (so a split parent keeps receiving
  every record and its children none), copies the parents' records into the children (a merge
  leaves them in the parents too: each record twice), and never ends a closed shard's
  iterators. The patched stream puts only to open shards (hash ranges inclusive, as AWS's),
  leaves the records where they were put, ends a closed shard's iterators, and closes a shard
  only between two puts, so no record lands in a shard its reader has already finished.
- Cost, not behaviour: moto's Kinesis shard finds its newest sequence number by copying every key
  (`list(records)[-1]`, on every put) and answers GetRecords by scanning the shard from its first
  record, so a put or a read costs O(records in the shard) and 60 s at 2,000 records/s grinds to a
  halt. The patched shard keeps moto's data structure and answers (same sequence numbers, same
  records, same iterators) in O(1) per record; puts to one shard are serialised, since moto's own
  put is "not safe for concurrency" under the threaded server. moto's dispatcher lists its
  package directory on every request (`list_of_moto_modules`); that list is computed once.
  moto's SSM imports all of moto's EC2 at start-up, which parses every region's instance type
  offerings (~100 MB resident) for the one SSM call that reads EC2 (SendCommand by instance
  tags); the emulator's SSM (the stack's recorded settings) imports EC2 on that call instead.
  moto lists each service's regions through a boto3 session of its own, which parses and keeps
  the whole service model (and the endpoints file) once more just to read the endpoint prefix;
  that session reads through the emulator's one botocore loader (`shared_loader`), which the
  emulator's clients use too, so each file is parsed and kept once.
  A DynamoDB item re-sums the sizes of all its attributes on each attribute it is built with
  (O(attributes^2) per write); the patched item sums them once and refuses the same items
  (over moto's 405,000-byte limit, ItemSizeTooLarge).
- CreateBucket tags the bucket with `CreateBucketConfiguration.Tags`, as S3 does; moto ignores
  them (a crash right after the create would otherwise leave an untagged bucket).
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

CONSUMER_MARKER = "/consumer/"
SOURCE_KINDS = {"kinesis": "Kinesis", "sqs": "SQS", "dynamodb": "DynamoDB", "kafka": "Kafka"}

_applied = False
_active = 0
_apply_lock = threading.Lock()
_mapping_listeners: list[Callable[[], None]] = []
_invoker: list[Any] = []
_records_put = threading.Condition()
_put_generation: dict[str, int] = {}


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


def set_invoker(invoker: Any) -> Callable[[], None]:
    """Answer Invoke with `invoker(function_arn, body, headers, response_headers) -> bytes`
    (raising `invoke.InvokeRefused`) until the returned callable is called."""
    _invoker.append(invoker)

    def remove() -> None:
        if invoker in _invoker:
            _invoker.remove(invoker)

    return remove


def put_generation(stream_arn: str) -> int:
    """How many PutRecord(s) calls the stream has answered, for `wait_for_records`."""
    with _records_put:
        return _put_generation.get(stream_arn, 0)


def wait_for_records(stream_arn: str, since: int, seconds: float) -> None:
    """Wait until the stream answers a put after generation `since`, or `seconds` pass."""
    with _records_put:
        _records_put.wait_for(lambda: _put_generation.get(stream_arn, 0) != since, seconds)


def _records_were_put(stream_arn: str) -> None:
    with _records_put:
        _put_generation[stream_arn] = _put_generation.get(stream_arn, 0) + 1
        _records_put.notify_all()


def stream_of_source(source_arn: str) -> str:
    """The stream a mapping source reads: the stream itself, or a consumer's stream."""
    return source_arn.split(CONSUMER_MARKER, 1)[0]


def activate() -> Callable[[], None]:
    """Install the patches (once) and switch them on until the returned callable is called."""
    global _applied, _active
    with _apply_lock:
        if not _applied:
            _patch_kinesis_consumers()
            _patch_kinesis_shards()
            _patch_kinesis_resharding()
            _patch_dispatcher()
            _patch_dynamodb_items()
            _patch_mappings()
            patch_bucket_tags_at_create(active)
            _import_ssm_without_ec2()
            _patch_backend_session()
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


def _patch_kinesis_shards() -> None:
    from moto.kinesis import models

    shard_class = models.Shard
    original_put = shard_class.put_record
    original_get = shard_class.get_records
    original_min = shard_class.get_min_sequence_number
    original_max = shard_class.get_max_sequence_number
    locks: dict[int, threading.Lock] = {}
    locks_lock = threading.Lock()

    def lock_of(shard: Any) -> threading.Lock:
        with locks_lock:
            return locks.setdefault(id(shard), threading.Lock())

    def newest(self: Any) -> int:
        if not active():
            return int(original_max(self))
        # dicts keep insertion order and moto inserts increasing numbers: the last key.
        return int(next(reversed(self.records))) if self.records else 0

    def oldest(self: Any) -> int:
        if not active():
            return int(original_min(self))
        return int(next(iter(self.records))) if self.records else 0

    def put(self: Any, partition_key: str, data: str, explicit_hash_key: str) -> str:
        if not active():
            return str(original_put(self, partition_key, data, explicit_hash_key))
        with lock_of(self):
            sequence_number = newest(self) + 1
            self.records[sequence_number] = models.Record(
                partition_key, data, sequence_number, explicit_hash_key
            )
        return str(sequence_number)

    def get(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        if not active():
            return original_get(self, last_sequence_id, limit)  # type: ignore[no-any-return]
        # The same answer as moto's scan: records after last_sequence_id, in order, at most
        # `limit`; moto numbers a shard's records 1, 2, 3, ... with no gaps.
        last = int(last_sequence_id)
        records = self.records
        newest_number = newest(self)
        number = max(last + 1, oldest(self))
        results = []
        while number <= newest_number and (limit is None or len(results) < limit):
            record = records.get(number)
            if record is None:  # a gap moto never makes: fall back to moto's own scan
                return original_get(self, last_sequence_id, limit)  # type: ignore[no-any-return]
            results.append(record)
            number += 1
        if not results:
            return results, last, 0
        behind = records[newest_number].created_at - results[-1].created_at
        return results, results[-1].sequence_number, int(behind * 1000)

    shard_class.put_record = put  # type: ignore[method-assign]
    shard_class.get_records = get  # type: ignore[method-assign]
    shard_class.get_min_sequence_number = oldest  # type: ignore[method-assign]
    shard_class.get_max_sequence_number = newest  # type: ignore[method-assign]

    backend_class = models.KinesisBackend
    original_put_records = backend_class.put_records
    original_put_record = backend_class.put_record

    def put_records(self: Any, stream_arn: str, stream_name: str, records: Any) -> Any:
        answer = original_put_records(self, stream_arn, stream_name, records)
        if active():
            stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
            _records_were_put(stream.arn)
        return answer

    def put_record(self: Any, stream_arn: str, stream_name: str, *args: Any) -> Any:
        answer = original_put_record(self, stream_arn, stream_name, *args)
        if active():
            stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
            _records_were_put(stream.arn)
        return answer

    backend_class.put_records = put_records  # type: ignore[method-assign]
    backend_class.put_record = put_record  # type: ignore[method-assign]


def _patch_kinesis_resharding() -> None:
    from moto.kinesis import models
    from moto.kinesis.utils import decompose_shard_iterator

    stream_class = models.Stream
    original_for_key = stream_class.get_shard_for_key
    original_put = stream_class.put_record
    original_split = stream_class.split_shard
    original_merge = stream_class.merge_shards
    original_update = stream_class.update_shard_count
    locks: dict[int, threading.RLock] = {}
    locks_lock = threading.Lock()

    def lock_of(stream: Any) -> threading.RLock:
        with locks_lock:
            return locks.setdefault(id(stream), threading.RLock())

    def for_key(self: Any, partition_key: str, explicit_hash_key: str) -> Any:
        if not active():
            return original_for_key(self, partition_key, explicit_hash_key)
        # moto's own checks of the key, then AWS's routing: open shards, inclusive ranges.
        original_for_key(self, partition_key, explicit_hash_key)
        if explicit_hash_key:
            key = int(explicit_hash_key)
        else:
            key = int(models.md5_hash(partition_key.encode("utf-8")).hexdigest(), 16)
        for shard in self.shards.values():
            if shard.is_open and shard.starting_hash <= key <= shard.ending_hash:
                return shard
        return None

    def put(self: Any, partition_key: str, explicit_hash_key: str, data: str) -> Any:
        with lock_of(self):
            return original_put(self, partition_key, explicit_hash_key, data)

    @contextmanager
    def records_kept(stream: Any, *parent_ids: str) -> Iterator[None]:
        # moto's split and merge copy the parents' records into the children: hide them.
        parents = [stream.shards[shard_id] for shard_id in parent_ids if shard_id in stream.shards]
        kept = [parent.records for parent in parents]
        for parent in parents:
            parent.records = type(parent.records)()
        try:
            yield
        finally:
            for parent, records in zip(parents, kept, strict=True):
                parent.records = records

    def split(self: Any, shard_to_split: str, new_starting_hash_key: str) -> None:
        if not active():
            return original_split(self, shard_to_split, new_starting_hash_key)
        with lock_of(self), records_kept(self, shard_to_split):
            return original_split(self, shard_to_split, new_starting_hash_key)

    def merge(self: Any, shard_to_merge: str, adjacent_shard_to_merge: str) -> None:
        if not active():
            return original_merge(self, shard_to_merge, adjacent_shard_to_merge)
        with lock_of(self), records_kept(self, shard_to_merge, adjacent_shard_to_merge):
            return original_merge(self, shard_to_merge, adjacent_shard_to_merge)

    def update(self: Any, target_shard_count: int) -> Any:
        with lock_of(self):
            return original_update(self, target_shard_count)

    stream_class.get_shard_for_key = for_key  # type: ignore[method-assign]
    stream_class.put_record = put  # type: ignore[method-assign]
    stream_class.split_shard = split  # type: ignore[method-assign]
    stream_class.merge_shards = merge  # type: ignore[method-assign]
    stream_class.update_shard_count = update  # type: ignore[method-assign]

    backend_class = models.KinesisBackend
    original_get_records = backend_class.get_records

    def get_records(self: Any, stream_arn: str | None, shard_iterator: str, limit: Any) -> Any:
        next_iterator, records, behind = original_get_records(
            self, stream_arn, shard_iterator, limit
        )
        if active():
            stream_name, shard_id, last = decompose_shard_iterator(next_iterator)
            stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
            shard = stream.get_shard(shard_id)
            # Closed first, then its newest number: no put reaches a shard once it is closed.
            if not shard.is_open and int(last) >= shard.get_max_sequence_number():
                next_iterator = None
        return next_iterator, records, behind

    backend_class.get_records = get_records  # type: ignore[method-assign]


_shared_loader: list[Any] = []
_shared_loader_lock = threading.Lock()


def shared_loader() -> Any:
    """One botocore data loader for every emulator-side session (the poller's and moto's):
    each session would otherwise parse and keep its own copy of every service model it reads
    (megabytes each), while a loader caches what it has read and only ever reads files."""
    from botocore.loaders import create_loader

    with _shared_loader_lock:
        if not _shared_loader:
            _shared_loader.append(create_loader())
        return _shared_loader[0]


def session_on_shared_loader() -> Any:
    """A botocore session whose data comes from `shared_loader`."""
    import botocore.session

    core = botocore.session.get_session()
    core.register_component("data_loader", shared_loader())
    return core


def _patch_backend_session() -> None:
    import boto3
    from moto.core.base_backend import AccountSpecificBackend

    original = AccountSpecificBackend.get_session
    sessions: list[Any] = []
    sessions_lock = threading.Lock()

    def get_session(cls: type) -> Any:
        if not active():
            return original()
        with sessions_lock:
            if not sessions:
                sessions.append(boto3.Session(botocore_session=session_on_shared_loader()))
            return sessions[0]

    AccountSpecificBackend.get_session = classmethod(get_session)  # type: ignore[method-assign,assignment]


class _Ec2BackendsOnFirstUse:
    """Stands for moto.ec2's `ec2_backends` in moto's SSM: imports moto.ec2 when indexed."""

    def __getitem__(self, account_id: str) -> Any:
        from moto.ec2 import ec2_backends

        return ec2_backends[account_id]


def _import_ssm_without_ec2() -> None:
    if "moto.ssm.models" in sys.modules or "moto.ec2" in sys.modules:
        return  # already paid for (or SSM already bound to the real thing)
    # Only for the import of moto.ssm.models, which does `from moto.ec2 import ec2_backends`;
    # any later import of moto.ec2 gets the real package.
    stand_in = types.ModuleType("moto.ec2")
    stand_in.ec2_backends = _Ec2BackendsOnFirstUse()  # type: ignore[attr-defined]
    sys.modules["moto.ec2"] = stand_in
    try:
        import moto.ssm.models  # noqa: F401
    finally:
        if sys.modules.get("moto.ec2") is stand_in:
            del sys.modules["moto.ec2"]


def _patch_dispatcher() -> None:
    from moto import backends

    original = backends.list_of_moto_modules
    cached: list[str] = []

    def list_of_moto_modules() -> Any:
        if not active():
            return original()
        if not cached:
            cached.extend(original())
        return cached

    backends.list_of_moto_modules = list_of_moto_modules


def _patch_dynamodb_items() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    item_class = dynamo_type.Item
    original_init = item_class.__init__
    limit = 405000  # moto's LimitedSizeDict limit (AWS's is 400 KB, measured as ~409-410 KB)

    def init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        if not active():
            original_init(self, hash_key, range_key, attrs)
            return
        self.hash_key = hash_key
        self.range_key = range_key
        values = {key: dynamo_type.DynamoType(value) for key, value in attrs.items()}
        # What LimitedSizeDict checks on each insert, once: every prefix is smaller than the
        # whole, so the whole is over the limit exactly when some insert would have been.
        size = sum(bytesize(key) + value.size() for key, value in values.items())
        if size > limit:
            raise ItemSizeTooLarge
        self.attrs = dynamo_type.LimitedSizeDict.__new__(dynamo_type.LimitedSizeDict)
        dict.update(self.attrs, values)

    item_class.__init__ = init  # type: ignore[method-assign]


def _announcing(method: Callable[..., Any]) -> Callable[..., Any]:
    def announced(*args: Any, **kwargs: Any) -> Any:
        answer = method(*args, **kwargs)
        if active():
            _announce_mapping_change()
        return answer

    return announced


def _check_filter_criteria(criteria: Any) -> None:
    from moto.core.exceptions import JsonRESTError

    from cryptoconsumer.local.filters import MAX_FILTERS, InvalidFilter, parse_pattern

    if criteria is None:
        return
    try:
        if not isinstance(criteria, dict):
            raise InvalidFilter("FilterCriteria must be an object")
        # {} or {"Filters": []} clears a mapping's filters.
        filters = criteria.get("Filters") or []
        if not isinstance(filters, list):
            raise InvalidFilter("Filters must be a list")
        if len(filters) > MAX_FILTERS:
            raise InvalidFilter(f"at most {MAX_FILTERS} filters per event source mapping")
        for entry in filters:
            parse_pattern(str((entry or {}).get("Pattern", "")))
    except InvalidFilter as err:
        raise JsonRESTError(
            "InvalidParameterValueException", f"Invalid filter pattern definition: {err}"
        ) from None


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
        _check_filter_criteria(spec.get("FilterCriteria"))
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
        if active() and "FilterCriteria" in spec:
            _check_filter_criteria(spec.get("FilterCriteria"))
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

    original_invoke = LambdaBackend.invoke

    def invoke(
        self: LambdaBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> Any:
        if not active() or not _invoker:
            return original_invoke(self, function_name, qualifier, body, headers, response_headers)
        from cryptoconsumer.local.invoke import InvokeRefused

        function = self.get_function(function_name, qualifier)
        try:
            payload = _invoker[-1](function.function_arn, body, headers, response_headers)
        except InvokeRefused as refused:
            error = RESTError(refused.code, refused.message)
            error.code = refused.status
            raise error from None
        response_headers["Content-Length"] = str(len(payload))
        return payload

    for name in (
        "create_function",
        "update_function_code",
        "update_function_configuration",
        "delete_function",
    ):
        setattr(LambdaBackend, name, _announcing(getattr(LambdaBackend, name)))

    LambdaBackend.invoke = invoke  # type: ignore[method-assign]
    LambdaBackend.send_kinesis_message = no_invocation  # type: ignore[method-assign]
    LambdaBackend.create_event_source_mapping = create  # type: ignore[method-assign]
    LambdaBackend.update_event_source_mapping = update  # type: ignore[method-assign]
    LambdaBackend.delete_event_source_mapping = delete  # type: ignore[method-assign]
    EventSourceMapping.get_configuration = configuration  # type: ignore[method-assign]


def tags_of_create_bucket(body: bytes | str | None) -> dict[str, str]:
    """The tags a CreateBucket request's XML body carries (CreateBucketConfiguration.Tags)."""
    import xmltodict

    if not body:
        return {}
    try:
        parsed = xmltodict.parse(body)
    except Exception:
        return {}
    configuration = (parsed or {}).get("CreateBucketConfiguration") or {}
    tags = (configuration.get("Tags") or {}).get("Tag") or []
    if isinstance(tags, dict):
        tags = [tags]
    return {str(tag.get("Key")): str(tag.get("Value") or "") for tag in tags if tag.get("Key")}


def patch_bucket_tags_at_create(enabled: Callable[[], bool]) -> None:
    """CreateBucket applies the tags of its body while `enabled()`; installed once per call."""
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_put

    def put(self: Any, request: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        answer = original(self, request, bucket_name, querystring)
        if enabled() and not querystring:
            tags = tags_of_create_bucket(self.body)
            if tags:
                self.backend.put_bucket_tagging(bucket_name, tags)
        return answer

    S3Response._bucket_response_put = put  # type: ignore[method-assign]
