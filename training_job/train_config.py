"""The training run's settings: SageMaker hyperparameters and environment, or local options.

Kept apart from train.py so `python -m training --help` and the pipeline code can read the
options without importing MXNet.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sorter_common.training_pipeline import ARCHITECTURES, DEFAULT_ARCHITECTURE

# 224 divided by these stays a whole number: 224, 112, 56 pixels inside the network.
DOWNSCALES = (1, 2, 4)


@dataclass
class TrainConfig:
    data_dir: Path
    model_dir: Path
    output_data_dir: Path | None = None
    architecture: str = DEFAULT_ARCHITECTURE
    pretrained: bool = True
    # The weights file (Gluon zoo layout) when pretrained; see training_job/pretrained.py.
    pretrained_weights: Path | None = None
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    optimizer: str = "sgd"
    warmup_epochs: int = 0
    freeze_epochs: int = 0
    patience: int = 5
    downscale: int = 1
    seed: int = 0
    model_version: str | None = None
    archive: bool = True
    progress: bool = True


def parse_bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _default_channel() -> str | None:
    """SageMaker's data channel: 'training' by convention, else the only channel given."""
    for name in ("SM_CHANNEL_TRAINING", "SM_CHANNEL_TRAIN", "SM_CHANNEL_DATA"):
        if os.environ.get(name):
            return os.environ[name]
    channels = json.loads(os.environ.get("SM_CHANNELS", "[]"))
    if len(channels) == 1:
        return os.environ.get("SM_CHANNEL_" + channels[0].upper())
    return None


def _pretrained_channel() -> str | None:
    """SageMaker's pretrained channel (the bucket's pretrained/ prefix), when the job has one."""
    return os.environ.get("SM_CHANNEL_PRETRAINED")


def in_sagemaker() -> bool:
    return "SM_MODEL_DIR" in os.environ or "SM_TRAINING_ENV" in os.environ


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by `python -m training train` and SageMaker's hyperparameters."""
    parser.add_argument(
        "data_dir", nargs="?", default=_default_channel(), help="prepared data folder (SM_CHANNEL_TRAINING)"
    )
    parser.add_argument(
        "model_dir", nargs="?", default=os.environ.get("SM_MODEL_DIR"), help="where the model goes (SM_MODEL_DIR)"
    )
    parser.add_argument(
        "--output-data-dir", default=os.environ.get("SM_OUTPUT_DATA_DIR"), help="training history (SM_OUTPUT_DATA_DIR)"
    )
    parser.add_argument("--architecture", "--arch", choices=sorted(ARCHITECTURES), default=DEFAULT_ARCHITECTURE)
    parser.add_argument(
        "--pretrained",
        type=parse_bool,
        default=True,
        help="start from ImageNet weights (true/false): --pretrained-weights, or the pretrained channel",
    )
    parser.add_argument("--no-pretrained", dest="pretrained", action="store_false", help="random initial weights")
    parser.add_argument(
        "--pretrained-weights",
        type=Path,
        default=None,
        metavar="FILE",
        help="ImageNet weights in the Gluon zoo layout (python -m training weights --out FILE)",
    )
    parser.add_argument(
        "--pretrained-sha256",
        default=None,
        help="the weights file's pinned sha256 (required for the pretrained channel in SageMaker)",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", "--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", "--wd", type=float, default=1e-4)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    parser.add_argument(
        "--warmup-epochs", type=int, default=0, help="linear learning-rate warm-up before the cosine decay"
    )
    parser.add_argument(
        "--freeze-epochs", type=int, default=0, help="train only the new output layer for this many epochs"
    )
    parser.add_argument(
        "--patience", type=int, default=5, help="stop after this many epochs without a better validation accuracy"
    )
    parser.add_argument(
        "--downscale",
        type=int,
        choices=DOWNSCALES,
        default=1,
        help="average-pool the 224x224 input by this factor inside the network (fast CPU runs)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-version", default=None, help="version in model.json (default: params hash)")
    parser.add_argument(
        "--archive", type=parse_bool, default=None, help="pack model.tar.gz (default: only outside SageMaker)"
    )
    parser.add_argument("--quiet", dest="progress", action="store_false", help="no progress bars")
    # SageMaker passes every hyperparameter as `--name value` (a flag cannot be one): progress false.
    parser.add_argument("--progress", type=parse_bool, default=True, help="progress bars (true/false)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    if not args.data_dir or not args.model_dir:
        raise ValueError(
            "give DATA and MODEL_DIR (or run inside SageMaker, which sets SM_CHANNEL_TRAINING and SM_MODEL_DIR)"
        )
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError("--{} must be at least 1".format(name.replace("_", "-")))
    return TrainConfig(
        pretrained_weights=_pretrained_weights(args) if args.pretrained else None,
        data_dir=Path(args.data_dir),
        model_dir=Path(args.model_dir),
        output_data_dir=Path(args.output_data_dir) if args.output_data_dir else None,
        architecture=args.architecture,
        pretrained=args.pretrained,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        optimizer=args.optimizer,
        warmup_epochs=args.warmup_epochs,
        freeze_epochs=args.freeze_epochs,
        patience=args.patience,
        downscale=args.downscale,
        seed=args.seed,
        model_version=args.model_version,
        archive=(not in_sagemaker()) if args.archive is None else args.archive,
        progress=args.progress,
    )


def _pretrained_weights(args: argparse.Namespace) -> Path:
    """The weights file to start from: --pretrained-weights, else SageMaker's pretrained channel,
    checked against --pretrained-sha256 (always in SageMaker: the channel is a bucket prefix)."""
    from training_job import pretrained

    if args.pretrained_weights is not None:
        path = Path(args.pretrained_weights)
        if not path.is_file():
            raise ValueError(f"--pretrained-weights {path}: no such file")
        if args.pretrained_sha256:
            pretrained.verify_checksum(path, args.pretrained_sha256)
        return path
    channel = _pretrained_channel()
    if channel:
        path = pretrained.find_in_channel(Path(channel), args.architecture)
        pretrained.verify_checksum(path, args.pretrained_sha256)
        return path
    raise ValueError(
        "no pretrained weights: pass --pretrained-weights FILE (python -m training weights --out FILE "
        "fetches them) or --no-pretrained"
    )


def drop_unknown_options(argv: Sequence[str], known: set[str]) -> tuple[list[str], list[str]]:
    """Split argv into what the parser knows and unknown `--name [value]` options."""
    kept: list[str] = []
    ignored: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        name = token.split("=", 1)[0]
        if token.startswith("--") and name not in known:
            ignored.append(token)
            if "=" not in token and index + 1 < len(argv) and not argv[index + 1].startswith("--"):
                ignored.append(argv[index + 1])
                index += 1
        else:
            kept.append(token)
        index += 1
    return kept, ignored
