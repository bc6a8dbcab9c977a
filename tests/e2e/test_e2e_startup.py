"""Start-up stays light: --help and the CLI import must not pull in boto3."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_does_not_import_boto3():
    done = subprocess.run(
        [sys.executable, "-c", "import cryptoconsumer.cli, sys; print('boto3' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"


def test_help_imports_neither_boto3_nor_rich_consoles_nor_the_config():
    code = (
        "import sys\n"
        "sys.argv = ['cryptoconsumer', '--help']\n"
        "from cryptoconsumer.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('boto3', 'botocore', 'moto', 'rich.console', 'cryptoconsumer.config')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_help_lists_the_lifecycle_commands(cli):
    result = cli("--help")

    assert result.returncode == 0, str(result)
    for command in ("up", "plan", "status", "destroy", "package"):
        assert f"  {command} " in result.stdout
