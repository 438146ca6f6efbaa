"""`upload DIR s3://deeplens-.../prefix`: copy a prepared folder to S3, skipping unchanged files.

A file counts as unchanged when an object with the same key and size carries the same
sha256 in its metadata (written by this command; S3 ETags of multipart uploads are not
content hashes). Only buckets named deeplens-* are accepted: the recipe's convention,
and the only buckets the project's roles may touch.

Nothing outside DIR is read (links out of it are skipped and reported), and nothing outside one
dataset is deleted: --delete acts only on `datasets/<name>/`, only for a DIR that holds images,
and names every object before it deletes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from sorter_common.bucket_layout import BUCKET_PREFIX, DATASET_READY_MARKER, DATASETS_PREFIX
from sorter_common.training_pipeline import dataset_of_prefix
from training_job.errors import UsageError
from training_job.files import Skipped, printable, regular_files, sha256_of

SHA256_METADATA = "sha256"
MIB = 1024 * 1024
# What counts as an image when deciding whether DIR is a dataset at all (--delete, --ready).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm")
DATASET_RULE = f"s3://<bucket>/{DATASETS_PREFIX}<name>, the name letters, digits and inner hyphens"


@dataclass
class UploadReport:
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0
    dry_run: bool = False
    ready_marker: str | None = None
    deleted: list[str] = field(default_factory=list)
    not_followed: list[Skipped] = field(default_factory=list)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/some/prefix' -> ('bucket', 'some/prefix'); refuses buckets not named deeplens-*."""
    if not uri.startswith("s3://"):
        raise UsageError(f"destination {uri!r} is not an s3:// URI")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise UsageError(f"destination {uri!r} names no bucket")
    if not bucket.startswith(BUCKET_PREFIX):
        raise UsageError(f"bucket {bucket!r} does not start with {BUCKET_PREFIX!r}; refusing to upload")
    return bucket, prefix.strip("/")




def _local_files(folder: Path) -> tuple[list[Path], list[Skipped]]:
    """The files to upload (hidden ones left out) and the entries not followed out of folder."""
    files, skipped = regular_files(folder)
    visible = [p for p in files if not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return visible, [entry for entry in skipped if not entry.relative.startswith(".")]


def _check_dataset_target(folder: Path, files: list[Path], prefix: str, delete: bool, ready: bool) -> None:
    """--delete and --ready act on one dataset, and only with images to put there."""
    wanted = " and ".join(flag for flag, on in (("--delete", delete), ("--ready", ready)) if on)
    if dataset_of_prefix(prefix) is None:
        what = "deletes only inside" if delete else "starts the training pipeline only for"
        raise UsageError(f"{wanted} {what} one dataset, {DATASET_RULE}; {prefix or 'the bucket root'!r} is not one")
    if not any(path.suffix.lower() in IMAGE_SUFFIXES for path in files):
        raise UsageError(f"{folder} holds no images; refusing {wanted} (it would leave the dataset empty)")
    if ready and (folder / "manifest.json").is_file() and (folder / "train.lst").is_file():
        raise UsageError(
            f"{folder} is prepare's output, but the pipeline prepares the dataset itself: "
            "upload the folder of class folders instead"
        )


def _existing_sizes(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/" if prefix else ""):
        for entry in page.get("Contents", []):
            sizes[entry["Key"]] = int(entry["Size"])
    return sizes


def upload_folder(
    folder: Path,
    uri: str,
    dry_run: bool = False,
    s3: Any | None = None,
    progress: bool = True,
    multipart_threshold: int = 8 * MIB,
    multipart_chunksize: int = 8 * MIB,
    mark_ready: bool = False,
    delete_missing: bool = False,
    announce: Callable[[str], None] = lambda line: None,
) -> UploadReport:
    """Upload every file under folder to the S3 prefix; files already there unchanged are skipped.

    With delete_missing, objects under the prefix that are no longer in folder are deleted (the
    bucket is versioned, so they stay recoverable): a cleaned dataset then trains without the
    images taken out. With mark_ready, a `_READY` object is written last: the training stack
    starts the pipeline on it, so a half-finished upload never trains. announce gets a line for
    each object before it is deleted.
    """
    bucket, prefix = parse_s3_uri(uri)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    files, not_followed = _local_files(folder)
    if delete_missing or mark_ready:
        _check_dataset_target(folder, files, prefix, delete_missing, mark_ready)
    import boto3
    from boto3.s3.transfer import TransferConfig

    s3 = s3 or boto3.client("s3")
    existing = _existing_sizes(s3, bucket, prefix)
    report = UploadReport(dry_run=dry_run, not_followed=not_followed)
    pending: list[tuple[Path, str, str]] = []
    for path in files:
        key = "/".join(part for part in (prefix, path.relative_to(folder).as_posix()) if part)
        digest = sha256_of(path)
        if existing.get(key) == path.stat().st_size:
            metadata = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {})
            if metadata.get(SHA256_METADATA) == digest:
                report.skipped.append(key)
                continue
        pending.append((path, key, digest))
    total = sum(path.stat().st_size for path, _, _ in pending)
    config = TransferConfig(multipart_threshold=multipart_threshold, multipart_chunksize=multipart_chunksize)
    with tqdm(
        total=total,
        desc="upload" if not dry_run else "upload (dry run)",
        unit="B",
        unit_scale=True,
        disable=not progress,
    ) as bar:
        for path, key, digest in pending:
            if not dry_run:
                s3.upload_file(
                    str(path),
                    bucket,
                    key,
                    ExtraArgs={"Metadata": {SHA256_METADATA: digest}},
                    Config=config,
                    Callback=bar.update,
                )
            else:
                bar.update(path.stat().st_size)
            report.uploaded.append(key)
            report.bytes_uploaded += path.stat().st_size
    marker = "/".join(part for part in (prefix, DATASET_READY_MARKER) if part)
    if delete_missing:
        kept = set(report.uploaded) | set(report.skipped) | {marker}
        report.deleted = sorted(key for key in existing if key not in kept)
        for key in report.deleted:
            announce(f"{'would delete' if dry_run else 'delete'}: s3://{bucket}/{printable(key)}")
        if not dry_run:
            for start in range(0, len(report.deleted), 1000):  # DeleteObjects takes 1000 keys a call
                batch = [{"Key": key} for key in report.deleted[start : start + 1000]]
                s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    if mark_ready and not dry_run:
        s3.put_object(Bucket=bucket, Key=marker, Body=b"")
        report.ready_marker = marker
    return report
