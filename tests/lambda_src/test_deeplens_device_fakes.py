"""The fake DeepLens modules do what the DeepLens Developer Guide says, so the function is tested against that."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from sorter_common.artifact import PARAMS_FILE, SYMBOL_FILE
from tests.lambda_src.fakes.greengrass_core import DEVICE_MODULES, topic_matches


@pytest.fixture
def artifacts(demo_model_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "artifacts"
    shutil.copytree(demo_model_dir, folder)
    return folder


@pytest.fixture
def device(artifacts: Path) -> Iterator[tuple[ModuleType, ModuleType]]:
    sys.path.insert(0, str(DEVICE_MODULES))
    try:
        awscam, mo = importlib.import_module("awscam"), importlib.import_module("mo")
        mo.ARTIFACTS_DIR = str(artifacts)  # type: ignore[attr-defined]
        yield awscam, mo
    finally:
        sys.path.remove(str(DEVICE_MODULES))
        for name in ("awscam", "mo"):
            sys.modules.pop(name, None)


def test_mo_optimizes_the_exported_model_and_returns_the_xml_path(
    device: tuple[ModuleType, ModuleType], artifacts: Path
) -> None:
    _, mo = device
    error, model_path = mo.optimize("image-classification", 224, 224)
    assert (error, model_path) == (0, str(artifacts / "image-classification.xml"))
    assert (artifacts / "image-classification.bin").is_file()


@pytest.mark.parametrize(
    ("break_model", "expected"),
    [
        (lambda folder: (folder / PARAMS_FILE).unlink(), 2),
        (lambda folder: (folder / PARAMS_FILE).write_bytes(b"not params"), 2),
        (lambda folder: (folder / SYMBOL_FILE).write_text("{"), 2),
    ],
    ids=["params-missing", "params-corrupt", "symbol-corrupt"],
)
def test_mo_returns_2_for_a_model_it_cannot_load(
    device: tuple[ModuleType, ModuleType], artifacts: Path, break_model: object, expected: int
) -> None:
    _, mo = device
    break_model(artifacts)  # type: ignore[operator]
    assert mo.optimize("image-classification", 224, 224) == (expected, "")


def test_mo_rejects_layers_the_guide_does_not_list(device: tuple[ModuleType, ModuleType], artifacts: Path) -> None:
    _, mo = device
    graph = json.loads((artifacts / SYMBOL_FILE).read_text())
    graph["nodes"][graph["heads"][0][0]]["op"] = "softmax"
    (artifacts / SYMBOL_FILE).write_text(json.dumps(graph))
    assert mo.optimize("image-classification", 224, 224) == (2, "")


def test_mo_supports_only_mxnet_and_inputs_up_to_1024(device: tuple[ModuleType, ModuleType]) -> None:
    _, mo = device
    assert mo.optimize("image-classification", 224, 224, "tensorflow") == (1, "")
    assert mo.optimize("image-classification", 2048, 224) == (2, "")


def test_awscam_frames_are_1080p_bgr_and_a_missing_frame_is_false(device: tuple[ModuleType, ModuleType]) -> None:
    awscam, _ = device
    awscam.CAMERA.frames = [awscam.to_camera_frame(np.zeros((60, 80, 3), np.uint8))]
    ret, frame = awscam.getLastFrame()
    assert ret is True and frame.shape == (1080, 1920, 3) and frame.dtype == np.uint8
    assert awscam.getLastFrame() == (False, None)


def test_awscam_model_takes_the_documented_loading_configs_and_the_optimized_size(
    device: tuple[ModuleType, ModuleType],
) -> None:
    awscam, mo = device
    _, model_path = mo.optimize("image-classification", 224, 224)
    for config in ({"GPU": 1}, {"GPU": 0}):
        model = awscam.Model(model_path, config)
        output = model.doInference(np.zeros((224, 224, 3), np.uint8))
        assert list(output) == [model.output_name] and output[model.output_name].shape == (3,)
        assert abs(float(output[model.output_name].sum()) - 1.0) < 1e-5
    with pytest.raises(ValueError, match="GPU"):
        awscam.Model(model_path, {"CPU": 1})
    with pytest.raises(ValueError, match="not the model's"):
        awscam.Model(model_path, {"GPU": 1}).doInference(np.zeros((1080, 1920, 3), np.uint8))


@pytest.mark.parametrize(
    ("subject", "topic", "matches"),
    [
        ("a/b/c", "a/b/c", True),
        ("a/+/c", "a/x/c", True),
        ("a/#", "a/x/y", True),
        ("a/b", "a/b/c", False),
        ("a/+/c", "a/x/d", False),
    ],
)
def test_the_fake_core_matches_subjects_as_mqtt_filters(subject: str, topic: str, matches: bool) -> None:
    assert topic_matches(subject, topic) is matches
