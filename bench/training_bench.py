"""Training benchmark: data-pipeline overhead, edge inference speed, training memory.

run() returns {"name": {"value": number, "unit": "...", "goal": "..."}}; everything runs on
the CPU with data generated here, in about two minutes.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from numpy.typing import NDArray

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from edge_core.backends import MxnetBackend, OnnxBackend  # noqa: E402
from sorter_common.model_input import INPUT_SIZE  # noqa: E402
from training.sample import write_sample  # noqa: E402
from training_job import data, export, network  # noqa: E402
from training_job.prepare import prepare_dataset  # noqa: E402

BATCH = 16
DOWNSCALE = 4  # the quick CPU configuration the tests and the demo train with
TIMED_BATCHES = 8
FRAMES = 30


def _train_step(net: network.EdgeClassifier, trainer: gluon.Trainer, batch: NDArray[Any], labels: NDArray[Any]) -> None:
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    x, y = mx.nd.array(batch), mx.nd.array(labels)
    with autograd.record():
        loss = loss_fn(net(x), y)
    loss.backward()
    trainer.step(len(labels))
    loss.wait_to_read()


def _throughput(prepared: Path) -> dict[str, float]:
    """Images/s through the real pipeline (decode cache, augmentation, batching) and on one fixed batch."""
    mx.random.seed(0)
    images = data.LabelledImages(prepared, "train.lst", max_side=int(INPUT_SIZE * 1.15))
    net = network.build_network("resnet18", 3, pretrained=False, contexts=[mx.cpu()], downscale=DOWNSCALE)
    net.hybridize(static_alloc=True)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.001})
    rng = random.Random(0)
    fixed_batch, fixed_labels = next(data.iterate_batches(images, BATCH, INPUT_SIZE, rng, train=True))
    for _ in range(2):  # warm-up: graph building and memory allocation
        _train_step(net, trainer, fixed_batch, fixed_labels)

    start = time.perf_counter()
    done = 0
    while done < TIMED_BATCHES:
        for batch, labels in data.iterate_batches(images, BATCH, INPUT_SIZE, rng, train=True):
            if len(labels) != BATCH:
                continue
            _train_step(net, trainer, batch, labels)
            done += 1
            if done == TIMED_BATCHES:
                break
    real = TIMED_BATCHES * BATCH / (time.perf_counter() - start)

    start = time.perf_counter()
    for _ in range(TIMED_BATCHES):
        _train_step(net, trainer, fixed_batch, fixed_labels)
    bare = TIMED_BATCHES * BATCH / (time.perf_counter() - start)
    return {"real": real, "bare": bare}


def _inference(model_dir: Path) -> dict[str, float]:
    """ms per single 224x224 frame of the full-resolution ResNet-18 export, MXNet vs ONNX Runtime."""
    mx.random.seed(0)
    net = network.build_network("resnet18", 3, pretrained=False, contexts=[mx.cpu()])
    export.export_all(net, model_dir)
    frames = np.random.RandomState(0).uniform(0, 255, (FRAMES, 1, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)
    result = {}
    for backend in (MxnetBackend(str(model_dir)), OnnxBackend(str(model_dir))):
        for frame in frames[:3]:
            backend.infer_batch(frame)
        start = time.perf_counter()
        for frame in frames:
            backend.infer_batch(frame)
        result[backend.name] = (time.perf_counter() - start) * 1000 / FRAMES
    return result


def _training_peak_memory(prepared: Path, model_dir: Path) -> float:
    """Peak resident memory (MiB) of `python -m training train` on the sample data, in a child process."""
    train_args = [
        str(prepared),
        str(model_dir),
        "--no-pretrained",
        "--epochs",
        "2",
        "--downscale",
        str(DOWNSCALE),
        "--batch-size",
        str(BATCH),
        "--quiet",
    ]
    # The child reports its own peak (bench/memory.py says why not ru_maxrss).
    probe = (
        "import runpy, sys\n"
        "from bench.memory import high_water_mib\n"
        "sys.argv = ['training', 'train'] + sys.argv[1:]\n"
        "try:\n"
        "    runpy.run_module('training', run_name='__main__')\n"
        "finally:\n"
        "    print('PEAK_RSS_MIB=%.1f' % high_water_mib(), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe, *train_args], cwd=REPO_ROOT, capture_output=True, text=True)
    peaks = [line.split("=", 1)[1] for line in result.stderr.splitlines() if line.startswith("PEAK_RSS_MIB=")]
    if result.returncode != 0 or not peaks:
        raise RuntimeError("training run failed: " + result.stderr[-2000:])
    return float(peaks[-1])


def run() -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="training-bench-") as scratch:
        root = Path(scratch)
        write_sample(root / "sample", per_class=30, seed=0, progress=False)
        prepare_dataset(root / "sample", root / "data", seed=0, progress=False)
        speed = _throughput(root / "data")
        inference = _inference(root / "export")
        peak = _training_peak_memory(root / "data", root / "model")
    return {
        "train_throughput_real_pipeline": {
            "value": round(speed["real"], 1),
            "unit": "images/s",
            "goal": "report (ResNet-18, 224 input pooled to 56, batch 16, CPU)",
        },
        "train_throughput_bare_loop": {
            "value": round(speed["bare"], 1),
            "unit": "images/s",
            "goal": "report (same batch, forward/backward/step only)",
        },
        "train_pipeline_ratio": {"value": round(speed["real"] / speed["bare"], 3), "unit": "ratio", "goal": ">= 0.8"},
        "inference_ms_per_frame_mxnet": {
            "value": round(inference["mxnet"], 2),
            "unit": "ms/frame",
            "goal": "report (ResNet-18 224x224, batch 1, CPU)",
        },
        "inference_ms_per_frame_onnxruntime": {
            "value": round(inference["onnxruntime"], 2),
            "unit": "ms/frame",
            "goal": "report (ResNet-18 224x224, batch 1, CPU)",
        },
        "inference_onnxruntime_speedup": {
            "value": round(inference["mxnet"] / inference["onnxruntime"], 2),
            "unit": "x",
            "goal": ">= 1.3",
        },
        "training_peak_memory": {
            "value": round(peak, 1),
            "unit": "MiB",
            "goal": "report (2 epochs on 90 sample images, child process)",
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
