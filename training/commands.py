"""The dataset, training and evaluation subcommands of `python -m training`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sorter_common.classes import DEFAULT_CLASSES
from training import sample, split, validate
from training.cli import Command, register, split_list
from training.errors import UsageError


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _classes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--classes",
        type=split_list,
        default=list(DEFAULT_CLASSES),
        help="comma-separated class ids (default: %(default)s)",
    )


# --- sample -----------------------------------------------------------------------------------


def _configure_sample(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", metavar="DIR", type=Path, help="folder to write <class>/<image>.jpg into")
    parser.add_argument("--per-class", type=_positive, default=sample.DEFAULT_PER_CLASS, help="images per class")
    parser.add_argument("--seed", type=int, default=0, help="the same seed always draws the same images")
    parser.add_argument("--size", type=_positive, default=sample.DEFAULT_IMAGE_SIZE, help="image side in pixels")
    _classes_option(parser)


def _run_sample(args: argparse.Namespace) -> int:
    counts = sample.write_sample(args.out_dir, args.classes, args.per_class, args.seed, args.size)
    print(f"wrote {sum(counts.values())} images to {args.out_dir}")
    return 0


# --- prepare ----------------------------------------------------------------------------------


def _configure_prepare(parser: argparse.ArgumentParser) -> None:
    from training.dataset_zip import DEFAULT_MAX_UNZIPPED_BYTES, GIB, describe_limit

    parser.add_argument("source", metavar="SRC", type=Path, help="folder of class folders, or a .zip of one")
    parser.add_argument(
        "out_dir",
        metavar="OUT",
        type=Path,
        help="prepared folder (images, .lst, manifest.json): new, empty, or a previous prepare's OUT; "
        "never inside SRC. A re-run replaces only the files the previous run wrote",
    )
    _classes_option(parser)
    parser.add_argument("--split", default="70/20/10", help="train/validation/test parts (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed always gives the same split")
    parser.add_argument(
        "--min-side", type=_positive, default=validate.DEFAULT_MIN_SIDE, help="smallest usable image side"
    )
    parser.add_argument("--min-per-class", type=_positive, default=validate.DEFAULT_MIN_PER_CLASS)
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when any file has a problem")
    parser.add_argument(
        "--zip-limit",
        type=_positive,
        default=DEFAULT_MAX_UNZIPPED_BYTES // GIB,
        metavar="GIB",
        help=f"a .zip SRC may expand to {describe_limit()} (this option sets the GiB; default %(default)s)",
    )


def _run_prepare(args: argparse.Namespace) -> int:
    from training.prepare import prepare_dataset  # PIL-only path; keeps `--help` fast

    fractions = split.parse_fractions(args.split)
    from training.dataset_zip import GIB

    result = prepare_dataset(
        args.source,
        args.out_dir,
        args.classes,
        fractions,
        args.seed,
        args.min_side,
        args.min_per_class,
        zip_limit=args.zip_limit * GIB,
    )
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    totals = result.manifest["totals"]
    print(
        "prepared {}: train {}, validation {}, test {}; {} problem(s)".format(
            args.out_dir, totals["train"], totals["validation"], totals["test"], len(result.problems)
        )
    )
    return 1 if args.strict and result.problems else 0


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
    from training.files import printable
    from training.upload import upload_folder

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


# --- train ------------------------------------------------------------------------------------


def _configure_train(parser: argparse.ArgumentParser) -> None:
    from training.train_config import add_arguments

    add_arguments(parser)


def _run_train(args: argparse.Namespace) -> int:
    from training.train import train
    from training.train_config import config_from_args

    config = config_from_args(args)
    if not (config.data_dir / "train.lst").is_file():
        raise UsageError(
            f"{config.data_dir} is not a prepared folder (no train.lst); run `python -m training prepare` first"
        )
    result = train(config)
    print(f"model: {result.archive or result.model_dir}")
    return 0


# --- evaluate ---------------------------------------------------------------------------------


def _configure_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_tar", metavar="MODEL_TAR", type=Path, help="model.tar.gz from train")
    parser.add_argument("data_dir", metavar="DATA", type=Path, help="prepared folder")
    parser.add_argument("out_dir", metavar="OUT", type=Path, help="where evaluation.json and confusion_matrix.png go")
    parser.add_argument("--split", choices=split.SPLITS, default="test")
    parser.add_argument("--runtime", choices=("mxnet", "onnx"), default="mxnet")


def _run_evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate

    evaluate(args.model_tar, args.data_dir, args.out_dir, args.split, args.runtime)
    return 0


register(Command("sample", "write a small synthetic dataset (one folder per class)", _configure_sample, _run_sample))
register(Command("prepare", "validate, split and write .lst manifests for a dataset", _configure_prepare, _run_prepare))
register(Command("upload", "upload a prepared dataset to s3://deeplens-...", _configure_upload, _run_upload))
register(
    Command("train", "train and export a model (the SageMaker entry point, run locally)", _configure_train, _run_train)
)
register(Command("evaluate", "evaluate a model.tar.gz on the test split", _configure_evaluate, _run_evaluate))
