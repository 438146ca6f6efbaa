"""The synthesized application recipe, its variables substituted as the nucleus does, run with
`sh -c`: configuration values full of shell syntax stay plain strings and run nothing."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import cv2
import pytest

from rehearse.camera.nucleus import Component, Device, merge, resolve_lifecycle, run_step
from rehearse.camera.recipes import application_component
from rehearse.camera.rehearsal import IPC, STDOUT, changes, injected
from sorter_common.greengrass_components import APPLICATION_COMPONENT, MODEL_COMPONENT
from tests.stacks.synth import SynthesizedApp

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"\{[.\w-]+:[^}]*\}")
HOSTILE_NAME = 'it\'s a "frame" folder $(touch PWNED-1) `touch PWNED-2`; touch PWNED-3 && touch PWNED-4'
HOSTILE_PREFIX = "sorter$(touch PWNED-5)`touch PWNED-6`'\";touch PWNED-7"


def _lifecycle_scripts(recipe: dict[str, Any]) -> list[str]:
    return [
        step["Script"] if isinstance(step, dict) else step
        for manifest in recipe["Manifests"]
        for name, step in manifest["Lifecycle"].items()
        if name.lower() != "setenv"
    ]


def test_no_recipe_variable_is_written_into_a_script(synthesized_app: SynthesizedApp) -> None:
    recipe = application_component(synthesized_app.outdir).recipe
    scripts = _lifecycle_scripts(recipe)
    assert scripts and all(VARIABLE.search(script) is None for script in scripts), scripts
    for manifest in recipe["Manifests"]:
        setenv = manifest["Lifecycle"]["Setenv"]
        assert setenv["TRASH_SORTER_SOURCE"] == "{configuration:/Source}"
        # Every variable a script uses is expanded inside double quotes.
        for script in _lifecycle_scripts({"Manifests": [manifest]}):
            assert set(re.findall(r"(.)\$\{?TRASH_SORTER_", script)) == {'"'}, script


@pytest.fixture
def camera(
    synthesized_app: SynthesizedApp, held_out_frames: dict[str, list[Any]], cached_demo_model: Path, tmp_path: Path
) -> Any:
    """A device root whose work folder already holds the installed app (this checkout) and venv (.venv)."""

    def make(update: dict[str, Any]) -> tuple[Any, Device, Component]:
        shipped = application_component(synthesized_app.outdir)
        device = Device(tmp_path / "greengrass", "trash-sorter-cam-1")
        defaults = shipped.recipe["ComponentConfiguration"]["DefaultConfiguration"]
        app = Component(APPLICATION_COMPONENT, shipped.recipe["ComponentVersion"], merge(defaults, update))
        model = Component(MODEL_COMPONENT, "1.0.1", {})
        model_folder = device.artifacts(MODEL_COMPONENT, "1.0.1")
        model_folder.mkdir(parents=True)
        (model_folder / "model.tar.gz").symlink_to(cached_demo_model)
        work = device.work(APPLICATION_COMPONENT)
        (work / "app").mkdir(parents=True)
        for package in ("device", "edge_core", "sorter_common"):
            (work / "app" / package).symlink_to(PROJECT_ROOT / package)
        (work / "venv").symlink_to(PROJECT_ROOT / ".venv")
        return resolve_lifecycle(shipped.recipe, device, app, {MODEL_COMPONENT: model}), device, app

    return make


def _frames(folder: Path, held_out_frames: dict[str, list[Any]]) -> Path:
    folder.mkdir(parents=True)
    for index, label in enumerate(sorted(held_out_frames)):
        for copy, frame in enumerate(held_out_frames[label][:6]):
            cv2.imwrite(str(folder / f"{index}-{copy}-{label}.png"), frame)
    return folder


def test_a_frame_source_and_topic_prefix_full_of_shell_syntax_are_plain_strings(
    camera: Any, held_out_frames: dict[str, list[Any]], tmp_path: Path
) -> None:
    import json

    frames = _frames(tmp_path / HOSTILE_NAME, held_out_frames)
    lifecycle, device, app = camera({"Source": str(frames), "TopicPrefix": HOSTILE_PREFIX, "MinIntervalSeconds": 0})
    assert lifecycle.environment["TRASH_SORTER_SOURCE"] == str(frames)
    result = run_step(lifecycle, "run", device, app, script=lifecycle.script("run").replace(IPC, STDOUT), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["topic"] for line in lines} == {
        f"{HOSTILE_PREFIX}/trash-sorter-cam-1/predictions",
        f"{HOSTILE_PREFIX}/trash-sorter-cam-1/status",
    }
    labels = [line["message"]["label"] for line in lines if line["topic"].endswith("/predictions")]
    assert changes(labels) == sorted(held_out_frames)
    assert injected(tmp_path) == [] and not any(Path(os.getcwd()).glob("PWNED-*"))


def test_a_number_setting_with_a_command_in_it_is_refused_and_runs_nothing(
    camera: Any, held_out_frames: dict[str, list[Any]], tmp_path: Path
) -> None:
    frames = _frames(tmp_path / "frames", held_out_frames)
    lifecycle, device, app = camera({"Source": str(frames), "ConfidenceThreshold": "0.6; touch PWNED-8 #"})
    result = run_step(lifecycle, "run", device, app, script=lifecycle.script("run").replace(IPC, STDOUT), timeout=60)
    assert result.returncode == 2
    assert "--threshold" in result.stderr and len(result.stderr.splitlines()) == 1
    assert injected(tmp_path) == []
