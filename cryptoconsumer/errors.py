"""The tool's own exceptions; each carries the exit code the CLI ends with."""

from __future__ import annotations


class CryptoConsumerError(Exception):
    """An expected failure: the CLI prints its message on one line and exits."""

    exit_code = 1


class InputError(CryptoConsumerError):
    """Bad options or a refused confirmation; raised before any AWS call."""

    exit_code = 2


class AwsError(CryptoConsumerError):
    """AWS refused or failed a call; the message says which and why."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class CredentialsError(AwsError):
    pass


class OwnershipError(CryptoConsumerError):
    """A same-named resource exists but does not carry this stack's tag."""


class PlanBlockedError(CryptoConsumerError):
    """A difference that cannot be applied in place without an explicit opt-in."""


class TimedOutError(AwsError):
    pass
