"""`package`: the zip it writes, the CodeSha256 it prints, and the file it refuses to clobber."""

from __future__ import annotations

import base64
import hashlib
import zipfile


def _sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_package_writes_the_zip_and_prints_its_code_sha256(run, tmp_path):
    target = tmp_path / "consumer.zip"

    result = run("package", "-o", str(target), "--output", "json")

    assert result.exit_code == 0, str(result)
    document = result.json()
    data = target.read_bytes()
    assert document == {
        "path": str(target),
        "size": len(data),
        "code_sha256": _sha(data),
        "files": [
            "consumer_dead_letters.py",
            "consumer_payloads.py",
            "consumer_records.py",
            "consumer_runtime.py",
            "consumer_writes.py",
            "data_consumer_lambda.py",
            "kpl_aggregate.py",
        ],
    }
    assert zipfile.ZipFile(target).namelist() == document["files"]

    text = run("package", "-o", str(target))
    assert text.exit_code == 0, str(text)
    assert text.stdout.strip() == f"{target}  {len(data)} bytes  CodeSha256 {_sha(data)}"


def test_package_refuses_to_overwrite_a_different_file_without_force(run, tmp_path):
    target = tmp_path / "consumer.zip"
    target.write_bytes(b"somebody else's zip")

    refused = run("package", "-o", str(target))

    assert refused.exit_code == 2, str(refused)
    assert refused.error_lines == [
        f"error: {target} exists and differs; pass --force to overwrite it"
    ]
    assert target.read_bytes() == b"somebody else's zip"

    forced = run("package", "-o", str(target), "--force", "--output", "json")

    assert forced.exit_code == 0, str(forced)
    assert _sha(target.read_bytes()) == forced.json()["code_sha256"]

    same = run("package", "-o", str(target))
    assert same.exit_code == 0, "an identical file is not a conflict"


def test_the_printed_code_sha256_is_what_lambda_reports_after_up(run, aws, stream_arn, tmp_path):
    packaged = run("package", "-o", str(tmp_path / "c.zip"), "--output", "json")
    deployed = run("up", "--stream-arn", stream_arn)
    assert deployed.exit_code == 0, str(deployed)

    config = aws("lambda").get_function(FunctionName="crypto_data_consumer")["Configuration"]

    assert config["CodeSha256"] == packaged.json()["code_sha256"]
    assert config["CodeSize"] == packaged.json()["size"]
