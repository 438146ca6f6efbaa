"""`python -m rehearse.camera [--python 3.11 ...] [--json FILE]`: the camera rehearsal.

1. The recipes and artifacts AWS would receive: the application recipe from the synthesized
   TrashSorterEdgeV2 template with the asset it uploads, the model recipe from the promotion
   function's code with the demo model (testbed.demo_model; trained once per machine).
2. On each Python the README claims: a clean Greengrass root, the recipe variables substituted
   as the nucleus does (the frame source set by a configuration merge to a folder whose name is
   full of shell syntax), the Install script run with `sh -c` (a fresh venv and the pinned wheels
   from PyPI or pip's cache), then the Run script as written with its transport switched to
   stdout: it must show each class's bin in turn for that class's held-out images, exit 0, and
   nothing of the frame source may have run as a command.
3. For every claimed Python, that the same pins have wheels for aarch64 (rehearse/camera/wheels.py).

Exit status 0 only when every step passed on every Python.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .pythons import CAMERA_PYTHONS, interpreter
from .recipes import ShippedComponent, application_component, model_component, synthesize
from .rehearsal import CameraDevice, Outcome, frames_folder, injected, judge

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# jsii needs Node 24 from the venv (as make puts it first on PATH), also when run by hand.
os.environ["PATH"] = os.pathsep.join(
    [str(PROJECT_ROOT / ".venv" / "bin"), str(PROJECT_ROOT / "node_modules" / ".bin"), os.environ["PATH"]]
)
REQUIREMENTS = PROJECT_ROOT / "device" / "greengrass_component" / "requirements.txt"


def held_out_images() -> tuple[Path, dict[str, list[Path]]]:
    """The demo model and its test split's images by class (never seen in training)."""
    from testbed.demo_model import build_demo_model

    model = build_demo_model()
    data = model.parent.parent / "data"
    classes = (data / "labels.txt").read_text().split()
    images: dict[str, list[Path]] = {name: [] for name in classes}
    for line in (data / "test.lst").read_text().splitlines():
        _, label, relative = line.split("\t")
        images[classes[int(float(label))]].append(data / relative)
    return model, images


def rehearse(
    version: str, root: Path, shipped: tuple[ShippedComponent, ShippedComponent], held_out: dict[str, list[Path]]
) -> Outcome:
    application, model = shipped
    outcome = Outcome(version)
    frames = frames_folder(root, held_out)
    # What a deployment's configuration merge sets: this camera's source, and every decision
    # published (the default rate limit would merge a fast folder's frames).
    camera = CameraDevice.prepare(
        root, interpreter(version), application, model, {"Source": str(frames), "MinIntervalSeconds": 0}
    )
    outcome.install_s, problem = camera.install()
    if problem:
        outcome.problems.append(problem)
        return outcome
    lines, stderr, status = camera.run()
    judge(outcome, lines, stderr, status, list(held_out))
    pwned = injected(root)
    if pwned:
        outcome.problems.append(f"the frame source ran as shell code: {[str(p) for p in pwned]}")
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearse.camera", description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", choices=CAMERA_PYTHONS, help="only these (default: all claimed)")
    parser.add_argument("--json", type=Path, help="also write the outcomes here")
    parser.add_argument("--keep", action="store_true", help="keep the device folders (printed)")
    parser.add_argument("--jobs", type=int, default=2, help="Pythons rehearsed at the same time (default 2)")
    args = parser.parse_args(argv)
    versions = args.python or list(CAMERA_PYTHONS)
    started = time.perf_counter()
    print("==> camera rehearsal: demo model and held-out images", flush=True)
    model, held_out = held_out_images()
    with tempfile.TemporaryDirectory(prefix="rehearse-camera-") as temporary:
        base = Path(temporary)
        print("==> synthesizing the app (TrashSorterEdgeV2's recipe and asset)", flush=True)
        shipped = (application_component(synthesize(base / "cdk.out")), model_component(model))
        images = sum(map(len, held_out.values()))
        print(
            f"==> Python {', '.join(versions)}: Install, then Run over {images} images ({args.jobs} at a time)",
            flush=True,
        )

        def one(version: str) -> Outcome:
            outcome = rehearse(version, base / f"python-{version}", shipped, held_out)
            report = [f"==> Python {version}: install {outcome.install_s:.1f} s; shown {outcome.decided}"]
            report += [f"    FAILED: {problem}" for problem in outcome.problems]
            print("\n".join(report), flush=True)
            return outcome

        # Installs wait on downloads as much as on the CPU: two at a time cut the wall time.
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            outcomes = list(pool.map(one, versions))
        from .wheels import check

        print(f"==> aarch64 wheels for Python {', '.join(versions)}", flush=True)
        with ThreadPoolExecutor(max_workers=len(versions)) as pool:  # pip waiting on the index, mostly
            problems = pool.map(lambda version: check(REQUIREMENTS, version), versions)
            wheel_problems = dict(zip(versions, problems, strict=True))
        for version, problem in wheel_problems.items():
            if problem:
                print(f"    FAILED on Python {version}: {problem}", flush=True)
        if args.keep:
            kept = Path(tempfile.mkdtemp(prefix="rehearse-camera-kept-"))
            import shutil

            shutil.copytree(base, kept, dirs_exist_ok=True, symlinks=True)
            print(f"device folders kept in {kept}")
    print(f"\ncamera rehearsal ({time.perf_counter() - started:.0f} s):")
    print(f"{'python':8}{'install':>10}{'frames/s':>10}  {'x86_64 run':12}{'aarch64 wheels':16}")
    for outcome in outcomes:
        run = "ok" if outcome.passed else "FAILED"
        wheels = "ok" if not wheel_problems[outcome.python] else "FAILED"
        print(f"{outcome.python:8}{outcome.install_s:>9.1f}s{outcome.frames_per_s:>10.1f}  {run:12}{wheels:16}")
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {**vars(outcome), "passed": outcome.passed, "aarch64_wheels": wheel_problems[outcome.python]}
                    for outcome in outcomes
                ],
                indent=2,
            )
        )
    passed = all(outcome.passed for outcome in outcomes) and not any(wheel_problems.values())
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
