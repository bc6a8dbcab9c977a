"""The function's deterministic zip: same sources, byte-identical file, same CodeSha256."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cryptoconsumer.errors import InputError

# 1980-01-01 is the earliest time a zip entry can hold; any fixed value makes builds repeatable.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# -rw-r--r-- regular file, stored in the high 16 bits as Unix tools expect.
FILE_MODE = 0o100644 << 16


@dataclass(frozen=True)
class Package:
    zip_bytes: bytes
    files: tuple[str, ...]

    @property
    def code_sha256(self) -> str:
        """Base64 SHA-256 of the zip, the form Lambda reports as CodeSha256."""
        return base64.b64encode(hashlib.sha256(self.zip_bytes).digest()).decode()

    @property
    def size(self) -> int:
        return len(self.zip_bytes)


def handler_dir() -> Path:
    """The installed `lambda_handler` folder (a package only so that pip ships it)."""
    import lambda_handler

    return Path(lambda_handler.__file__).resolve().parent


def handler_sources(source_dir: Path) -> list[Path]:
    """Only the handler's modules: no __init__, tests, caches, dotfiles or anything not .py."""
    return sorted(
        path
        for path in source_dir.glob("*.py")
        if path.is_file()
        and path.name != "__init__.py"
        and not path.name.startswith((".", "test_"))
        and not path.name.endswith("_test.py")
    )


def build(source_dir: Path | None = None) -> Package:
    source_dir = source_dir or handler_dir()
    sources = handler_sources(source_dir)
    if not sources:
        raise InputError(f"no handler sources (*.py) found in {source_dir}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sources:
            info = zipfile.ZipInfo(path.name, date_time=FIXED_DATE_TIME)
            info.external_attr = FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return Package(zip_bytes=buffer.getvalue(), files=tuple(p.name for p in sources))
