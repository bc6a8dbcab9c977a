"""Run the installed `cryptoconsumer` executable in a subprocess against the moto server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def executable() -> list[str]:
    """The console script of this interpreter's environment, else any on PATH, else -m."""
    beside = Path(sys.executable).with_name("cryptoconsumer")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("cryptoconsumer")
    return [found] if found else [sys.executable, "-m", "cryptoconsumer"]


@dataclass
class Completed:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return (
            f"{' '.join(self.args)} -> exit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


@pytest.fixture
def cli() -> Callable[..., Completed]:
    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Completed:
        argv = [*executable(), *args]
        environment = {**os.environ, "NO_COLOR": "1", **(env or {})}
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=environment,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        completed = Completed(argv, done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stdout + done.stderr, str(completed)
        return completed

    return run
