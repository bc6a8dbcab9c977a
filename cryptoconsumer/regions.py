"""AWS regions, partitions and Lambda's runtimes as the installed botocore knows them.

Read from botocore's own data files, so a new region or runtime arrives with a botocore
upgrade and nothing here is a hand-kept list.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from cryptoconsumer.errors import InputError

# The shape every region name has (us-east-1, us-gov-west-1, eusc-de-east-1); a name that is
# not this shape never reaches a URL, a log line or an ARN.
REGION_SHAPE = re.compile(r"[a-z]{2,4}(-[a-z]+)+-\d{1,2}", re.ASCII)


def data_loader(search_path: str | None = None) -> Any:
    """botocore's loader of its data files for this search path (AWS_DATA_PATH), one per
    process: the loader keeps what it has parsed, so the sessions aws.py makes and the checks
    here read each model and partitions.json once, not once per session and again here."""
    return _loader(search_path)


@functools.cache
def _loader(search_path: str | None) -> Any:
    from botocore.loaders import create_loader

    return create_loader(search_path)


@functools.cache
def _partitions() -> list[dict[str, Any]]:
    return list(data_loader().load_data("partitions")["partitions"])


def partition_of(region: str) -> str | None:
    """The partition (aws, aws-cn, aws-us-gov, ...) a region belongs to; None if unknown."""
    partitions = _partitions()
    for partition in partitions:
        if region in partition.get("regions", {}):
            return str(partition["id"])
    for partition in partitions:
        if re.fullmatch(partition["regionRegex"].strip("^$"), region):
            return str(partition["id"])
    return None


def check_region(region: str, *, custom_endpoint: bool, option: str = "--region") -> str:
    """A region name AWS could have; with a custom endpoint any name of that shape will do."""
    if not REGION_SHAPE.fullmatch(region):
        raise InputError(f"{option} {region!r} is not an AWS region name (e.g. eu-west-1)")
    if not custom_endpoint and partition_of(region) is None:
        raise InputError(
            f"{option} {region!r} is not a region AWS has (pass --endpoint-url to use it with "
            "a local emulator)"
        )
    return region


@functools.cache
def python_runtimes() -> tuple[str, ...]:
    """The Python runtimes in Lambda's own API model (the `Runtime` enum)."""
    # Asked as botocore's client asks (api_version=None), so its cached copy serves both.
    model = data_loader().load_service_model("lambda", "service-2", api_version=None)
    runtimes = model["shapes"]["Runtime"]["enum"]
    return tuple(r for r in runtimes if r.startswith("python3."))
