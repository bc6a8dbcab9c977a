"""Lets moto map a function to a stream consumer, as AWS does for enhanced fan-out.

moto's CreateEventSourceMapping only accepts a stream's ARN ("Invalid EventSourceArn" for a
consumer's). These hooks hand moto the consumer's stream instead, and put the consumer's ARN
back into every answer about that mapping, so the tool sees what AWS would show it. They also
record the order of the calls that matter for enhanced fan-out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

from .conftest import REGION

MARKER = "/consumer/"
MAPPING_ANSWERS = (
    "CreateEventSourceMapping",
    "GetEventSourceMapping",
    "UpdateEventSourceMapping",
    "DeleteEventSourceMapping",
)
ORDERED_CALLS = (
    "lambda.CreateEventSourceMapping",
    "lambda.DeleteEventSourceMapping",
    "kinesis.RegisterStreamConsumer",
    "kinesis.DeregisterStreamConsumer",
    "iam.PutRolePolicy",
)


@dataclass
class ConsumerSources:
    sources: dict[str, str] = field(default_factory=dict)  # mapping UUID -> consumer ARN
    calls: list[str] = field(default_factory=list)

    def session(self) -> boto3.Session:
        session = boto3.Session(region_name=REGION)
        events = session.events
        events.register("before-parameter-build.lambda.CreateEventSourceMapping", self._to_stream)
        for operation in MAPPING_ANSWERS:
            events.register(f"after-call.lambda.{operation}", self._one)
        events.register("after-call.lambda.ListEventSourceMappings", self._many)
        for call in ORDERED_CALLS:
            events.register(f"before-call.{call}", self._record(call))
        return session

    def _record(self, call: str) -> Any:
        def record(**_: Any) -> None:
            self.calls.append(call)

        return record

    @staticmethod
    def _to_stream(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        source = params.get("EventSourceArn", "")
        if MARKER in source:
            context["consumer_source"] = source
            params["EventSourceArn"] = source.split(MARKER, 1)[0]

    def _one(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "consumer_source" in context and "UUID" in parsed:
            self.sources[parsed["UUID"]] = context["consumer_source"]
        self._rewrite(parsed)

    def _many(self, parsed: dict[str, Any], **_: Any) -> None:
        for found in parsed.get("EventSourceMappings", []):
            self._rewrite(found)

    def _rewrite(self, mapping: dict[str, Any]) -> None:
        if mapping.get("UUID") in self.sources:
            mapping["EventSourceArn"] = self.sources[mapping["UUID"]]
