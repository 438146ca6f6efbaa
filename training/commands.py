"""The subcommands of `python -m training` for the operator's data: sample, prepare, upload, train, evaluate.

prepare, train and evaluate are the container's own commands (training_job.commands).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training import sample
from training.cli import Command, register
from training_job.cli import positive
from training_job.commands import EVALUATE, PREPARE, TRAIN, classes_option

# --- sample -----------------------------------------------------------------------------------


def _configure_sample(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", metavar="DIR", type=Path, help="folder to write <class>/<image>.jpg into")
    parser.add_argument("--per-class", type=positive, default=sample.DEFAULT_PER_CLASS, help="images per class")
    parser.add_argument("--seed", type=int, default=0, help="the same seed always draws the same images")
    parser.add_argument("--size", type=positive, default=sample.DEFAULT_IMAGE_SIZE, help="image side in pixels")
    classes_option(parser)


def _run_sample(args: argparse.Namespace) -> int:
    counts = sample.write_sample(args.out_dir, args.classes, args.per_class, args.seed, args.size)
    print(f"wrote {sum(counts.values())} images to {args.out_dir}")
    return 0


# --- upload -----------------------------------------------------------------------------------


def _configure_upload(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "folder",
        metavar="DIR",
        type=Path,
        help="dataset folder to upload (class folders of images); links out of it are skipped",
    )
    parser.add_argument("destination", metavar="S3_URI", help="s3://deeplens-<name>/datasets/<dataset>")
    parser.add_argument("--dry-run", action="store_true", help="say what would be uploaded, upload nothing")
    parser.add_argument(
        "--delete",
        action="store_true",
        help="delete objects under datasets/<dataset>/ that are no longer in DIR (listed before they go); "
        "refused for any other prefix and for a DIR without images",
    )
    parser.add_argument(
        "--ready",
        action="store_true",
        help="write datasets/<dataset>/_READY last, which starts the training pipeline on the dataset",
    )


def _run_upload(args: argparse.Namespace) -> int:
    from training.errors import aws_errors
    from training.upload import upload_folder
    from training_job.files import printable

    with aws_errors():
        report = upload_folder(
            args.folder,
            args.destination,
            dry_run=args.dry_run,
            mark_ready=args.ready,
            delete_missing=args.delete,
            announce=print,
        )
    for entry in report.not_followed:
        print(f"problem: {printable(entry.relative)}: {entry.reason}", file=sys.stderr)
    verb = "would upload" if report.dry_run else "uploaded"
    counts = f"{len(report.uploaded)} file(s) ({report.bytes_uploaded} bytes)"
    print(f"{verb} {counts}, skipped {len(report.skipped)} unchanged")
    if report.deleted:
        deleting = "would delete" if report.dry_run else "deleted"
        print(f"{deleting} {len(report.deleted)} object(s) no longer in {args.folder}")
    if report.ready_marker:
        print(f"marked ready: {report.ready_marker} (the training pipeline starts on it)")
    return 0


register(Command("sample", "write a small synthetic dataset (one folder per class)", _configure_sample, _run_sample))
register(PREPARE)
register(Command("upload", "upload a prepared dataset to s3://deeplens-...", _configure_upload, _run_upload))
register(TRAIN)
register(EVALUATE)
