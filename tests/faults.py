"""Fault injection: make moto behave like real AWS where it does not (shared/AWS-BEHAVIOUR.md).

`AwsLike(session)` registers botocore event hooks on a boto3 Session; every client made from
that session then sees eventual consistency and state machines:

- IAM propagation: CreateFunction / CreateEventSourceMapping refused for a while after the
  role or its policy changed (InvalidParameterValueException, AWS's exact messages).
- Lambda: State Pending after CreateFunction, LastUpdateStatus InProgress after an update;
  updates meanwhile answer ResourceConflictException (409).
- DynamoDB: TableStatus CREATING after CreateTable (UpdateTable/DeleteTable ->
  ResourceInUseException, UpdateContinuousBackups -> ContinuousBackupsUnavailableException),
  DELETING after DeleteTable (CreateTable of the name -> ResourceInUseException).
- Event source mappings: Creating/Updating/Deleting; Update/Delete meanwhile ->
  ResourceInUseException; a second Create for the same function + source ->
  ResourceConflictException naming the existing UUID.
- SQS: CreateQueue within the reuse window after DeleteQueue -> QueueDeletedRecently.
- Throttling: the first N sends of an operation answer a throttling error at the HTTP layer,
  so botocore's own retry handler must absorb them; `server_errors` the same with HTTP 500.
- Failures: `failing["lambda.DeleteFunction"] = N` makes the next N calls answer HTTP 500 (as
  LocalStack answered DeleteFunction), after botocore's retries, so the call fails.
- IAM policy documents come URL-encoded (GetPolicyVersion, GetRolePolicy, GetRole), as AWS
  sends them; moto sends plain JSON. botocore decodes either.
- Failed functions: while `broken_functions[name] = (code, reason)` is set, CreateFunction ends
  in State Failed and UpdateFunctionCode / UpdateFunctionConfiguration in LastUpdateStatus
  Failed, with that StateReasonCode / StateReason; a function whose creation failed stays
  Failed. Remove the entry (the cause is fixed) and the next update repairs it: Active.
- Mappings disabled by AWS: while `disabled_mappings[function_name] = reason` is set, a
  mapping of that function created or updated ends Disabled with that StateTransitionReason.
- Encrypted filter criteria: a mapping with a `KMSKeyArn` answers no `FilterCriteria` in
  ListEventSourceMappings (GetEventSourceMapping answers them, decrypted); while
  `undecryptable_filters` is set, GetEventSourceMapping answers `FilterCriteriaError` instead
  (the caller may not kms:Decrypt with the key), as AWS does.
- Tables in a state AWS can report but moto never does: `table_status[name] = "ARCHIVED"`.
- CloudFormation: DeleteStack answers at once and the stack is DELETE_IN_PROGRESS (its
  resources too) for a while, then gone (DescribeStacks by ID: DELETE_COMPLETE; by name:
  ValidationError "does not exist"); or, `stack_delete_failures` times, DELETE_FAILED with a
  reason on the stack and on its role, everything still there. moto deletes synchronously.
- S3 bucket names are global: `foreign_buckets` (HeadBucket 403, CreateBucket
  BucketAlreadyExists) and `buckets_taken_at_create` (only the create refused).
- S3 CreateBucket tags the bucket with `CreateBucketConfiguration.Tags` (moto ignores them):
  `bucket_tags_at_create()`, installed for the whole test process by tests/conftest.py, since
  the moto server the CLI's subprocesses talk to runs in it.

- CloudWatch: PutMetricAlarm overwrites an existing alarm but ignores its Tags (tags apply only
  at creation; moto merges them).
- SNS: an e-mail subscription stays pending ("pending confirmation" from Subscribe,
  "PendingConfirmation" in ListSubscriptionsByTopic) until `confirm_email(address)`, and
  Unsubscribe of a pending one answers InvalidParameter (moto confirms at once); CreateTopic of
  an existing name with other attributes answers InvalidParameter (moto returns the topic).

Durations are seconds of wall time, short by default so tests stay fast.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}


def error(code: str, message: str, status: int = 400) -> tuple[_Http, dict[str, Any]]:
    return _Http(status), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


@dataclass
class Timings:
    iam_propagation: float = 0.4
    function_pending: float = 0.3
    function_updating: float = 0.3
    table_creating: float = 0.3
    table_deleting: float = 0.3
    mapping_transition: float = 0.3
    queue_name_reuse: float = 0.5
    stack_deleting: float = 0.3


@dataclass
class AwsLike:
    """Hooks that reproduce real AWS behaviour on every client of one session."""

    session: Any
    timings: Timings = field(default_factory=Timings)
    throttle: dict[str, int] = field(default_factory=dict)  # "service.Operation" -> first N sends
    server_errors: dict[str, int] = field(default_factory=dict)  # same, HTTP 500 (retried)
    calls: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    sends: Counter[str] = field(default_factory=Counter)
    # Where the session's clients go (a moto server), for the hook's own look-ups.
    endpoint_url: str | None = None
    failing: dict[str, int] = field(default_factory=dict)  # "service.Operation" -> next N calls
    undecryptable_filters: bool = False
    broken_functions: dict[str, tuple[str, str]] = field(default_factory=dict)
    disabled_mappings: dict[str, str] = field(default_factory=dict)  # function name -> reason
    table_status: dict[str, str] = field(default_factory=dict)  # table name -> TableStatus
    # How many DeleteStack calls end DELETE_FAILED, and why (AWS's words for a role in use).
    stack_delete_failures: int = 0
    stack_delete_reason: str = (
        "Cannot delete entity, must detach all policies first. (Service: Iam, Status Code: 409)"
    )
    # S3 names are global: buckets another account owns. HeadBucket answers 403 and
    # CreateBucket BucketAlreadyExists; `buckets_taken_at_create` only the latter (taken
    # between the read and the create).
    foreign_buckets: set[str] = field(default_factory=set)
    buckets_taken_at_create: set[str] = field(default_factory=set)

    # (topic ARN, address) of e-mail subscriptions nobody has confirmed by clicking the link
    pending_emails: set[tuple[str, str]] = field(default_factory=set)

    def confirm_email(self, address: str) -> None:
        """The address owner clicked the link in the mail."""
        with self._lock:
            self.pending_emails = {p for p in self.pending_emails if p[1] != address}

    def __post_init__(self) -> None:
        # Re-entrant: the duplicate-mapping check calls AWS from inside a hook.
        self._lock = threading.RLock()
        self._queue_name_of_last_delete = ""
        self._role_changed_at = 0.0
        self._function_pending_until: dict[str, float] = {}
        self._function_updating_until: dict[str, float] = {}
        self._table_creating_until: dict[str, float] = {}
        self._table_deleting_until: dict[str, tuple[float, dict[str, Any]]] = {}
        self._mapping_state: dict[str, tuple[str, float, dict[str, Any]]] = {}
        self._queue_deleted_at: dict[str, float] = {}
        # name -> (when the last transition ends, failure before it, failure after it)
        self._function_failure: dict[str, tuple[float, _Failure | None, _Failure | None]] = {}
        self._mapping_disabled: dict[str, str] = {}  # UUID -> StateTransitionReason
        # stack ID -> (when DeleteStack ends, whether it fails)
        self._stack_deleting: dict[str, tuple[float, bool]] = {}
        events = self.session.events
        events.register("before-parse.iam", self._url_encode_policies)
        events.register("before-parameter-build", self._keep_params)
        events.register("before-call", self._before_call)
        events.register("after-call", self._after_call)
        # First, so that moto's own in-process stub does not answer before it.
        events.register_first("before-send", self._before_send)

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _op(model: Any) -> tuple[str, str]:
        return model.service_model.service_name, model.name

    def _refuse(self, key: str, code: str, message: str, status: int = 400) -> Any:
        self.refusals[f"{key}:{code}"] += 1
        return error(code, message, status)

    # -- throttling at the HTTP layer, inside botocore's retry loop ---------------------------
    def _before_send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        # JSON protocols name the operation in a header; REST ones only in the event's name.
        operation = target.rsplit(".", 1)[-1] or event_name.rsplit(".", 1)[-1]
        for wanted, count in self.server_errors.items():
            if operation != wanted.split(".")[1]:
                continue
            with self._lock:
                self.sends[wanted] += 1
                if self.sends[wanted] > count:
                    break
                self.refusals[f"{wanted}:HTTP500"] += 1
            body = json.dumps({"__type": "ServiceException", "message": "internal error"})
            return AWSResponse(
                request.url, 500, {"x-amzn-ErrorType": "ServiceException"}, _Raw(body.encode())
            )
        for wanted, count in self.throttle.items():
            if operation != wanted.split(".")[1]:
                continue
            with self._lock:
                self.sends[wanted] += 1
                if self.sends[wanted] > count:
                    return None
                self.refusals[f"{wanted}:ThrottlingException"] += 1
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
            return AWSResponse(
                request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, _Raw(body.encode())
            )
        return None

    # -- refusals and fabricated transitional states ------------------------------------------
    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # before-call sees the serialised request; keep the API parameters for it.
        context["api_params"] = dict(params)

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        params = context.get("api_params", {})
        service, operation = self._op(model)
        key = f"{service}.{operation}"
        now = time.monotonic()
        with self._lock:
            self.calls[key] += 1
            if self.failing.get(key, 0) > 0:
                self.failing[key] -= 1
                return self._refuse(
                    key,
                    INTERNAL_ERRORS.get(service, "InternalFailure"),
                    "We encountered an internal error. Please try again.",
                    500,
                )
            if service == "cloudformation":
                return self._cloudformation_before(key, params, context, now)
            if service == "s3":
                bucket = str(params.get("Bucket", ""))
                if key == "s3.HeadBucket" and bucket in self.foreign_buckets:
                    return self._refuse(key, "403", "Forbidden", 403)
                if key == "s3.CreateBucket" and bucket in (
                    self.foreign_buckets | self.buckets_taken_at_create
                ):
                    return self._refuse(
                        key,
                        "BucketAlreadyExists",
                        "The requested bucket name is not available. The bucket namespace is "
                        "shared by all users of the system. Please select a different name "
                        "and try again.",
                        409,
                    )
            role_fresh = now - self._role_changed_at < self.timings.iam_propagation
            if key == "lambda.CreateFunction" and role_fresh:
                return self._refuse(
                    key,
                    "InvalidParameterValueException",
                    "The role defined for the function cannot be assumed by Lambda.",
                )
            if key == "lambda.CreateEventSourceMapping":
                if role_fresh:
                    return self._refuse(
                        key,
                        "InvalidParameterValueException",
                        f"Cannot access stream {params.get('EventSourceArn')}. Please ensure "
                        "the role can perform the GetRecords, GetShardIterator, DescribeStream, "
                        "and ListShards Actions on your stream in IAM.",
                    )
                existing = self._existing_mapping(params)
                if existing:
                    return self._refuse(
                        key,
                        "ResourceConflictException",
                        f'An event source mapping with Kinesis arn " '
                        f'{params["EventSourceArn"]} " and function " {params["FunctionName"]} '
                        f'" already exists. Please update or delete the existing mapping with '
                        f"UUID {existing}",
                        409,
                    )
            if key in ("lambda.UpdateFunctionCode", "lambda.UpdateFunctionConfiguration"):
                name = params["FunctionName"]
                if now < max(
                    self._function_pending_until.get(name, 0),
                    self._function_updating_until.get(name, 0),
                ):
                    return self._refuse(
                        key,
                        "ResourceConflictException",
                        "The operation cannot be performed at this time. An update is in "
                        f"progress for resource: {name}",
                        409,
                    )
            if key in ("lambda.UpdateEventSourceMapping", "lambda.DeleteEventSourceMapping"):
                state = self._mapping_state.get(params["UUID"])
                if state and state[0] in ("Creating", "Updating") and now < state[1]:
                    return self._refuse(
                        key,
                        "ResourceInUseException",
                        "Cannot update the event source mapping because it is in use.",
                    )
            if key == "lambda.GetEventSourceMapping":
                state = self._mapping_state.get(params["UUID"])
                if state and state[0] == "Deleting" and now < state[1]:
                    return _Http(200), {**state[2], "State": "Deleting"}
            if key == "dynamodb.CreateTable":
                deleting = self._table_deleting_until.get(params["TableName"])
                if deleting and now < deleting[0]:
                    return self._refuse(
                        key,
                        "ResourceInUseException",
                        f"Table already exists: {params['TableName']}",
                    )
            if key in ("dynamodb.UpdateTable", "dynamodb.DeleteTable"):
                if now < self._table_creating_until.get(params["TableName"], 0):
                    return self._refuse(
                        key,
                        "ResourceInUseException",
                        f"Attempt to change a resource which is still in use: "
                        f"Table is being created: {params['TableName']}",
                    )
            if key == "dynamodb.UpdateContinuousBackups":
                if now < self._table_creating_until.get(params["TableName"], 0):
                    return self._refuse(
                        key,
                        "ContinuousBackupsUnavailableException",
                        "Backups are being enabled for the table",
                    )
            if key == "dynamodb.DescribeTable":
                deleting = self._table_deleting_until.get(params["TableName"])
                if deleting and now < deleting[0]:
                    return _Http(200), {"Table": {**deleting[1], "TableStatus": "DELETING"}}
            if key == "sns.Unsubscribe" and params.get("SubscriptionArn") in (
                "PendingConfirmation",
                "pending confirmation",
            ):
                return self._refuse(key, "InvalidParameter", "Invalid parameter: SubscriptionArn")
            if key == "sns.CreateTopic" and self._topic_differs(params):
                return self._refuse(
                    key,
                    "InvalidParameter",
                    "Invalid parameter: Attributes Reason: Topic already exists with different "
                    "attributes",
                )
            if key == "sqs.CreateQueue":
                deleted = self._queue_deleted_at.get(params["QueueName"])
                if deleted is not None and now - deleted < self.timings.queue_name_reuse:
                    return self._refuse(
                        key,
                        "AWS.SimpleQueueService.QueueDeletedRecently",
                        "You must wait 60 seconds after deleting a queue before you can create "
                        "another with the same name.",
                    )
        return None

    def _plain(self, service: str) -> Any:
        import boto3

        return boto3.Session(region_name=self.session.region_name).client(
            service, region_name=self.session.region_name, endpoint_url=self.endpoint_url
        )

    def _topic_differs(self, params: dict[str, Any]) -> bool:
        sns = self._plain("sns")
        for topic in sns.list_topics().get("Topics", []):
            if topic["TopicArn"].rsplit(":", 1)[-1] == params["Name"]:
                found = sns.get_topic_attributes(TopicArn=topic["TopicArn"])["Attributes"]
                wanted = params.get("Attributes", {})
                return any(found.get(name, "") != value for name, value in wanted.items())
        return False

    def untag_existing_alarm(self, params: dict[str, Any], **_: Any) -> None:
        """PutMetricAlarm on an existing alarm: AWS ignores Tags (parameter build)."""
        if "Tags" not in params:
            return
        found = self._plain("cloudwatch").describe_alarms(AlarmNames=[params["AlarmName"]])
        if found.get("MetricAlarms"):
            del params["Tags"]

    def _existing_mapping(self, params: dict[str, Any]) -> str | None:
        client = self.session.client(
            "lambda", region_name=self.session.region_name, endpoint_url=self.endpoint_url
        )
        found = client.list_event_source_mappings(
            FunctionName=params["FunctionName"], EventSourceArn=params["EventSourceArn"]
        )["EventSourceMappings"]
        return found[0]["UUID"] if found else None

    # -- CloudFormation: DeleteStack is asynchronous -----------------------------------------
    def _plain_cloudformation(self) -> Any:
        import boto3

        return boto3.Session(region_name=self.session.region_name).client(
            "cloudformation", region_name=self.session.region_name, endpoint_url=self.endpoint_url
        )

    def _stack_id(self, name: str) -> str | None:
        if name.startswith("arn:"):
            return name
        try:
            found = self._plain_cloudformation().describe_stacks(StackName=name)["Stacks"]
        except Exception:
            return None
        return str(found[0]["StackId"]) if found else None

    def _cloudformation_before(
        self, key: str, params: dict[str, Any], context: dict[str, Any], now: float
    ) -> Any:
        if "StackName" not in params:
            return None
        stack_id = self._stack_id(params["StackName"])
        if stack_id is None:
            return None
        deleting = self._stack_deleting.get(stack_id)
        if key == "cloudformation.DeleteStack":
            if deleting is None or deleting[1]:  # a new attempt, or a retry of a failed one
                fails = self.stack_delete_failures > 0
                self.stack_delete_failures -= 1 if fails else 0
                self._stack_deleting[stack_id] = (now + self.timings.stack_deleting, fails)
            return _Http(200), {"ResponseMetadata": {"HTTPStatusCode": 200}}
        if deleting is None:
            return None
        until, fails = deleting
        if now < until or (key != "cloudformation.DescribeStacks" and not fails):
            # Only DescribeStacks ends the deletion: moto re-creates the resources of a
            # deleted stack when asked for them (DescribeStackResources).
            context["stack_status"] = "DELETE_IN_PROGRESS"
        elif fails:
            context["stack_status"] = "DELETE_FAILED"
        else:
            del self._stack_deleting[stack_id]
            self._plain_cloudformation().delete_stack(StackName=stack_id)
        return None

    def _cloudformation_after(
        self, key: str, parsed: dict[str, Any], context: dict[str, Any]
    ) -> None:
        status = context.get("stack_status")
        if status is None:
            return
        reason = self.stack_delete_reason if status == "DELETE_FAILED" else ""
        for found in parsed.get("Stacks", []):
            found["StackStatus"] = status
            if reason:
                found["StackStatusReason"] = "The following resource(s) failed to delete: [Role]."
        for resource in parsed.get("StackResources", []):
            failed = reason and resource.get("ResourceType") == "AWS::IAM::Role"
            if status == "DELETE_IN_PROGRESS" or failed:
                resource["ResourceStatus"] = status
            if failed:
                resource["ResourceStatusReason"] = reason

    def _after_call(
        self,
        model: Any,
        parsed: dict[str, Any],
        http_response: Any,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        service, operation = self._op(model)
        key = f"{service}.{operation}"
        if http_response is not None and getattr(http_response, "status_code", 200) >= 300:
            return
        if service == "cloudformation":
            with self._lock:
                self._cloudformation_after(key, parsed, context or {})
            return
        now = time.monotonic()
        t = self.timings
        with self._lock:
            if key in (
                "iam.CreateRole",
                "iam.PutRolePolicy",
                "iam.UpdateAssumeRolePolicy",
                "iam.AttachRolePolicy",
            ):
                self._role_changed_at = now
            elif key == "lambda.CreateFunction":
                name = parsed["FunctionName"]
                self._function_pending_until[name] = now + t.function_pending
                broken = self.broken_functions.get(name)
                after = _Failure(*broken, state_failed=True) if broken else None
                self._function_failure[name] = (now + t.function_pending, None, after)
                parsed["State"] = "Pending"
            elif key in ("lambda.UpdateFunctionCode", "lambda.UpdateFunctionConfiguration"):
                name = parsed["FunctionName"]
                self._function_updating_until[name] = now + t.function_updating
                self._start_function_update(name, now + t.function_updating, now)
                parsed["LastUpdateStatus"] = "InProgress"
            elif key in ("lambda.GetFunction", "lambda.GetFunctionConfiguration"):
                config = parsed.get("Configuration", parsed)
                name = config.get("FunctionName", "")
                self._show_function_failure(name, config, now)
                if now < self._function_pending_until.get(name, 0):
                    config["State"] = "Pending"
                if now < self._function_updating_until.get(name, 0):
                    config["LastUpdateStatus"] = "InProgress"
            elif key == "dynamodb.CreateTable":
                table = parsed["TableDescription"]
                self._table_creating_until[table["TableName"]] = now + t.table_creating
                table["TableStatus"] = "CREATING"
            elif key == "dynamodb.DescribeTable":
                table = parsed.get("Table", {})
                if now < self._table_creating_until.get(table.get("TableName", ""), 0):
                    table["TableStatus"] = "CREATING"
                if table.get("TableName") in self.table_status:
                    table["TableStatus"] = self.table_status[table["TableName"]]
            elif key == "dynamodb.DeleteTable":
                table = parsed["TableDescription"]
                self._table_deleting_until[table["TableName"]] = (
                    now + t.table_deleting,
                    dict(table),
                )
                table["TableStatus"] = "DELETING"
            elif key == "lambda.CreateEventSourceMapping":
                self._mapping_state[parsed["UUID"]] = (
                    "Creating",
                    now + t.mapping_transition,
                    dict(parsed),
                )
                self._note_mapping_outcome(parsed)
                parsed["State"] = "Creating"
            elif key == "lambda.UpdateEventSourceMapping":
                self._mapping_state[parsed["UUID"]] = (
                    "Updating",
                    now + t.mapping_transition,
                    dict(parsed),
                )
                self._note_mapping_outcome(parsed)
                parsed["State"] = "Updating"
            elif key == "lambda.DeleteEventSourceMapping":
                self._mapping_state[parsed["UUID"]] = (
                    "Deleting",
                    now + t.mapping_transition,
                    dict(parsed),
                )
                parsed["State"] = "Deleting"
            elif key in ("lambda.GetEventSourceMapping", "lambda.ListEventSourceMappings"):
                configs = parsed.get("EventSourceMappings") or [parsed]
                for config in configs:
                    uuid = config.get("UUID", "")
                    if uuid in self._mapping_disabled:
                        config["State"] = "Disabled"
                        config["StateTransitionReason"] = self._mapping_disabled[uuid]
                    state = self._mapping_state.get(uuid)
                    if state and now < state[1] and state[0] != "Deleting":
                        config["State"] = state[0]
                    self._encrypted_filters(key, config)
            elif key == "sns.Subscribe" and context is not None:
                params = context.get("api_params", {})
                if params.get("Protocol") == "email":
                    self.pending_emails.add((params["TopicArn"], params["Endpoint"]))
                    parsed["SubscriptionArn"] = "pending confirmation"
            elif key == "sns.ListSubscriptionsByTopic":
                for subscription in parsed.get("Subscriptions", []):
                    pair = (subscription.get("TopicArn"), subscription.get("Endpoint"))
                    if subscription.get("Protocol") == "email" and pair in self.pending_emails:
                        subscription["SubscriptionArn"] = "PendingConfirmation"
            elif key == "sqs.DeleteQueue":
                self._queue_deleted_at[self._queue_name_of_last_delete] = now

    def _encrypted_filters(self, key: str, config: dict[str, Any]) -> None:
        if not config.get("KMSKeyArn") or not config.get("FilterCriteria"):
            return
        if key == "lambda.ListEventSourceMappings":
            del config["FilterCriteria"]
        elif self.undecryptable_filters:
            del config["FilterCriteria"]
            config["FilterCriteriaError"] = {
                "ErrorCode": "KMSAccessDeniedException",
                "Message": "The caller is not allowed to decrypt with the key.",
            }

    # -- failed functions and mappings AWS disabled -------------------------------------------
    def _start_function_update(self, name: str, ends: float, now: float) -> None:
        """An update of a function, failed or not, is a new attempt (AWS allows it)."""
        current = self._current_failure(name, now)
        broken = self.broken_functions.get(name)
        if broken is None:
            after = None
        else:
            # A function that never became Active stays Failed; an Active one stays Active.
            still_failed = current is not None and current.state_failed
            after = _Failure(*broken, state_failed=still_failed, update_failed=True)
        self._function_failure[name] = (ends, current, after)

    def _current_failure(self, name: str, now: float) -> _Failure | None:
        ends, before, after = self._function_failure.get(name, (0.0, None, None))
        return after if now >= ends else before

    def _show_function_failure(self, name: str, config: dict[str, Any], now: float) -> None:
        failure = self._current_failure(name, now)
        if failure is None:
            return
        if failure.state_failed:
            config.update(State="Failed", StateReasonCode=failure.code, StateReason=failure.reason)
        if failure.update_failed:
            config.update(
                LastUpdateStatus="Failed",
                LastUpdateStatusReasonCode=failure.code,
                LastUpdateStatusReason=failure.reason,
            )

    def _note_mapping_outcome(self, parsed: dict[str, Any]) -> None:
        function_name = parsed.get("FunctionArn", "").rsplit(":", 1)[-1]
        reason = self.disabled_mappings.get(function_name)
        if reason is None:
            self._mapping_disabled.pop(parsed["UUID"], None)
        else:
            self._mapping_disabled[parsed["UUID"]] = reason

    # -- IAM answers as AWS sends them ------------------------------------------------------
    @staticmethod
    def _url_encode_policies(response_dict: dict[str, Any], **_: Any) -> None:
        body = response_dict.get("body")
        if not isinstance(body, bytes) or response_dict.get("status_code", 200) >= 300:
            return
        response_dict["body"] = POLICY_ELEMENT.sub(_url_encoded, body.decode("utf-8")).encode()

    def note_queue_delete(self, params: dict[str, Any], **_: Any) -> None:  # parameter build
        self._queue_name_of_last_delete = params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class _Failure:
    code: str
    reason: str
    state_failed: bool = False  # State Failed: the function never became Active
    update_failed: bool = False  # LastUpdateStatus Failed: the last update did not apply


# What each service answers for an internal error (HTTP 500).
INTERNAL_ERRORS = {
    "lambda": "ServiceException",
    "dynamodb": "InternalServerError",
    "sqs": "InternalError",
    "iam": "ServiceFailure",
    "logs": "ServiceUnavailableException",
    "kinesis": "InternalFailure",
    "sns": "InternalError",
    "cloudwatch": "InternalServiceError",
}
POLICY_ELEMENT = re.compile(
    r"<(Document|PolicyDocument|AssumeRolePolicyDocument)>([^<]*)</\1>", re.DOTALL
)


def _url_encoded(match: re.Match[str]) -> str:
    from xml.sax.saxutils import unescape

    text = unescape(match.group(2), {"&quot;": '"', "&apos;": "'"})
    if text.lstrip().startswith("%7B") or not text.strip():
        return match.group(0)  # already encoded
    return f"<{match.group(1)}>{urllib.parse.quote(text, safe='')}</{match.group(1)}>"


class _Raw:
    """The minimal raw-body object AWSResponse needs."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


def aws_like(session: Any, **kwargs: Any) -> AwsLike:
    """Attach the hooks; SQS DeleteQueue needs the queue name, which only the request holds."""
    faults = AwsLike(session, **kwargs)
    session.events.register("before-parameter-build.sqs.DeleteQueue", faults.note_queue_delete)
    session.events.register(
        "before-parameter-build.cloudwatch.PutMetricAlarm", faults.untag_existing_alarm
    )
    return faults


_bucket_tags_installed = False


def bucket_tags_at_create() -> None:
    """S3 applies CreateBucketConfiguration.Tags; make moto (server and mock_aws) do so too."""
    global _bucket_tags_installed
    if not _bucket_tags_installed:
        from cryptoconsumer.local.moto_patches import patch_bucket_tags_at_create

        patch_bucket_tags_at_create(lambda: True)
        _bucket_tags_installed = True
