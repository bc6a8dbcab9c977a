"""The function's zip: modules that import only the standard library, boto3 and each other.

The zip root is first on Lambda's sys.path, so a module named like a standard-library or boto3
module would shadow it for the whole runtime.
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import zipfile
from pathlib import Path

from cryptoconsumer import package

# boto3 and what it brings along in Lambda's Python runtime.
BOTO3_DISTRIBUTION = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
# What the Lambda Python runtime itself imports from its own path.
LAMBDA_RUNTIME = {"awslambdaric", "bootstrap", "lambda_runtime_client", "runtime_client"}
MAX_MODULE_LINES = 400


def _zip_sources() -> dict[str, str]:
    archive = zipfile.ZipFile(io.BytesIO(package.build().zip_bytes))
    return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def _imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_module_names_shadow_nothing_the_runtime_imports() -> None:
    names = {name.removesuffix(".py") for name in _zip_sources()}

    assert "data_consumer_lambda" in names
    assert not names & set(sys.stdlib_module_names)
    assert not names & (BOTO3_DISTRIBUTION | LAMBDA_RUNTIME)


def test_modules_import_only_the_standard_library_boto3_and_each_other() -> None:
    sources = _zip_sources()
    siblings = {name.removesuffix(".py") for name in sources}

    for name, source in sources.items():
        foreign = _imported_roots(source) - set(sys.stdlib_module_names) - siblings
        assert foreign <= {"boto3", "botocore"}, name
        assert len(source.splitlines()) <= MAX_MODULE_LINES, name


def test_the_entry_point_loads_from_the_zip_alone(tmp_path: Path) -> None:
    zip_path = tmp_path / "function.zip"
    zip_path.write_bytes(package.build().zip_bytes)
    # -I: no user site, no PYTHONPATH, no current directory; the zip and the venv's boto3 only.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import data_consumer_lambda as f; "
        "assert f.__file__.startswith(sys.argv[1]), f.__file__; "
        "assert callable(f.handler); print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(zip_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def _aws_calls(service: str) -> set[str]:
    """The operations of `service` the zip's modules call, as `client.<snake_case>(...)`."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    by_method = {xform_name(name): name for name in model.operation_names}
    calls: set[str] = set()
    for source in _zip_sources().values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and node.attr in by_method:
                calls.add(by_method[node.attr])
    return calls


def test_the_role_grants_exactly_the_table_and_queue_calls_the_function_makes() -> None:
    from cryptoconsumer.resources.role import Grants, access_policy

    policy = access_policy(
        Grants(
            stream_arn="arn:aws:kinesis:us-east-1:123456789012:stream/ticks",
            table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/ticks",
            log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f",
            queue_arn="arn:aws:sqs:us-east-1:123456789012:dlq",
        )
    )
    granted = {statement["Sid"]: statement["Action"] for statement in policy["Statement"]}

    assert _aws_calls("dynamodb") == {"BatchWriteItem"}
    assert granted["WriteTheTable"] == ["dynamodb:BatchWriteItem"]
    # SendMessageBatch is authorised by the sqs:SendMessage action.
    assert _aws_calls("sqs") == {"SendMessageBatch"}
    assert granted["SendToTheDeadLetterQueue"] == "sqs:SendMessage"
