"""The rehearsal's re-creation of the nucleus's recipe variables (KernelConfigResolver) and the
pins it checks for aarch64: the rehearsal is only as true as these."""

from __future__ import annotations

import re
from pathlib import Path

from rehearse.camera.nucleus import Component, Device, interpolate, merge, resolve_lifecycle, substitute
from rehearse.camera.pythons import CAMERA_PYTHONS
from rehearse.camera.wheels import pins_for

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEVICE = Device(Path("/greengrass/v2"), "trash-sorter-cam-1")
APP = Component(
    "com.example.App",
    "1.2.3",
    {"Source": "rtsp://u:p'w@cam/$(x)", "Threshold": 0.6, "Window": 5, "On": True, "Nested": {"a": [1, "b"]}},
)
MODEL = Component("com.example.Model", "1.0.7", {"Name": "m"})


def test_system_variables_are_the_nucleus_paths() -> None:
    text = "{artifacts:path} {artifacts:decompressedPath} {work:path} {kernel:rootPath} {iot:thingName}"
    assert substitute(text, DEVICE, APP, {}) == (
        "/greengrass/v2/packages/artifacts/com.example.App/1.2.3 "
        "/greengrass/v2/packages/artifacts-unarchived/com.example.App/1.2.3 "
        "/greengrass/v2/work/com.example.App /greengrass/v2 trash-sorter-cam-1"
    )


def test_configuration_values_are_text_numbers_as_written_and_objects_as_compact_json() -> None:
    text = "{configuration:/Source}|{configuration:/Threshold}|{configuration:/Window}|{configuration:/On}|"
    text += "{configuration:/Nested}|{configuration:/Missing}"
    assert substitute(text, DEVICE, APP, {}) == (
        "rtsp://u:p'w@cam/$(x)|0.6|5|true|" + '{"a":[1,"b"]}' + "|{configuration:/Missing}"
    )


def test_a_dependency_s_variables_resolve_only_for_a_declared_dependency() -> None:
    text = "{com.example.Model:artifacts:path}/model.tar.gz {com.example.Model:configuration:/Name}"
    assert substitute(text, DEVICE, APP, {"com.example.Model": MODEL}) == (
        "/greengrass/v2/packages/artifacts/com.example.Model/1.0.7/model.tar.gz m"
    )
    assert substitute(text, DEVICE, APP, {}) == text  # the nucleus logs an error and leaves it


def test_the_whole_lifecycle_setenv_included_is_interpolated_and_keys_are_case_insensitive() -> None:
    recipe = {
        "ComponentName": APP.name,
        "Manifests": [
            {"Platform": {"os": "windows"}, "Lifecycle": {"Run": "never"}},
            {
                "Platform": {"os": "linux"},
                "Lifecycle": {
                    "setEnv": {"SOURCE": "{configuration:/Source}"},
                    "install": {"script": "echo {work:path}", "timeout": 60},
                    "Run": "run it",
                },
            },
        ],
    }
    lifecycle = resolve_lifecycle(recipe, DEVICE, APP, {})
    assert lifecycle.environment == {"SOURCE": "rtsp://u:p'w@cam/$(x)"}
    assert lifecycle.steps == {"install": "echo /greengrass/v2/work/com.example.App", "run": "run it"}
    assert lifecycle.timeouts == {"install": 60}
    assert interpolate([{"k": "{iot:thingName}"}], DEVICE, APP, {}) == [{"k": "trash-sorter-cam-1"}]


def test_a_deployment_merge_replaces_leaves_and_keeps_the_rest() -> None:
    assert merge({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 9}, "e": 4}) == {"a": 1, "b": {"c": 9, "d": 3}, "e": 4}


def test_each_python_gets_one_pin_of_every_package() -> None:
    requirements = PROJECT_ROOT / "device" / "greengrass_component" / "requirements.txt"
    for python in CAMERA_PYTHONS:
        pins = pins_for(requirements, python)
        names = [pin.split("==")[0] for pin in pins]
        assert len(names) == len(set(names)) and all("==" in pin for pin in pins), (python, pins)
    assert "numpy==1.23.5" in pins_for(requirements, "3.11") and "numpy==2.2.6" in pins_for(requirements, "3.13")
    assert "awscrt==0.32.1" in pins_for(requirements, "3.8")


def test_the_readme_claims_exactly_the_rehearsed_pythons() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    claim = re.search(r"with a camera and Python (3\.\d+) to (3\.\d+)", readme)
    assert claim is not None
    assert (claim.group(1), claim.group(2)) == (CAMERA_PYTHONS[0], CAMERA_PYTHONS[-1])
    minors = [int(version.split(".")[1]) for version in CAMERA_PYTHONS]
    assert minors == list(range(minors[0], minors[-1] + 1))
    assert "For each of Python " + ", ".join(CAMERA_PYTHONS[:-1]) + " and " + CAMERA_PYTHONS[-1] in readme
