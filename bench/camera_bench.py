"""The Greengrass camera on every Python it claims: the Install script's time (a clean venv and
the pinned wheels, as `make rehearse-camera` runs it) and the component's frames per second once
installed, a full 224x224 ResNet-18 on one CPU thread over a folder of held-out images.

The install is mostly unpacking and byte-compiling wheels, so its time depends on the disk and on
whether pip has the wheels already (PyPI or pip's cache); the figures say which Python needs what.
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

RUN_SECONDS = 12.0


def _fps(camera: Any, model: Path, frames: Path) -> float:
    """The installed venv's Python running the component over the frames, looped, for RUN_SECONDS."""
    work = camera.device.work(camera.application.name)
    args = [str(work / "venv" / "bin" / "python"), "-m", "device.greengrass_component", "--source", str(frames)]
    args += ["--loop", "--model", str(model), "--work-dir", str(work), "--thing-name", "bench-cam"]
    args += ["--transport", "stdout", "--threads", "1"]
    process = subprocess.Popen(args, cwd=work / "app", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(RUN_SECONDS)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    states = {m["state"]: m for m in (json.loads(line)["message"] for line in out.splitlines()) if "state" in m}
    counters = dict(item.split("=", 1) for item in states["stopping"]["detail"].split() if "=" in item)
    elapsed = float(states["stopping"]["ts"]) - float(states["model-loaded"]["ts"])
    return int(counters["frames"]) / elapsed


def run() -> dict[str, dict[str, Any]]:
    from rehearse.camera.__main__ import held_out_images
    from rehearse.camera.pythons import CAMERA_PYTHONS, interpreter
    from rehearse.camera.recipes import application_component, model_component, synthesize
    from rehearse.camera.rehearsal import CameraDevice, frames_folder
    from testbed.demo_model import build_full_resolution_model

    demo_model, held_out = held_out_images()
    full_model = build_full_resolution_model()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="camera-bench-") as temporary:
        base = Path(temporary)
        application = application_component(synthesize(base / "cdk.out"))
        model = model_component(demo_model)
        for version in CAMERA_PYTHONS:
            root = base / f"python-{version}"
            frames = frames_folder(root, held_out)
            camera = CameraDevice.prepare(root, interpreter(version), application, model, {"Source": str(frames)})
            seconds, problem = camera.install()
            if problem:
                raise RuntimeError(f"Python {version}: {problem}")
            key = version.replace(".", "")
            results[f"camera_install_py{key}"] = {
                "value": round(seconds, 1),
                "unit": "s",
                "goal": f"Python {version}: Install script, clean venv + pinned wheels",
            }
            results[f"camera_fps_py{key}"] = {
                "value": round(_fps(camera, full_model, frames), 1),
                "unit": "frames/s",
                "goal": f"Python {version}: installed component, full ResNet-18, 1 thread",
            }
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
