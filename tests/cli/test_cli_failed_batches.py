"""--failure-destination s3 on the command line: the plan shows the bucket, destroy keeps it
without --delete-failed-batches, and the option is recorded like any other."""

from __future__ import annotations

from tests.aws_state import inventory, the_mapping

BUCKET = "crypto-failed-batches-123456789012-us-east-1"
S3 = ("--failure-destination", "s3")


def test_the_plan_shows_the_bucket_and_what_it_is_for(run, moto, stream_arn):
    result = run("plan", "--stream-arn", stream_arn, *S3)

    assert result.exit_code == 0, str(result)
    lines = result.stdout.splitlines()
    [header] = [line for line in lines if BUCKET in line]
    assert header.split() == ["+", "bucket", BUCKET]
    text = result.stdout
    assert "receives each failed batch with its records (dlq redrive replays them)" in text
    assert "public access blocked, SSE-S3 encryption, versioning off" in text
    assert "objects expire after 14 days" in text
    assert moto.mutating() == []


def test_plan_json_names_the_bucket_and_its_change(run, stream_arn):
    result = run(
        "plan",
        "--stream-arn",
        stream_arn,
        *S3,
        "--failure-retention-days",
        "30",
        "--output",
        "json",
    )

    document = result.json()
    [change] = [c for c in document["changes"] if c["resource"] == "bucket"]
    assert (change["name"], change["action"]) == (BUCKET, "create")
    assert "objects expire after 30 days" in change["details"]


def test_up_then_a_bare_up_keeps_the_recorded_destination(run, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn, *S3).exit_code == 0

    again = run("plan", "--output", "json")

    assert again.exit_code == 0, str(again)
    settings = {s["option"]: s for s in again.json()["settings"]}
    assert settings["failure-destination"]["value"] == "s3"
    destination = the_mapping(aws)["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == f"arn:aws:s3:::{BUCKET}"


def test_back_to_sqs_shows_the_bucket_retained_and_the_destination_moving(run, stream_arn):
    assert run("up", "--stream-arn", stream_arn, *S3).exit_code == 0

    result = run("plan", "--failure-destination", "sqs")

    assert result.exit_code == 0, str(result)
    [header] = [line for line in result.stdout.splitlines() if line.split()[1:2] == ["bucket"]]
    assert header.split() == ["=", "bucket", BUCKET]
    assert "no longer the failure destination (--failure-destination sqs)" in result.stdout
    assert (
        f"on-failure destination: arn:aws:s3:::{BUCKET} -> "
        "arn:aws:sqs:us-east-1:123456789012:crypto_data_consumer-dlq"
    ) in result.stdout


def test_destroy_keeps_the_bucket_and_says_how_to_delete_it(run, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn, *S3).exit_code == 0

    plan = run("destroy", "--dry-run")
    result = run("destroy", "--yes")

    assert ["=", "bucket", BUCKET] in [line.split() for line in plan.stdout.splitlines()]
    assert "--delete-failed-batches" in plan.stdout
    assert result.exit_code == 0, str(result)
    assert inventory(aws).buckets == (BUCKET,)
    assert (
        f"bucket {BUCKET} kept with its failed batches; delete it with: cryptoconsumer "
        "destroy --stack crypto --delete-failed-batches"
    ) in result.stderr


def test_destroy_with_consent_empties_and_deletes_the_bucket(run, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn, *S3).exit_code == 0
    aws("s3").put_object(Bucket=BUCKET, Key="aws/lambda/u/shardId-1/2026/01/01/x", Body=b"{}")

    plan = run("destroy", "--dry-run", "--delete-failed-batches")
    result = run("destroy", "--yes", "--delete-table", "--delete-failed-batches")

    assert "empties it: 1 failed batch(es) in it are lost" in plan.stdout
    assert result.exit_code == 0, str(result)
    assert inventory(aws).empty, inventory(aws)


def test_a_later_destroy_with_consent_deletes_a_kept_bucket(run, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn, *S3).exit_code == 0
    assert run("destroy", "--yes").exit_code == 0

    again = run("destroy", "--yes", "--delete-table", "--delete-failed-batches")

    assert again.exit_code == 0, str(again)
    assert inventory(aws).empty, inventory(aws)


def test_consent_in_the_stack_file_is_refused(run, moto, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cryptoconsumer.toml").write_text("delete-failed-batches = true\n")

    result = run("destroy", "--yes")

    assert result.exit_code == 2, str(result)
    assert "delete-failed-batches" in result.stderr
    assert moto.requests == []


def test_retention_without_the_s3_destination_is_refused_before_any_change(run, moto, stream_arn):
    result = run("plan", "--stream-arn", stream_arn, "--failure-retention-days", "30")

    assert result.exit_code == 2
    assert result.error_lines == [
        "error: --failure-retention-days goes with --failure-destination s3"
    ]
    # Judged once the recorded settings are read (they may give the destination).
    assert [str(r) for r in moto.requests] == ["ssm:GetParameter"]


def test_an_s3_destination_without_the_queue_is_refused_before_any_change(run, moto, stream_arn):
    result = run("plan", "--stream-arn", stream_arn, *S3, "--no-dlq")

    assert result.exit_code == 2
    assert "drop --no-dlq" in result.stderr
    assert [str(r) for r in moto.requests] == ["ssm:GetParameter"]


def test_a_bucket_name_taken_by_someone_else_is_refused_with_one_line(run, aws, stream_arn):
    aws("s3").create_bucket(Bucket=BUCKET)  # ours by name only: no tags

    result = run("up", "--stream-arn", stream_arn, *S3)

    assert result.exit_code == 1, str(result)  # an ownership conflict
    [line] = result.error_lines
    assert f"bucket {BUCKET} exists but is not tagged" in line
    assert inventory(aws).roles == ()


def test_status_shows_the_bucket_and_its_drift(run, aws, stream_arn):
    assert run("up", "--stream-arn", stream_arn, *S3).exit_code == 0

    healthy = run("status", "--output", "json")

    assert healthy.exit_code == 0, str(healthy)
    [row] = [r for r in healthy.json()["resources"] if r["resource"] == "bucket"]
    assert (row["name"], row["owned"], row["state"], row["drift"]) == (
        BUCKET,
        True,
        "0 object(s)",
        [],
    )
    aws("s3").delete_bucket_encryption(Bucket=BUCKET)

    drifted = run("status", "--output", "json")

    assert drifted.exit_code == 3, str(drifted)
    [row] = [r for r in drifted.json()["resources"] if r["resource"] == "bucket"]
    assert row["drift"] == ["default encryption: none -> SSE-S3"]


def test_up_json_outputs_name_the_bucket(run, stream_arn):
    result = run("up", "--stream-arn", stream_arn, *S3, "--output", "json")

    assert result.exit_code == 0, str(result)
    assert result.json()["outputs"]["bucket"] == BUCKET
