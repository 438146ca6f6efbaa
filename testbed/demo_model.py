"""A small trained model.tar.gz in about a minute on a laptop CPU, for tests and the demo.

sample -> prepare -> train (no download, 56-pixel internal resolution) with fixed seeds. The
result honours the full model contract (224x224 BGR input, labels.txt, model.json, ONNX);
it is a wiring check, not a good sorter. A finished build is reused when its parameters
match, so several test sessions (or modules) pay for one training run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sorter_common.artifact import ARCHIVE_NAME
from sorter_common.classes import DEFAULT_CLASSES
from sorter_common.training_pipeline import DEEPLENS_ARCHITECTURES, DEFAULT_ARCHITECTURE

DEMO_PER_CLASS = 100
DEMO_EPOCHS = 15
DEMO_SEED = 0
DEMO_DOWNSCALE = 4
# More, smaller steps with Adam: what a from-scratch run on 210 images needs most.
DEMO_TRAINING = {"batch_size": 8, "optimizer": "adam", "learning_rate": 0.001}
# Bump when the sample drawings, augmentation or training code change the model, so cached
# builds from older code are not reused.
# 3: colour swap and normalization as one 1x1 Convolution, SoftmaxActivation (DeepLens layers); 4: ONNX IR 7;
# 5, 6: the int8 measurement in model.json (and model.int8.onnx where it won), QDQ; 7: which onnxruntime measured it
RECIPE = 7
STAMP_FILE = "demo-model.json"


def _parameters(per_class: int, epochs: int, seed: int, downscale: int, architecture: str) -> dict[str, Any]:
    return {
        "architecture": architecture,
        "per_class": per_class,
        "epochs": epochs,
        "seed": seed,
        "downscale": downscale,
        "classes": list(DEFAULT_CLASSES),
        "training": DEMO_TRAINING,
        "recipe": RECIPE,
    }


def build_demo_model(
    workdir: Path | None = None,
    per_class: int = DEMO_PER_CLASS,
    epochs: int = DEMO_EPOCHS,
    seed: int = DEMO_SEED,
    downscale: int = DEMO_DOWNSCALE,
    progress: bool = False,
    architecture: str = DEFAULT_ARCHITECTURE,
) -> Path:
    """Return workdir/model/model.tar.gz, training it first unless a matching build is there.

    workdir also receives the generated images (sample/) and the prepared dataset (data/,
    with its test split for evaluation). Without workdir, one folder per parameter set
    under the system temporary folder is used and shared across sessions.
    """
    parameters = _parameters(per_class, epochs, seed, downscale, architecture)
    if workdir is None:
        tag = "-".join(str(parameters[key]) for key in ("architecture", "per_class", "epochs", "seed", "downscale"))
        workdir = Path(tempfile.gettempdir()) / "trash-sorter-demo-model-{}-r{}".format(tag, parameters["recipe"])
    archive_path = workdir / "model" / ARCHIVE_NAME
    stamp = workdir / STAMP_FILE
    if archive_path.is_file() and stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == parameters:
        return archive_path
    workdir.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename: a crashed or concurrent build never leaves half a model.
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=str(workdir)))
    try:
        _build(building, parameters, progress)
        for name in ("sample", "data", "model"):
            if (workdir / name).exists():
                shutil.rmtree(workdir / name)
            os.replace(building / name, workdir / name)
        stamp.write_text(json.dumps(parameters), encoding="utf-8")
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return archive_path


def _build(folder: Path, parameters: dict[str, Any], progress: bool) -> None:
    from training.sample import write_sample
    from training_job.prepare import prepare_dataset
    from training_job.train import train
    from training_job.train_config import TrainConfig

    seed = int(parameters["seed"])
    write_sample(folder / "sample", DEFAULT_CLASSES, int(parameters["per_class"]), seed=seed, progress=progress)
    prepare_dataset(folder / "sample", folder / "data", DEFAULT_CLASSES, seed=seed, progress=progress)
    train(
        TrainConfig(
            data_dir=folder / "data",
            model_dir=folder / "model",
            architecture=str(parameters["architecture"]),
            pretrained=False,
            epochs=int(parameters["epochs"]),
            batch_size=int(parameters["training"]["batch_size"]),
            optimizer=str(parameters["training"]["optimizer"]),
            learning_rate=float(parameters["training"]["learning_rate"]),
            patience=parameters["epochs"],
            downscale=int(parameters["downscale"]),
            seed=seed,
            archive=True,
            progress=progress,
        )
    )


def build_full_resolution_model(workdir: Path | None = None, architecture: str = "resnet18") -> Path:
    """An untrained model.tar.gz at full 224x224 resolution, for speed and memory benchmarks.

    Random weights cost the same to run as trained ones, so benchmarks measure the real network
    size without a long training run. Cached in workdir (default: the system temporary folder).
    """
    import mxnet as mx

    from training_job import archive, export, network

    workdir = workdir or Path(tempfile.gettempdir()) / f"trash-sorter-full-{architecture}-r{RECIPE}"
    target = workdir / "model" / ARCHIVE_NAME
    if target.is_file():
        return target
    mx.random.seed(0)
    net = network.build_network(architecture, len(DEFAULT_CLASSES), pretrained=False, contexts=[mx.cpu()])
    with tempfile.TemporaryDirectory(prefix="trash-sorter-full-") as scratch:
        staging = Path(scratch)
        deeplens = architecture in DEEPLENS_ARCHITECTURES
        _, params_file, _ = export.export_all(net, staging, deeplens=deeplens)
        info = archive.model_info(
            DEFAULT_CLASSES, archive.model_version(params_file), architecture, {}, deeplens=deeplens
        )
        archive.write_model_files(staging, DEFAULT_CLASSES, info)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(archive.pack(staging, staging / ARCHIVE_NAME)), str(target))
    return target
