"""Start-up (issue 12): how soon the CLI answers, against the tools people use instead.

    python bench/bench_startup.py            # writes the "Start-up" section of docs/benchmarks.md

- `cryptoconsumer --help` beside `python -c "import boto3"` (and `python -c pass`).
- `cryptoconsumer plan` of a fresh stack against a moto server on loopback, beside `cdk synth`
  of the CDK app it replaces (bench/cdk_app/app.py: the seed template's DataConsumerStack),
  alternating, in the same run; wall time and the peak RSS of each command's whole process
  tree (cdk runs node, which runs python, which runs node again for jsii).

The CDK toolchain (aws-cdk-lib in a venv, the aws-cdk CLI from npm) is installed on first
use under ~/.cache/cryptoconsumer-bench/cdk; nothing of it is committed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

from bench_local import PeakTreeRss  # noqa: E402
from benchdoc import write_section  # noqa: E402

from tests.moto_server import MotoServer  # noqa: E402

HEADING = "## Start-up (issue 12)"
CDK_HOME = Path.home() / ".cache" / "cryptoconsumer-bench" / "cdk"
CDK_APP = Path(__file__).parent / "cdk_app"
RUNS = 7
STREAM = "kinesis-crypto-stream-intraday"


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_mb: float


def run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Timed:
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    meter = PeakTreeRss(process.pid, every=0.01)
    _, stderr = process.communicate(timeout=300)
    seconds = time.perf_counter() - started
    peak = meter.stop()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{stderr}")
    return Timed(seconds, peak)


def median(values: list[Timed]) -> Timed:
    return Timed(
        statistics.median(v.seconds for v in values), statistics.median(v.peak_mb for v in values)
    )


def cdk_toolchain() -> tuple[list[str], dict[str, str]]:
    """The cdk CLI and an environment whose python3 has aws-cdk-lib; installed once."""
    venv = CDK_HOME / "venv"
    cli = CDK_HOME / "node_modules" / ".bin" / "cdk"
    if not (venv / "bin" / "python3").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "aws-cdk-lib", "constructs"], check=True
        )
    if not cli.exists():
        CDK_HOME.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "aws-cdk"], cwd=CDK_HOME, check=True)
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    return [str(cli), "synth", "--quiet", "--no-notices", "--no-version-reporting"], env


def compile_package() -> None:
    """The package's bytecode, as an install has it: with PYTHONDONTWRITEBYTECODE set (it is
    on the shared machine) an editable install never writes it, and every measured command
    would compile the package's source again (~0.3 G instructions of `plan`'s 2.5 G)."""
    import compileall

    compileall.compile_dir(str(ROOT / "cryptoconsumer"), quiet=1)


def executable() -> str:
    beside = Path(sys.executable).with_name("cryptoconsumer")
    return str(beside) if beside.exists() else "cryptoconsumer"


def help_rows() -> list[tuple[str, Timed]]:
    rows = [
        ("`python -c pass`", [sys.executable, "-c", "pass"]),
        ('`python -c "import boto3"`', [sys.executable, "-c", "import boto3"]),
        ("`cryptoconsumer --help`", [executable(), "--help"]),
    ]
    return [(label, median([run(argv) for _ in range(RUNS * 2)])) for label, argv in rows]


def plan_versus_synth() -> tuple[Timed, Timed]:
    synth, synth_env = cdk_toolchain()
    server = MotoServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": str(Path(tmp) / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(Path(tmp) / "none"),
            }
            import boto3

            kinesis = boto3.client(
                "kinesis", endpoint_url=server.url, region_name="us-east-1", **_fake()
            )
            kinesis.create_stream(StreamName=STREAM, ShardCount=1)
            arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"][
                "StreamARN"
            ]
            plan = [executable(), "plan", "--stream-arn", arn, "--endpoint-url", server.url]
            run(plan, cwd=Path(tmp), env=env)  # warm the file cache, like the synth's first run
            run([*synth, "-o", str(Path(tmp) / "out")], cwd=CDK_APP, env=synth_env)
            plans, synths = [], []
            for _ in range(RUNS):
                plans.append(run(plan, cwd=Path(tmp), env=env))
                synths.append(
                    run([*synth, "-o", str(Path(tmp) / "out")], cwd=CDK_APP, env=synth_env)
                )
    finally:
        server.stop()
    return median(plans), median(synths)


def _fake() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def main() -> None:
    compile_package()
    load = os.getloadavg()
    helps = help_rows()
    plan, synth = plan_versus_synth()
    boto3_import = next(t for label, t in helps if "boto3" in label).seconds
    help_time = next(t for label, t in helps if "--help" in label).seconds
    rows = [(label, t) for label, t in helps] + [
        ("`cryptoconsumer plan`, fresh stack, moto server on loopback", plan),
        ("`cdk synth` of the app it replaces (bench/cdk_app)", synth),
    ]
    table = "\n".join(
        f"| {label} | {t.seconds * 1000:.0f} ms | {t.peak_mb:.0f} MB |" for label, t in rows
    )
    text = f"""{HEADING}

`python bench/bench_startup.py`, {time.strftime("%Y-%m-%d")}, this 2-core machine (load
{load[0]:.1f} at the start). Medians of {RUNS * 2} runs (help) and {RUNS} alternating runs
(plan, synth); peak RSS of each command's whole process tree, sampled from /proc every 10 ms.

| command | median wall | peak RSS |
|---|---:|---:|
{table}

- `--help` / `import boto3`: **{help_time / boto3_import:.2f}** (target <= 0.5).
- `cdk synth` / `plan`: **{synth.seconds / plan.seconds:.1f}x** (target >= 10x); and `plan`
  has read every resource of the stack from the endpoint, which `cdk synth` never does.
"""
    write_section(HEADING, text)
    print(text)


if __name__ == "__main__":
    main()
