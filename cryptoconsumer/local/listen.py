"""Where `local start` may listen: this machine only, unless the user says otherwise.

The emulator has no authentication and runs every mapped function's code as the user who
started it, so anyone who can reach its port can run code on this machine. Only loopback
addresses are accepted without `--allow-remote`. Pure checks, made before anything starts.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from cryptoconsumer.errors import InputError

MAX_PORT = 65535
# Kinesis's default shard quota per account and region in its largest regions (500; 200
# elsewhere): more than any local stream needs, and one reader thread per shard here.
MAX_LOCAL_SHARDS = 500

# botocore's model of CreateStream's StreamName (1-128 of these), and AWS's region shape.
STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")

LOOPBACK_NAMES = ("localhost", "localhost.")

REMOTE_WARNING = (
    "warning: --allow-remote: the emulator listens on {host}, which is reachable from other "
    "machines; it has no authentication, so anyone who can reach port {port} can read and "
    "change everything in it and run code on this machine as the current user"
)


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int
    remote: bool


def _is_loopback(host: str) -> bool:
    """Whether `host` names this machine only; host names other than localhost are not
    resolved (no lookup leaves the machine for a check), so they count as remote."""
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if literal.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(literal).is_loopback
    except ValueError:
        return False


def check_listen_address(host: str, port: int, *, allow_remote: bool) -> ListenAddress:
    """The address to bind, or InputError naming what is wrong with it."""
    if not host.strip():
        raise InputError("--host must not be empty (use 127.0.0.1 for this machine only)")
    if host != host.strip() or any(not char.isprintable() for char in host):
        raise InputError(f"--host {host!r} has spaces or control characters")
    if not 0 <= port <= MAX_PORT:
        raise InputError(f"--port must be between 0 and {MAX_PORT} (0 = any free port)")
    remote = not _is_loopback(host)
    if remote and not allow_remote:
        raise InputError(
            f"--host {host} is not a loopback address: the emulator has no authentication and "
            "runs mapped functions' code as you, so it listens on this machine only "
            "(127.0.0.1, ::1, localhost) unless --allow-remote is given"
        )
    return ListenAddress(host, port, remote)


def check_shards(shards: int) -> int:
    if not 1 <= shards <= MAX_LOCAL_SHARDS:
        raise InputError(f"--shards must be between 1 and {MAX_LOCAL_SHARDS}")
    return shards


def check_stream(name: str | None, region: str) -> None:
    """--create-stream NAME and --region, as CreateStream would take them."""
    if not REGION.fullmatch(region):
        raise InputError(f"--region {region!r} is not a region name (e.g. us-east-1)")
    if name is not None and not STREAM_NAME.fullmatch(name):
        raise InputError(
            f"--create-stream {name!r}: a stream name is 1-128 letters, digits, '_', '.' or '-'"
        )
