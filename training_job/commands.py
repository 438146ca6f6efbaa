"""The commands the pipeline's jobs run: prepare, train, evaluate.

`python -m training_job <command>` in the container (pipeline_entry.py), and the same commands
under `python -m training <command>` on a laptop: one definition of their options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sorter_common.classes import DEFAULT_CLASSES
from training_job import split, validate
from training_job.cli import Command, positive, split_list
from training_job.errors import UsageError


def classes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--classes",
        type=split_list,
        default=list(DEFAULT_CLASSES),
        help="comma-separated class ids (default: %(default)s)",
    )


# --- prepare ----------------------------------------------------------------------------------


def _configure_prepare(parser: argparse.ArgumentParser) -> None:
    from training_job.dataset_zip import DEFAULT_MAX_UNZIPPED_BYTES, GIB, describe_limit

    parser.add_argument("source", metavar="SRC", type=Path, help="folder of class folders, or a .zip of one")
    parser.add_argument(
        "out_dir",
        metavar="OUT",
        type=Path,
        help="prepared folder (images, .lst, manifest.json): new, empty, or a previous prepare's OUT; "
        "never inside SRC. A re-run replaces only the files the previous run wrote",
    )
    classes_option(parser)
    parser.add_argument("--split", default="70/20/10", help="train/validation/test parts (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed always gives the same split")
    parser.add_argument(
        "--min-side", type=positive, default=validate.DEFAULT_MIN_SIDE, help="smallest usable image side"
    )
    parser.add_argument("--min-per-class", type=positive, default=validate.DEFAULT_MIN_PER_CLASS)
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when any file has a problem")
    parser.add_argument(
        "--zip-limit",
        type=positive,
        default=DEFAULT_MAX_UNZIPPED_BYTES // GIB,
        metavar="GIB",
        help=f"a .zip SRC may expand to {describe_limit()} (this option sets the GiB; default %(default)s)",
    )


def _run_prepare(args: argparse.Namespace) -> int:
    from training_job.prepare import prepare_dataset  # PIL-only path; keeps `--help` fast

    fractions = split.parse_fractions(args.split)
    from training_job.dataset_zip import GIB

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


# --- train ------------------------------------------------------------------------------------


def _configure_train(parser: argparse.ArgumentParser) -> None:
    from training_job.train_config import add_arguments

    add_arguments(parser)


def _run_train(args: argparse.Namespace) -> int:
    from training_job.train import train
    from training_job.train_config import config_from_args

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
    from training_job.evaluate import evaluate

    evaluate(args.model_tar, args.data_dir, args.out_dir, args.split, args.runtime)
    return 0


PREPARE = Command("prepare", "validate, split and write .lst manifests for a dataset", _configure_prepare, _run_prepare)
TRAIN = Command(
    "train", "train and export a model (the SageMaker entry point, run locally)", _configure_train, _run_train
)
EVALUATE = Command("evaluate", "evaluate a model.tar.gz on the test split", _configure_evaluate, _run_evaluate)
JOB_COMMANDS = (PREPARE, TRAIN, EVALUATE)
