from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from sorter_common.bucket_layout import DATASET_READY_MARKER, DATASETS_PREFIX
from sorter_common.training_pipeline import dataset_of_prefix
from training.cli import main
from training.upload import MIB, parse_s3_uri, upload_folder
from training_job.errors import UsageError

BUCKET = "deeplens-trash-sorter-test"


@pytest.fixture()
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket="not-deeplens-bucket")
        yield client


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "prepared"
    (root / "images" / "compost").mkdir(parents=True)
    (root / "images" / "compost" / "a.jpg").write_bytes(b"\xff\xd8jpeg-a")
    (root / "train.lst").write_text("0\t0.0\timages/compost/a.jpg\n")
    (root / "big.bin").write_bytes(bytes(range(256)) * (11 * MIB // 256))  # 11 MiB: a multipart upload
    (root / ".DS_Store").write_bytes(b"junk")
    return root


def _keys(client: Any, bucket: str = BUCKET) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_uploads_once_then_skips_unchanged_and_reuploads_changed(s3: Any, folder: Path) -> None:
    uri = f"s3://{BUCKET}/datasets/v1/"
    first = upload_folder(folder, uri, s3=s3, progress=False, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    assert sorted(first.uploaded) == [
        "datasets/v1/big.bin",
        "datasets/v1/images/compost/a.jpg",
        "datasets/v1/train.lst",
    ]
    assert _keys(s3) == sorted(first.uploaded)
    big = s3.head_object(Bucket=BUCKET, Key="datasets/v1/big.bin")
    assert big["ContentLength"] == (folder / "big.bin").stat().st_size
    assert "-" in big["ETag"]  # multipart ETags end in -<parts>
    assert (
        s3.get_object(Bucket=BUCKET, Key="datasets/v1/train.lst")["Body"].read() == (folder / "train.lst").read_bytes()
    )

    second = upload_folder(folder, uri, s3=s3, progress=False)
    assert second.uploaded == [] and sorted(second.skipped) == sorted(first.uploaded)

    (folder / "train.lst").write_text("0\t0.0\timages/compost/b.jpg\n")  # same size, new content
    third = upload_folder(folder, uri, s3=s3, progress=False)
    assert third.uploaded == ["datasets/v1/train.lst"]
    assert s3.get_object(Bucket=BUCKET, Key="datasets/v1/train.lst")["Body"].read().endswith(b"b.jpg\n")


def test_dry_run_uploads_nothing(s3: Any, folder: Path) -> None:
    report = upload_folder(folder, f"s3://{BUCKET}/x", dry_run=True, s3=s3, progress=False)
    assert len(report.uploaded) == 3 and report.dry_run
    assert _keys(s3) == []


def test_refuses_bucket_not_named_deeplens(s3: Any, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="does not start with 'deeplens-'"):
        upload_folder(folder, "s3://not-deeplens-bucket/x", s3=s3, progress=False)
    assert _keys(s3, "not-deeplens-bucket") == []
    assert main(["upload", str(folder), "s3://not-deeplens-bucket/x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: bucket 'not-deeplens-bucket' does not start with 'deeplens-'; refusing to upload"]


def test_upload_command_end_to_end(s3: Any, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upload", str(folder), f"s3://{BUCKET}/data"]) == 0
    assert "uploaded 3 file(s)" in capsys.readouterr().out
    assert main(["upload", str(folder), f"s3://{BUCKET}/data"]) == 0
    assert "uploaded 0 file(s) (0 bytes), skipped 3 unchanged" in capsys.readouterr().out


@pytest.mark.parametrize("uri", ["deeplens-x/prefix", "s3://", "s3:///prefix"])
def test_parse_s3_uri_rejects_malformed(uri: str) -> None:
    with pytest.raises(UsageError):
        parse_s3_uri(uri)


def test_parse_s3_uri() -> None:
    assert parse_s3_uri("s3://deeplens-a/b/c/") == ("deeplens-a", "b/c")
    assert parse_s3_uri("s3://deeplens-a") == ("deeplens-a", "")


def test_ready_marker_is_written_last_and_only_when_asked(s3: Any, folder: Path) -> None:
    plain = upload_folder(folder, f"s3://{BUCKET}/datasets/kitchen", s3=s3, progress=False)
    assert plain.ready_marker is None
    keys = [entry["Key"] for entry in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert "datasets/kitchen/_READY" not in keys
    upload_folder(folder, f"s3://{BUCKET}/datasets/kitchen", dry_run=True, s3=s3, progress=False, mark_ready=True)
    assert "datasets/kitchen/_READY" not in [e["Key"] for e in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    report = upload_folder(folder, f"s3://{BUCKET}/datasets/kitchen", s3=s3, progress=False, mark_ready=True)
    assert report.ready_marker == "datasets/kitchen/_READY"
    marker = s3.head_object(Bucket=BUCKET, Key="datasets/kitchen/_READY")
    newest_data = max(s3.head_object(Bucket=BUCKET, Key=key)["LastModified"] for key in report.skipped)
    assert marker["ContentLength"] == 0 and marker["LastModified"] >= newest_data


def test_delete_removes_only_what_left_the_folder_and_dry_run_deletes_nothing(s3: Any, folder: Path) -> None:
    uri = f"s3://{BUCKET}/datasets/kitchen"
    upload_folder(folder, uri, s3=s3, progress=False, mark_ready=True)
    (folder / "big.bin").unlink()
    s3.put_object(Bucket=BUCKET, Key="datasets/other/keep.jpg", Body=b"x")  # another dataset: untouched

    def keys() -> set[str]:
        return {entry["Key"] for entry in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}

    dry = upload_folder(folder, uri, s3=s3, progress=False, dry_run=True, delete_missing=True)
    assert dry.deleted == ["datasets/kitchen/big.bin"] and "datasets/kitchen/big.bin" in keys()
    plain = upload_folder(folder, uri, s3=s3, progress=False)
    assert plain.deleted == [] and "datasets/kitchen/big.bin" in keys()
    report = upload_folder(folder, uri, s3=s3, progress=False, delete_missing=True)
    assert report.deleted == ["datasets/kitchen/big.bin"]
    assert keys() == {
        "datasets/kitchen/images/compost/a.jpg",
        "datasets/kitchen/train.lst",
        "datasets/kitchen/_READY",
        "datasets/other/keep.jpg",
    }


def test_delete_names_each_object_before_it_is_deleted(
    s3: Any, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"s3://{BUCKET}/datasets/kitchen"
    upload_folder(folder, uri, s3=s3, progress=False)
    (folder / "big.bin").unlink()
    still_there_when_named: list[bool] = []

    def announce(line: str) -> None:
        key = line.split(f"s3://{BUCKET}/", 1)[1]
        still_there_when_named.append(key in _keys(s3))
        print(line)

    report = upload_folder(folder, uri, s3=s3, progress=False, delete_missing=True, announce=announce)
    assert report.deleted == ["datasets/kitchen/big.bin"] and still_there_when_named == [True]
    assert capsys.readouterr().out.splitlines() == [f"delete: s3://{BUCKET}/datasets/kitchen/big.bin"]
    assert "datasets/kitchen/big.bin" not in _keys(s3)


def test_dry_run_delete_lists_what_would_go_and_deletes_nothing(
    s3: Any, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"s3://{BUCKET}/datasets/kitchen"
    upload_folder(folder, uri, s3=s3, progress=False)
    (folder / "train.lst").unlink()
    before = _keys(s3)
    assert main(["upload", str(folder), uri, "--delete", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"would delete: s3://{BUCKET}/datasets/kitchen/train.lst" in out
    assert f"would delete 1 object(s) no longer in {folder}" in out
    assert _keys(s3) == before


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["datasets", "kitchen", "my_set", "v1.2", "a", "-x", "x-", "", "k" * 70, "DATASETS"])
        | st.text(max_size=8),
        min_size=1,
        max_size=3,
    ).map("/".join)
)
def test_ready_is_accepted_exactly_where_the_start_training_function_starts_the_pipeline(prefix: str) -> None:
    # The function's own code, with the prefix and marker the training stack gives it.
    from lambda_src.start_training.index import DatasetError, dataset_from_event

    event = {"detail": {"object": {"key": f"{prefix.strip('/')}/{DATASET_READY_MARKER}"}}}
    try:
        started: str | None = dataset_from_event(event, DATASETS_PREFIX, DATASET_READY_MARKER)
    except DatasetError:
        started = None
    assert dataset_of_prefix(prefix) == started
