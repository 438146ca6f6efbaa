"""Real MXNet training on generated data, the exported artifact, and MXNet/ONNX Runtime parity."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import mxnet as mx
import numpy as np
import onnx
import pytest
from mxnet.gluon.model_zoo import vision

from edge_core.backends import MxnetBackend, OnnxBackend
from sorter_common.artifact import ARTIFACT_FILES, INT8_ONNX_FILE, LABELS_FILE, MODEL_INFO_FILE, ONNX_FILE, SYMBOL_FILE
from sorter_common.classes import DEFAULT_CLASSES
from sorter_common.model_input import INPUT_SIZE, MEAN_RGB, STD_RGB, to_model_input
from sorter_common.training_pipeline import ACCURACY_JSON_PATH, EVALUATION_FILE, METRIC_DEFINITIONS
from training_job import archive, network, train
from training_job.data import read_bgr
from training_job.evaluate import CONFUSION_PNG, EVALUATION_SCHEMA, evaluate
from training_job.prepare import prepare_dataset
from training_job.split import read_lst

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_short_cpu_training_reaches_90_percent_on_the_test_split(
    demo_model: Path, demo_data: Path, tmp_path: Path
) -> None:
    document = evaluate(demo_model, demo_data, tmp_path, runtime_name="mxnet", progress=False)
    assert document["multiclass_classification_metrics"]["accuracy"]["value"] >= 0.9
    assert document["count"] == len(read_lst(demo_data / "test.lst")) == 30
    on_disk = json.loads((tmp_path / EVALUATION_FILE).read_text())
    jsonschema.validate(on_disk, EVALUATION_SCHEMA)
    assert on_disk == document
    # The pipeline's accuracy gate reads the file at this path (JsonGet, dotted keys).
    gate_value: Any = on_disk
    for key in ACCURACY_JSON_PATH.split("."):
        gate_value = gate_value[key]
    assert gate_value == document["multiclass_classification_metrics"]["accuracy"]["value"]
    assert (tmp_path / CONFUSION_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mxnet_and_onnx_runtime_agree_on_every_test_image(demo_model: Path, demo_data: Path, tmp_path: Path) -> None:
    archive.unpack(demo_model, tmp_path)
    frames = np.concatenate([to_model_input(read_bgr(demo_data / rel)) for _, rel in read_lst(demo_data / "test.lst")])
    frames = np.concatenate(
        [frames, np.random.RandomState(0).uniform(0, 255, (4, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)]
    )
    by_mxnet = MxnetBackend(str(tmp_path)).infer_batch(frames)
    by_onnx = OnnxBackend(str(tmp_path), onnx_file=ONNX_FILE).infer_batch(frames)  # fp32, as MXNet
    assert by_mxnet.shape == by_onnx.shape == (len(frames), len(DEFAULT_CLASSES))
    np.testing.assert_array_equal(by_mxnet.argmax(axis=1), by_onnx.argmax(axis=1))
    assert float(np.abs(by_mxnet - by_onnx).max()) <= 1e-4
    np.testing.assert_allclose(by_onnx.sum(axis=1), 1.0, atol=1e-5)  # probabilities, not logits
    # The edge sends one frame at a time.
    single = OnnxBackend(str(tmp_path), onnx_file=ONNX_FILE).infer_batch(frames[:1])
    np.testing.assert_allclose(single, by_onnx[:1], atol=1e-5)


def test_model_archive_follows_the_contract(demo_model: Path, tmp_path: Path) -> None:
    with tarfile.open(demo_model, "r:gz") as tar:
        optional = [INT8_ONNX_FILE] if INT8_ONNX_FILE in tar.getnames() else []
        assert sorted(tar.getnames()) == sorted([*ARTIFACT_FILES, *optional])
        labels_raw = tar.extractfile(LABELS_FILE).read().decode()  # type: ignore[union-attr]
        info = json.loads(tar.extractfile(MODEL_INFO_FILE).read())  # type: ignore[union-attr]
        symbol = json.loads(tar.extractfile(SYMBOL_FILE).read())  # type: ignore[union-attr]
        model = onnx.load_model_from_string(tar.extractfile(ONNX_FILE).read())  # type: ignore[union-attr]
    assert labels_raw == "compost\nlandfill\nrecycling\n"
    assert all(line == line.rstrip() for line in labels_raw.splitlines())
    assert info["classes"] == list(DEFAULT_CLASSES) and info["input_size"] == 224
    assert info["input"]["color_order"] == "BGR" and info["input"]["shape"] == [1, 3, 224, 224]
    assert re.fullmatch(r"[0-9a-f]{12}", info["version"])
    assert 0.0 <= info["metrics"]["validation:accuracy"] <= 1.0
    assert info["training"]["pretrained"] is False and info["training"]["downscale"] == 4
    assert symbol["nodes"][0]["name"] == "data"
    graph_input = model.graph.input[0]
    assert [input_.name for input_ in model.graph.input] == ["data"]  # weights are constants, not inputs
    dims = [d.dim_value or d.dim_param for d in graph_input.type.tensor_type.shape.dim]
    assert dims[1:] == [3, 224, 224] and graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # type: ignore[attr-defined]
    # Packing the same files again gives the same bytes.
    archive.unpack(demo_model, tmp_path)
    assert archive.pack(tmp_path, tmp_path / "again.tar.gz").read_bytes() == demo_model.read_bytes()


def test_network_does_channel_order_and_normalization_inside_the_graph() -> None:
    mx.random.seed(1)
    net = network.build_network("resnet18", 3, pretrained=False, contexts=[mx.cpu()])
    bgr = np.random.RandomState(1).uniform(0, 255, (2, 3, 64, 64)).astype(np.float32)
    rgb = bgr[:, ::-1]
    normalized = (rgb - np.array(MEAN_RGB, np.float32).reshape(1, 3, 1, 1)) / np.array(STD_RGB, np.float32).reshape(
        1, 3, 1, 1
    )
    expected = net.output(net.features(mx.nd.array(normalized))).asnumpy()
    np.testing.assert_allclose(net(mx.nd.array(bgr)).asnumpy(), expected, rtol=1e-4, atol=1e-4)
    # Downscaling is an average pool of the normalized frame, so a flat frame stays flat.
    small = network.build_network("resnet18", 3, pretrained=False, contexts=[mx.cpu()], downscale=4)
    flat = np.full((1, 3, 224, 224), 100.0, np.float32)
    flat_normalized = (100.0 - np.array(MEAN_RGB, np.float32).reshape(1, 3, 1, 1)) / np.array(
        STD_RGB, np.float32
    ).reshape(1, 3, 1, 1)
    at_56 = small.output(small.features(mx.nd.array(np.broadcast_to(flat_normalized, (1, 3, 56, 56)).copy()))).asnumpy()
    np.testing.assert_allclose(small(mx.nd.array(flat)).asnumpy(), at_56, rtol=1e-4, atol=1e-4)


def test_pretrained_weights_come_from_a_file_and_the_output_is_replaced(tmp_path: Path) -> None:
    # A zoo-layout file as `python -m training weights` writes it (here: constant weights).
    zoo = vision.get_model("resnet34_v1", pretrained=False)
    zoo.initialize(mx.init.Constant(0.01))
    zoo(mx.nd.zeros((1, 3, 64, 64)))
    zoo.save_parameters(str(tmp_path / "resnet34_v1.params"))
    net = network.build_network("resnet34", 5, pretrained=tmp_path / "resnet34_v1.params", contexts=[mx.cpu()])
    assert net(mx.nd.zeros((1, 3, 64, 64))).shape == (1, 5)
    assert float(net.features[0].weight.data().asnumpy().mean()) == pytest.approx(0.01)  # the file's weights kept
    with pytest.raises(ValueError, match="come from a file"):
        network.build_network("resnet34", 5, pretrained=True, contexts=[mx.cpu()])


def _sagemaker_env(monkeypatch: pytest.MonkeyPatch, data: Path, root: Path) -> None:
    monkeypatch.setenv("SM_CHANNEL_TRAINING", str(data))
    monkeypatch.setenv("SM_MODEL_DIR", str(root / "model"))
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(root / "output"))
    monkeypatch.setenv("SM_CHANNELS", '["training"]')


def test_sagemaker_script_mode_run(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare_dataset(sample_dir, tmp_path / "data", progress=False)
    hyperparameters = [
        "--epochs",
        "2",
        "--pretrained",
        "false",
        "--freeze-epochs",
        "1",
        "--downscale",
        "4",
        "--batch-size",
        "8",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.001",
        "--unknown-hp",
        "1",
    ]
    versions = []
    for run in ("a", "b"):
        _sagemaker_env(monkeypatch, tmp_path / "data", tmp_path / run)
        assert train.main([*hyperparameters, "--quiet"]) == 0
        model_dir = tmp_path / run / "model"
        # SageMaker packs SM_MODEL_DIR itself: the artifact files are written loose.
        written = sorted(p.name for p in model_dir.iterdir())
        assert written in (sorted(ARTIFACT_FILES), sorted([*ARTIFACT_FILES, INT8_ONNX_FILE]))
        versions.append(json.loads((model_dir / MODEL_INFO_FILE).read_text())["version"])
        history = json.loads((tmp_path / run / "output" / "training-history.json").read_text())
        assert [entry["epoch"] for entry in history] == [1, 2]
    assert versions[0] == versions[1]  # same seed, same data: same weights
    out = capsys.readouterr()
    for definition in METRIC_DEFINITIONS:
        values = [float(v) for v in re.findall(definition["Regex"], out.out)]
        assert len(values) >= 4, definition["Name"]  # two epochs, two runs
    assert "ignoring unknown arguments: --unknown-hp 1" in out.err


def test_train_py_runs_as_a_plain_script(tmp_path: Path) -> None:
    # SageMaker runs `python train.py`: the file must import its package without it being installed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("SM_")}
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "training_job" / "train.py"), "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "--no-pretrained" in result.stdout and "--freeze-epochs" in result.stdout


def test_unpack_rejects_inconsistent_archive(demo_model: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar.gz"
    with tarfile.open(demo_model, "r:gz") as source, tarfile.open(broken, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == LABELS_FILE:
                data = b"compost\nrecycling\nlandfill\n"
                member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    with pytest.raises(ValueError, match=r"disagrees with model\.json"):
        archive.unpack(broken, tmp_path / "x")
