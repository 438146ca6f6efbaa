"""The pipeline rehearsal's seconds, total and per step, next to a bare local training run.

The rehearsal (`python -m rehearse.pipeline`) runs the whole pipeline as SageMaker would; the
local run is `python -m training train` on the very prepared data the rehearsal's Prepare step
wrote, with the Train step's hyperparameters, in this project's own venv. Their ratio says what
the platform's machinery (toolkits, channels, packing, processing jobs) costs around training.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGE_PYTHON = REPO_ROOT / ".venv-image" / "bin" / "python"


def _local_train(workdir: Path, hyperparameters: dict[str, str]) -> float:
    arguments = [str(workdir / "edge" / "prepared"), str(workdir / "local-model")]
    for name in ("epochs", "batch-size", "learning-rate", "downscale", "architecture"):
        arguments += [
            f"--{name}",
            json.loads(hyperparameters[name]) if name == "architecture" else hyperparameters[name],
        ]
    arguments += ["--pretrained-weights", str(workdir / "weights" / "resnet18_v1.params"), "--quiet"]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "training", "train", *arguments], cwd=REPO_ROOT, check=True, capture_output=True
    )
    return time.perf_counter() - start


def run() -> dict[str, dict[str, Any]]:
    if not IMAGE_PYTHON.is_file():
        raise RuntimeError(f"no {IMAGE_PYTHON}: run `make setup-image` first")
    with tempfile.TemporaryDirectory(prefix="rehearsal-bench-") as scratch:
        workdir = Path(scratch) / "run"
        times = Path(scratch) / "times.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "rehearse.pipeline",
                "--workdir",
                str(workdir),
                "--json",
                str(times),
                "--image-python",
                str(IMAGE_PYTHON),
            ],
            cwd=REPO_ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        measured = json.loads(times.read_text())
        hyperparameters = json.loads(
            (workdir / "jobs" / "Train" / "opt" / "ml" / "input" / "config" / "hyperparameters.json").read_text()
        )
        local = _local_train(workdir, hyperparameters)
    steps: dict[str, float] = measured["steps"]
    train_step = next(seconds for name, seconds in steps.items() if name.startswith("Training step"))
    results: dict[str, dict[str, Any]] = {
        "rehearsal_total": {"value": round(measured["total"], 1), "unit": "s", "goal": "< 600 (2 cores)"},
    }
    for name, seconds in steps.items():
        key = "rehearsal_step_" + re.sub(r"[^a-z0-9]+", "_", name.split(" (")[0].lower()).strip("_")
        results[key] = {"value": round(seconds, 1), "unit": "s", "goal": "report"}
    results["rehearsal_local_train"] = {
        "value": round(local, 1),
        "unit": "s",
        "goal": "report (python -m training train, same data and hyperparameters)",
    }
    results["rehearsal_train_step_vs_local_train"] = {
        "value": round(train_step / local, 2),
        "unit": "ratio",
        "goal": "report",
    }
    results["rehearsal_total_vs_local_train"] = {
        "value": round(measured["total"] / local, 2),
        "unit": "ratio",
        "goal": "report",
    }
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
