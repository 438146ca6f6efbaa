"""Edge inference loop vs bare ONNX Runtime on the same frames, with a full 224x224 ResNet-18.

The loop is the whole edge path (read frame, preprocess, infer, smooth, build message, publish to
a no-op); bare is InferenceSession.run on already prepared input. Peak memory is the RSS high
mark of a fresh process that only loads the model and runs the loop.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

FRAMES = 300
WARMUP = 20


def _frames(data: Path) -> list[Any]:
    import cv2

    paths = [data / line.split("\t")[2] for line in (data / "test.lst").read_text().splitlines()]
    return [cv2.imread(str(path)) for path in paths]


def _measure(model_archive: Path, data: Path) -> dict[str, float]:
    from bench.memory import high_water_mib
    from edge_core.backends import OnnxBackend
    from edge_core.frames import FrameSource
    from edge_core.loop import InferenceLoop
    from edge_core.messages import MessageBuilder
    from edge_core.model_files import read_model_info
    from edge_core.policy import PublishPolicy
    from edge_core.smoothing import Smoother
    from sorter_common.model_input import to_model_input

    folder = Path(tempfile.mkdtemp(prefix="inference-bench-"))
    with tarfile.open(model_archive) as archive:
        archive.extractall(folder, filter="data")
    frames = _frames(data)
    backend = OnnxBackend(str(folder), threads=1)
    labels = read_model_info(str(folder)).labels

    class Cycle(FrameSource):
        def __init__(self) -> None:
            self._frames = itertools.cycle(frames)

        def read(self) -> Any:
            return next(self._frames)

    loop = InferenceLoop(
        Cycle(), backend, Smoother(labels), PublishPolicy(30.0, 0.0), MessageBuilder("bench"), lambda t, p: None
    )
    inputs = [to_model_input(frame) for frame in frames]
    name = backend.session.get_inputs()[0].name
    for index in range(WARMUP):
        backend.session.run(None, {name: inputs[index % len(inputs)]})
        loop.step()
    # Interleaved, so both see the same machine load.
    bare: list[float] = []
    steps: list[float] = []
    for index in range(FRAMES):
        started = time.perf_counter()
        backend.session.run(None, {name: inputs[index % len(inputs)]})
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        loop.step()
        steps.append(time.perf_counter() - started)
    return {
        "loop_fps": len(steps) / sum(steps),
        "bare_fps": len(bare) / sum(bare),
        "p50_ms": float(np.percentile(steps, 50) * 1000),
        "p99_ms": float(np.percentile(steps, 99) * 1000),
        "peak_rss_mib": high_water_mib(),
    }


def run() -> dict[str, dict[str, Any]]:
    from testbed.demo_model import build_demo_model, build_full_resolution_model

    # The full 224x224 ResNet-18 (untrained: same cost) over held-out generated images.
    archive, data = build_full_resolution_model(), build_demo_model().parent.parent / "data"
    # A fresh process, so the memory figure is the loop's own and not this runner's.
    code = "import json,sys;from bench.inference_bench import _measure;from pathlib import Path;"
    code += "print(json.dumps(_measure(Path(sys.argv[1]), Path(sys.argv[2]))))"
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code, str(archive), str(data)], cwd=root, capture_output=True, text=True, check=True
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "inference_loop_vs_bare_ratio": {
            "value": round(figures["loop_fps"] / figures["bare_fps"], 3),
            "unit": "x",
            "goal": ">= 0.9",
        },
        "inference_loop_fps": {"value": round(figures["loop_fps"], 1), "unit": "frames/s", "goal": "1 thread, CPU"},
        "inference_bare_fps": {"value": round(figures["bare_fps"], 1), "unit": "frames/s", "goal": "reference"},
        "inference_loop_p50": {"value": round(figures["p50_ms"], 2), "unit": "ms/frame", "goal": "report"},
        "inference_loop_p99": {"value": round(figures["p99_ms"], 2), "unit": "ms/frame", "goal": "report"},
        "inference_loop_peak_rss": {
            "value": round(figures["peak_rss_mib"], 1),
            "unit": "MiB",
            "goal": "report (full 224x224 ResNet-18)",
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
