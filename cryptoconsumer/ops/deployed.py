"""Finding what `up` deployed: the function's Kinesis mapping and the stream behind it."""

from __future__ import annotations

from dataclasses import dataclass

from cryptoconsumer.aws import Clients
from cryptoconsumer.config import StackConfig
from cryptoconsumer.errors import AwsError
from cryptoconsumer.resources import mapping
from cryptoconsumer.resources.base import Context, owned
from cryptoconsumer.resources.consumer import CONSUMER_MARKER, stream_of


@dataclass(frozen=True)
class MappedStream:
    """Where the function reads from; `consumer_arn` is set under enhanced fan-out."""

    mapping: mapping.ObservedMapping
    stream_arn: str
    consumer_arn: str | None

    @property
    def region(self) -> str:
        return self.stream_arn.split(":")[3]


def find_mapped_stream(config: StackConfig, clients: Clients) -> MappedStream:
    """The stack's own Kinesis mapping; AwsError when the function has none."""
    ctx = Context(clients=clients, config=config)
    found = [m for m in mapping.read_all(ctx, config.function.name) if ":kinesis:" in m.source_arn]
    if config.stream is not None:
        found = [m for m in found if stream_of(m.source_arn) == config.stream.arn]
    # Ours first; a mapping someone else added to the function is used only if it is alone.
    found.sort(key=lambda m: not owned(m.tags, config.stack))
    if not found:
        raise AwsError(
            f"function {config.function.name} has no Kinesis event source mapping: "
            f"is stack {config.stack} deployed? (see `cryptoconsumer status`)",
            "MappingNotFound",
        )
    chosen = found[0]
    consumer = chosen.source_arn if CONSUMER_MARKER in chosen.source_arn else None
    return MappedStream(chosen, stream_of(chosen.source_arn), consumer)
