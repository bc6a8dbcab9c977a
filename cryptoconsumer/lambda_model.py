"""Limits and enums of Lambda's API as the installed botocore's service model states them.

Read lazily (the model is a few MB of JSON): only a value that needs checking loads it, so
`--help` and commands that take no mapping option stay fast.
"""

from __future__ import annotations

import functools
from typing import Any

MAPPING_REQUEST = "CreateEventSourceMappingRequest"


@functools.cache
def _shapes() -> dict[str, Any]:
    from botocore.loaders import create_loader

    return dict(create_loader().load_service_model("lambda", "service-2")["shapes"])


def _member_shape(member: str) -> dict[str, Any]:
    shapes = _shapes()
    return dict(shapes[shapes[MAPPING_REQUEST]["members"][member]["shape"]])


def mapping_range(member: str) -> tuple[int, int]:
    """(min, max) of an integer field of CreateEventSourceMapping (BatchSize: 1, 10000)."""
    shape = _member_shape(member)
    return int(shape["min"]), int(shape["max"])


def mapping_enum(member: str) -> tuple[str, ...]:
    """The values a CreateEventSourceMapping enum field takes (StartingPosition)."""
    return tuple(_member_shape(member)["enum"])


def shape_max(shape_name: str) -> int:
    """A named shape's `max` (Pattern: 4096 characters)."""
    return int(_shapes()[shape_name]["max"])


def metric_names() -> tuple[str, ...]:
    """The MetricsConfig `Metrics` values (EventCount, ...)."""
    return tuple(_shapes()["EventSourceMappingMetric"]["enum"])
