"""The function's zip: byte-identical from any copy of the sources, handler modules only."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from cryptoconsumer import package
from cryptoconsumer.errors import InputError

HANDLER_FILES = [
    "consumer_dead_letters.py",
    "consumer_payloads.py",
    "consumer_records.py",
    "consumer_runtime.py",
    "consumer_writes.py",
    "data_consumer_lambda.py",
    "kpl_aggregate.py",
]


def _copy(source: Path, target: Path, mtime: float, mode: int) -> Path:
    target.mkdir()
    for path in sorted(source.iterdir()):
        if path.is_file():
            copied = target / path.name
            shutil.copyfile(path, copied)
            copied.chmod(mode)
            os.utime(copied, (mtime, mtime))
    return target


def test_two_copies_with_different_times_and_modes_build_the_same_bytes(tmp_path):
    source = package.handler_dir()
    old = _copy(source, tmp_path / "old", mtime=315_532_800.0, mode=0o600)  # 1980
    new = _copy(source, tmp_path / "new", mtime=2_000_000_000.0, mode=0o755)  # 2033

    first, second = package.build(old), package.build(new)

    assert first.zip_bytes == second.zip_bytes
    assert first.code_sha256 == second.code_sha256
    assert package.build().zip_bytes == first.zip_bytes  # and the installed copy too


def test_a_changed_source_changes_the_bytes(tmp_path):
    copy = _copy(package.handler_dir(), tmp_path / "copy", mtime=1e9, mode=0o644)
    before = package.build(copy).zip_bytes
    with (copy / "kpl_aggregate.py").open("a") as module:
        module.write("\n")

    assert package.build(copy).zip_bytes != before


def test_only_handler_modules_are_packaged(tmp_path):
    copy = _copy(package.handler_dir(), tmp_path / "copy", mtime=1e9, mode=0o644)
    clean = package.build(copy).zip_bytes
    (copy / "__init__.py").write_text("# package marker\n")
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "data_consumer_lambda.cpython-311.pyc").write_bytes(b"\0")
    (copy / "test_handler.py").write_text("def test(): pass\n")
    (copy / "handler_test.py").write_text("def test(): pass\n")
    (copy / ".env").write_text("AWS_SECRET_ACCESS_KEY=leak\n")
    (copy / ".hidden.py").write_text("SECRET = 1\n")
    (copy / "notes.txt").write_text("notes\n")
    (copy / "tests").mkdir()
    (copy / "tests" / "test_more.py").write_text("def test(): pass\n")
    (copy / "folder.py").mkdir()

    built = package.build(copy)

    assert list(built.files) == HANDLER_FILES
    assert zipfile.ZipFile(BytesIO(built.zip_bytes)).namelist() == HANDLER_FILES
    assert built.zip_bytes == clean


def test_entries_are_fixed_in_time_mode_and_order(tmp_path):
    built = package.build()
    archive = zipfile.ZipFile(BytesIO(built.zip_bytes))

    assert archive.namelist() == sorted(archive.namelist())
    for info in archive.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.read(info) == (package.handler_dir() / info.filename).read_bytes()


def test_code_sha256_is_the_base64_sha256_of_the_zip():
    built = package.build()

    assert built.code_sha256 == base64.b64encode(hashlib.sha256(built.zip_bytes).digest()).decode()
    assert built.size == len(built.zip_bytes)


def test_a_folder_without_handler_modules_is_an_input_error(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    with pytest.raises(InputError, match="no handler sources"):
        package.build(tmp_path)
