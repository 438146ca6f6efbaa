"""The training entry point: SageMaker script mode (MXNet 1.9 container) and local runs alike.

In SageMaker the data channel, model folder and hyperparameters come from SM_CHANNEL_*,
SM_MODEL_DIR and command-line arguments; locally they are plain paths and options
(`python -m training train DATA MODEL_DIR`). SageMaker packs SM_MODEL_DIR into model.tar.gz
itself, so there the artifact files are written loose; locally they are packed here.

Metrics are printed as `name=value` pairs that sorter_common.training_pipeline.METRIC_DEFINITIONS' regexes parse.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (SageMaker: `python training_job/train.py ...` from the bundled source
    # folder): make the folder holding the training_job and sorter_common packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import json
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from tqdm import tqdm

from sorter_common.artifact import ARCHIVE_NAME, INT8_ONNX_FILE, LABELS_FILE
from sorter_common.classes import parse_labels
from sorter_common.model_input import INPUT_SIZE
from sorter_common.training_pipeline import DEEPLENS_ARCHITECTURES
from training_job import archive, data, export, network, quantize
from training_job.errors import UsageError
from training_job.train_config import TrainConfig, add_arguments, config_from_args, drop_unknown_options


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    train_accuracy: float
    validation_accuracy: float | None
    seconds: float


@dataclass
class TrainResult:
    classes: list[str]
    best_epoch: int
    history: list[EpochResult]
    metrics: dict[str, float]
    model_dir: Path
    archive: Path | None
    images_per_second: float


def seed_everything(seed: int) -> None:
    mx.random.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _trainer(net: network.EdgeClassifier, config: TrainConfig, steps_per_epoch: int) -> gluon.Trainer:
    total = max(1, config.epochs * steps_per_epoch)
    warmup = min(config.warmup_epochs * steps_per_epoch, total - 1)
    schedule = mx.lr_scheduler.CosineScheduler(
        max_update=total, base_lr=config.learning_rate, final_lr=config.learning_rate * 0.01, warmup_steps=warmup
    )
    options: dict[str, Any] = {
        "learning_rate": config.learning_rate,
        "wd": config.weight_decay,
        "lr_scheduler": schedule,
    }
    if config.optimizer == "sgd":
        options["momentum"] = config.momentum
    return gluon.Trainer(net.collect_params(), config.optimizer, options)


def accuracy(
    net: network.EdgeClassifier, images: data.LabelledImages, config: TrainConfig, contexts: Sequence[mx.Context]
) -> float:
    """Top-1 accuracy on evaluation views (the edge's resize, no augmentation)."""
    correct = 0
    rng = random.Random(0)
    for batch, labels in data.iterate_batches(images, config.batch_size, INPUT_SIZE, rng, train=False):
        scores = net(mx.nd.array(batch, ctx=contexts[0]))
        correct += int((scores.argmax(axis=1).asnumpy() == labels).sum())
    return correct / max(1, len(images))


def log_metrics(epoch: int, result: EpochResult) -> None:
    """One line SageMaker metric definitions can parse, e.g. validation:accuracy=0.912."""
    parts = [f"epoch={epoch}", f"train:loss={result.train_loss:.4f}", f"train:accuracy={result.train_accuracy:.4f}"]
    if result.validation_accuracy is not None:
        parts.append(f"validation:accuracy={result.validation_accuracy:.4f}")
    parts.append(f"seconds={result.seconds:.1f}")
    print(" ".join(parts), flush=True)


def train_epoch(
    net: network.EdgeClassifier,
    trainer: gluon.Trainer,
    images: data.LabelledImages,
    weights: mx.nd.NDArray,
    config: TrainConfig,
    contexts: Sequence[mx.Context],
    rng: random.Random,
    epoch: int,
) -> EpochResult:
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    start = time.time()
    total_loss, correct, seen = 0.0, 0, 0
    batches = data.iterate_batches(images, config.batch_size, INPUT_SIZE, rng, train=True)
    steps = data.batch_count(len(images), config.batch_size)
    for batch, labels in tqdm(
        batches, total=steps, desc=f"epoch {epoch}", unit="batch", disable=not config.progress, leave=False
    ):
        parts = gluon.utils.split_and_load(batch, contexts, even_split=False)
        label_parts = gluon.utils.split_and_load(labels, contexts, even_split=False)
        with autograd.record():
            outputs = [net(x) for x in parts]
            # Class-imbalance handling: each sample's loss is weighted by its class's weight.
            losses = [
                loss_fn(out, y, weights.as_in_context(y.context).take(y).reshape((-1, 1)))
                for out, y in zip(outputs, label_parts)
            ]
        autograd.backward(losses)
        trainer.step(len(labels))
        for out, y, loss in zip(outputs, label_parts, losses):
            total_loss += float(loss.sum().asscalar())
            correct += int((out.argmax(axis=1) == y).sum().asscalar())
        seen += len(labels)
    return EpochResult(epoch, total_loss / max(1, seen), correct / max(1, seen), None, time.time() - start)


def train(config: TrainConfig) -> TrainResult:
    """Train, keep the best epoch, export and write the model artifact into config.model_dir."""
    seed_everything(config.seed)
    contexts = network.contexts_available()
    classes = parse_labels((config.data_dir / LABELS_FILE).read_text(encoding="utf-8"))
    cache_side = int(INPUT_SIZE * 1.15)  # enough pixels for a random crop at the input size
    train_images = data.LabelledImages(config.data_dir, "train.lst", max_side=cache_side)
    validation_images = data.LabelledImages(config.data_dir, "validation.lst", max_side=cache_side)
    if len(train_images) == 0:
        raise ValueError("{} has no training images".format(config.data_dir / "train.lst"))
    net = network.build_network(
        config.architecture, len(classes), config.pretrained_weights, contexts, config.downscale
    )
    net.hybridize(static_alloc=True)
    steps_per_epoch = data.batch_count(len(train_images), config.batch_size)
    trainer = _trainer(net, config, steps_per_epoch)
    weights = mx.nd.array(data.class_weights(train_images.labels, len(classes)))
    rng = random.Random(config.seed)
    history: list[EpochResult] = []
    best_accuracy, best_epoch = -1.0, 0
    trained_images, trained_seconds = 0, 0.0
    with tempfile.TemporaryDirectory(prefix="trash-sorter-train-") as scratch:
        best_params = Path(scratch) / "best.params"
        for epoch in range(1, config.epochs + 1):
            network.set_backbone_trainable(net, trainable=epoch > config.freeze_epochs)
            result = train_epoch(net, trainer, train_images, weights, config, contexts, rng, epoch)
            trained_images += len(train_images)
            trained_seconds += result.seconds
            # With no validation images, the training accuracy decides the best epoch.
            score = result.train_accuracy
            if len(validation_images):
                result.validation_accuracy = accuracy(net, validation_images, config, contexts)
                score = result.validation_accuracy
            history.append(result)
            log_metrics(epoch, result)
            if score >= best_accuracy:  # ties go to the later, longer-trained epoch
                best_accuracy, best_epoch = score, epoch
                net.save_parameters(str(best_params))
            elif epoch - best_epoch >= config.patience:
                print(f"early stop: no better validation accuracy for {config.patience} epochs", flush=True)
                break
        net.load_parameters(str(best_params), ctx=contexts)
    best = history[best_epoch - 1]
    metrics = {"train:loss": best.train_loss, "train:accuracy": best.train_accuracy, "best_epoch": float(best_epoch)}
    if best.validation_accuracy is not None:
        metrics["validation:accuracy"] = best.validation_accuracy
    print(f"best epoch {best_epoch}: accuracy {best_accuracy:.4f} (validation, or training without one)", flush=True)
    archive_path = write_artifact(net, classes, metrics, config)
    if config.output_data_dir is not None:
        config.output_data_dir.mkdir(parents=True, exist_ok=True)
        (config.output_data_dir / "training-history.json").write_text(
            json.dumps([asdict(entry) for entry in history], indent=2) + "\n", encoding="utf-8"
        )
    return TrainResult(
        classes=classes,
        best_epoch=best_epoch,
        history=history,
        metrics=metrics,
        model_dir=config.model_dir,
        archive=archive_path,
        images_per_second=trained_images / max(trained_seconds, 1e-9),
    )


def _hyperparameters(config: TrainConfig) -> dict[str, Any]:
    keep = (
        "architecture",
        "pretrained",
        "epochs",
        "batch_size",
        "learning_rate",
        "momentum",
        "weight_decay",
        "optimizer",
        "warmup_epochs",
        "freeze_epochs",
        "patience",
        "downscale",
        "seed",
    )
    return {key: getattr(config, key) for key in keep}


def write_artifact(
    net: network.EdgeClassifier, classes: list[str], metrics: dict[str, float], config: TrainConfig
) -> Path | None:
    """Export into model_dir (loose files, as SageMaker wants) or pack model_dir/model.tar.gz."""
    config.model_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trash-sorter-export-") as scratch:
        staging = config.model_dir if not config.archive else Path(scratch)
        deeplens = config.architecture in DEEPLENS_ARCHITECTURES
        _, params_file, onnx_file = export.export_all(net, staging, deeplens=deeplens)
        int8 = quantize.quantize_and_measure(onnx_file, staging / INT8_ONNX_FILE, config.data_dir)
        print(f"int8: {int8['reason']}", flush=True)
        version = config.model_version or archive.model_version(params_file)
        info = archive.model_info(
            classes, version, config.architecture, metrics, _hyperparameters(config), int8=int8, deeplens=deeplens
        )
        archive.write_model_files(staging, classes, info)
        if not config.archive:
            return None
        target = archive.pack(staging, Path(scratch) / ARCHIVE_NAME)
        final = config.model_dir / ARCHIVE_NAME
        shutil.move(str(target), str(final))
        return final


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    args_list = list(sys.argv[1:] if argv is None else argv)
    # SageMaker may pass hyperparameters this script does not know (`--name value`): say so and
    # drop them before parsing, or their values would be taken for DATA and MODEL_DIR.
    known_options = {option for action in parser._actions for option in action.option_strings}
    kept, ignored = drop_unknown_options(args_list, known_options)
    if ignored:
        print("ignoring unknown arguments: {}".format(" ".join(ignored)), file=sys.stderr)
    args = parser.parse_args(kept)
    try:
        config = config_from_args(args)
        train(config)
    except (UsageError, ValueError) as error:
        # One line: SageMaker shows the job's last log lines as its failure reason.
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
