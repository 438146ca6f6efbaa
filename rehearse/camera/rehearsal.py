"""One camera rehearsal on one Python: a clean device folder, the Install script, the Run script."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sorter_common.classes import UNSURE
from sorter_common.greengrass_components import APPLICATION_COMPONENT, MODEL_COMPONENT

from .nucleus import Component, Device, Lifecycle, merge, resolve_lifecycle, run_step
from .recipes import ShippedComponent

THING_NAME = "trash-sorter-cam-rehearsal"
# No nucleus runs here, so no IPC: the one change to the Run script is where messages go.
IPC, STDOUT = "--transport ipc", "--transport stdout"
# A frame source no shell may interpret: quotes, spaces, $(), backticks and ';' in a folder name.
# If any of it ran, a file named PWNED-* would appear next to it or in the work folder.
HOSTILE_FOLDER = "held out 'frames' \"$(touch PWNED-1)\" `touch PWNED-2`; touch PWNED-3"


@dataclass
class Outcome:
    python: str
    install_s: float = 0.0
    frames: int = 0
    frames_per_s: float = 0.0
    decided: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def _place_artifacts(device: Device, component: Component, shipped: ShippedComponent) -> None:
    folder = device.artifacts(component.name, component.version)
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in shipped.artifacts.items():
        shutil.copyfile(source, folder / name)


def frames_folder(parent: Path, held_out: Mapping[str, list[Path]]) -> Path:
    """Held-out images class after class, in the sorted class order: items passing the camera."""
    folder = parent / HOSTILE_FOLDER
    folder.mkdir(parents=True)
    index = 0
    for label in sorted(held_out):
        for image in held_out[label]:
            index += 1
            shutil.copyfile(image, folder / f"{index:03d}-{label}{image.suffix}")
    return folder


@dataclass(frozen=True)
class CameraDevice:
    """A clean Greengrass root with both components placed and the application's lifecycle resolved."""

    device: Device
    application: Component
    lifecycle: Lifecycle
    python_bin: Path

    @classmethod
    def prepare(
        cls,
        root: Path,
        python: Path,
        application: ShippedComponent,
        model: ShippedComponent,
        configuration_update: Mapping[str, Any],
    ) -> CameraDevice:
        device = Device(root / "greengrass", THING_NAME)
        recipe = application.recipe
        defaults = recipe["ComponentConfiguration"]["DefaultConfiguration"]
        app = Component(APPLICATION_COMPONENT, recipe["ComponentVersion"], merge(defaults, configuration_update))
        model_component = Component(MODEL_COMPONENT, model.recipe["ComponentVersion"], {})
        _place_artifacts(device, app, application)
        _place_artifacts(device, model_component, model)
        lifecycle = resolve_lifecycle(recipe, device, app, {MODEL_COMPONENT: model_component})
        # The device's `python3` is the Python under test.
        python_bin = root / "bin"
        python_bin.mkdir()
        (python_bin / "python3").symlink_to(python)
        return cls(device, app, lifecycle, python_bin)

    def environment(self) -> dict[str, str]:
        import os

        return {"PATH": f"{self.python_bin}{os.pathsep}{os.environ['PATH']}"}

    def install(self) -> tuple[float, str]:
        """Seconds the Install script took, and '' or why it failed."""
        started = time.perf_counter()
        result = run_step(
            self.lifecycle, "install", self.device, self.application, extra_environment=self.environment()
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-8:])
            return elapsed, f"Install exited {result.returncode}:\n{tail}"
        return elapsed, ""

    def run(self, timeout: float = 300.0) -> tuple[list[dict[str, Any]], str, int]:
        """The Run script as written, its transport switched to stdout: messages, stderr, exit status."""
        script = self.lifecycle.script("run")
        if script.count(IPC) != 1:
            raise AssertionError(f"the Run script does not name '{IPC}' exactly once: {script}")
        result = run_step(
            self.lifecycle,
            "run",
            self.device,
            self.application,
            extra_environment=self.environment(),
            script=script.replace(IPC, STDOUT),
            timeout=timeout,
        )
        lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        return lines, result.stderr, result.returncode


def changes(labels: list[str]) -> list[str]:
    """Decided labels without 'unsure' and without repeats in a row: what the Pi shows over time."""
    decided = [label for label in labels if label != UNSURE]
    return [label for index, label in enumerate(decided) if index == 0 or decided[index - 1] != label]


def judge(outcome: Outcome, lines: list[dict[str, Any]], stderr: str, status: int, classes: list[str]) -> None:
    """The right bin for every class's held-out images, in order, and a clean start and stop."""
    if status != 0:
        outcome.problems.append(f"Run exited {status}: {stderr.strip().splitlines()[-3:]}")
    predictions = [line["message"] for line in lines if line["topic"].endswith("/predictions")]
    states = {line["message"]["state"]: line["message"] for line in lines if line["topic"].endswith("/status")}
    outcome.decided = changes([message["label"] for message in predictions])
    if outcome.decided != sorted(classes):
        outcome.problems.append(f"bins shown {outcome.decided}, expected {sorted(classes)} in turn")
    if {message["device"] for message in predictions} != {THING_NAME}:
        outcome.problems.append("messages do not carry the thing name Greengrass passed")
    if not all(line["topic"].split("/")[1] == THING_NAME for line in lines):
        outcome.problems.append("a message went to a topic of another thing")
    if "stopping" in states and "model-loaded" in states:
        counters = dict(item.split("=", 1) for item in states["stopping"]["detail"].split() if "=" in item)
        outcome.frames = int(counters.get("frames", 0))
        elapsed = states["stopping"]["ts"] - states["model-loaded"]["ts"]
        outcome.frames_per_s = outcome.frames / elapsed if elapsed > 0 else 0.0
    else:
        outcome.problems.append(f"statuses seen: {sorted(states)}")


def injected(root: Path) -> list[Path]:
    """Files the hostile frame source would have made had a shell interpreted it."""
    return sorted(root.rglob("PWNED-*"))
