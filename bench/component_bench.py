"""The Greengrass V2 component process over a folder source, a full 224x224 ResNet-18 on CPU.

The model is testbed.demo_model's full-resolution ResNet-18 (untrained weights cost the same to
run); the frames are the demo dataset's held-out generated images.

Runs `python -m device.greengrass_component --transport stdout` in its own process, as the
device runs it, over the held-out images looped for a fixed time, then stops it with SIGTERM.
FPS comes from the component's own frame count; peak RSS is the child's high-water mark.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RUN_SECONDS = 20.0
RSS_GOAL_MIB = 300


def _folder(data: Path, target: Path) -> None:
    for index, line in enumerate((data / "test.lst").read_text().splitlines()):
        source = data / line.split("\t")[2]
        shutil.copyfile(source, target / f"{index:04d}{source.suffix}")


def measure(model: Path, data: Path, seconds: float = RUN_SECONDS, threads: int = 1) -> dict[str, float]:
    """frames/s and peak RSS (MiB) of the component process over data's held-out images, looped."""
    from bench.memory import high_water_mib

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="component-bench-") as tmp:
        frames = Path(tmp) / "frames"
        frames.mkdir()
        _folder(data, frames)
        args = [
            sys.executable,
            "-m",
            "device.greengrass_component",
            "--source",
            str(frames),
            "--loop",
            "--model",
            str(model),
            "--work-dir",
            str(Path(tmp) / "work"),
            "--thing-name",
            "bench",
            "--transport",
            "stdout",
            "--threads",
            str(threads),
        ]
        process = subprocess.Popen(args, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(seconds)
        peak_mib = high_water_mib(process.pid)  # the component's own high-water mark, start-up included
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    lines = [json.loads(line)["message"] for line in out.splitlines() if line.strip()]
    states = {line["state"]: line for line in lines if "state" in line}
    counters = dict(item.split("=") for item in states["stopping"]["detail"].split())
    started = states["model-loaded"]["ts"]
    return {"fps": int(counters["frames"]) / (states["stopping"]["ts"] - started), "peak_mib": peak_mib}


def run() -> dict[str, dict[str, Any]]:
    from testbed.demo_model import build_demo_model, build_full_resolution_model

    archive, data = build_full_resolution_model(), build_demo_model().parent.parent / "data"
    figures = measure(archive, data)
    return {
        "component_fps": {
            "value": round(figures["fps"], 1),
            "unit": "frames/s",
            "goal": "folder source, 1 thread, CPU",
        },
        "component_peak_rss": {"value": round(figures["peak_mib"], 1), "unit": "MiB", "goal": f"<= {RSS_GOAL_MIB}"},
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
