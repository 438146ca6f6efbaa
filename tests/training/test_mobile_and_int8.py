"""MobileNet V2 trained and exported like ResNet; int8 quantized at export, measured, kept only where it wins."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon.model_zoo import vision
from numpy.typing import NDArray

from edge_core.backends import MxnetBackend, OnnxBackend
from edge_core.model_files import ModelFilesError, onnx_model_file
from sorter_common.artifact import (
    ARTIFACT_FILES,
    INT8_ONNX_FILE,
    MODEL_INFO_FILE,
    ONNX_FILE,
    SYMBOL_FILE,
)
from sorter_common.model_input import INPUT_SIZE, to_model_input
from testbed.demo_model import build_demo_model
from training_job import archive, bundled_wheels, network, quantize
from training_job.data import read_bgr
from training_job.evaluate import evaluate
from training_job.export import DEEPLENS_MXNET_LAYERS, export_mxnet, graph_layers
from training_job.split import read_lst

MOBILENET = "mobilenetv2_1.0"


@pytest.fixture(scope="module")
def mobilenet_model() -> Path:
    """A MobileNet V2 model.tar.gz trained (briefly) on the demo data, exactly as ResNet is."""
    return build_demo_model(architecture=MOBILENET, epochs=2)


def _test_frames(data_dir: Path) -> NDArray[Any]:
    frames = [to_model_input(read_bgr(data_dir / rel)) for _, rel in read_lst(data_dir / "test.lst")]
    noise = np.random.RandomState(0).uniform(0, 255, (4, 3, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)
    return np.concatenate([*frames, noise])


def test_mobilenet_mxnet_and_onnx_runtime_agree_on_every_test_image(mobilenet_model: Path, tmp_path: Path) -> None:
    data_dir = mobilenet_model.parent.parent / "data"
    info = archive.unpack(mobilenet_model, tmp_path)
    assert info["architecture"] == MOBILENET and info["deeplens"] is False
    assert info["input"]["shape"] == [1, 3, 224, 224] and info["input"]["color_order"] == "BGR"
    frames = _test_frames(data_dir)
    by_mxnet = MxnetBackend(str(tmp_path)).infer_batch(frames)
    by_onnx = OnnxBackend(str(tmp_path), onnx_file=ONNX_FILE).infer_batch(frames)
    assert by_mxnet.shape == by_onnx.shape == (len(frames), 3)
    np.testing.assert_array_equal(by_mxnet.argmax(axis=1), by_onnx.argmax(axis=1))
    assert float(np.abs(by_mxnet - by_onnx).max()) <= 1e-4
    # The evaluation (the pipeline's Evaluate step) measures it through the same backends.
    document = evaluate(mobilenet_model, data_dir, tmp_path / "eval", runtime_name="onnx", progress=False)
    assert document["count"] == len(read_lst(data_dir / "test.lst"))


def test_mobilenet_keeps_the_deeplens_names_but_not_the_deeplens_layers(mobilenet_model: Path) -> None:
    with tarfile.open(mobilenet_model) as tar:
        names = set(tar.getnames())
        symbol = json.loads(tar.extractfile(SYMBOL_FILE).read())  # type: ignore[union-attr]
    assert set(ARTIFACT_FILES) <= names
    ops = {node["op"] for node in symbol["nodes"]}
    # ReLU6 is `clip`, which the DeepLens optimizer's list does not name (config refuses the combination).
    assert "clip" in ops and "clip" not in DEEPLENS_MXNET_LAYERS
    depthwise = [
        node for node in symbol["nodes"] if node["op"] == "Convolution" and node["attrs"].get("num_group", "1") != "1"
    ]
    assert depthwise  # MobileNet's depthwise convolutions


def test_the_deeplens_export_refuses_mobilenet(tmp_path: Path) -> None:
    net = network.build_network(MOBILENET, 3, pretrained=False, contexts=[mx.cpu()], downscale=4)
    with pytest.raises(ValueError, match="clip"):
        export_mxnet(net, tmp_path, deeplens=True)
    symbol_file, _ = export_mxnet(net, tmp_path / "plain", deeplens=False)
    assert "clip" in graph_layers(symbol_file)


def test_mobilenet_pretrained_weights_load_from_a_zoo_layout_file(tmp_path: Path) -> None:
    zoo = vision.get_model(MOBILENET, pretrained=False)
    zoo.initialize(mx.init.Constant(0.02))
    zoo(mx.nd.zeros((1, 3, 64, 64)))
    weights = tmp_path / "mobilenetv2_1.0.params"
    zoo.save_parameters(str(weights))
    net = network.build_network(MOBILENET, 4, pretrained=weights, contexts=[mx.cpu()])
    assert net(mx.nd.zeros((1, 3, 64, 64))).shape == (1, 4)
    assert float(net.features[0].weight.data().asnumpy().mean()) == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("fp32_ms", "int8_ms", "fp32_accuracy", "int8_accuracy", "preferred"),
    [
        (30.0, 20.0, 0.95, 0.95, True),  # exactly 1.5x
        (30.0, 20.1, 0.95, 0.95, False),  # just under 1.5x
        (30.0, 10.0, 0.95, 0.94, True),  # exactly one point lost
        (30.0, 10.0, 0.95, 0.9399, False),  # more than one point lost
        (30.0, 10.0, 0.90, 0.93, True),  # int8 happens to score better
        (10.0, 12.0, 0.95, 0.95, False),  # int8 slower, as published measurements sometimes show
    ],
)
def test_int8_is_preferred_only_at_1_5x_and_at_most_one_point_lost(
    fp32_ms: float, int8_ms: float, fp32_accuracy: float, int8_accuracy: float, preferred: bool
) -> None:
    decided, reason = quantize.decide(fp32_ms, int8_ms, fp32_accuracy, int8_accuracy)
    assert decided is preferred
    assert reason and "\n" not in reason


def test_the_demo_export_measures_int8_faster_ships_it_and_the_camera_loads_it(
    demo_model: Path, demo_data: Path, tmp_path: Path
) -> None:
    """The real export (the demo ResNet-18: quantized, measured, decided by training_job.quantize) on the
    path where int8 wins, checked against what is recomputed here rather than against decide() again."""
    info = archive.unpack(demo_model, tmp_path)
    int8 = info["int8"]
    # The demo ResNet-18's int8 measures 2.4x to 3x fp32 on x86 (README table), far above the 1.5x
    # required; were this machine's build measured otherwise, the int8 path below would go untested.
    assert int8["preferred"] is True, f"the demo export did not prefer int8, so its int8 path is untested: {int8}"
    with tarfile.open(demo_model) as tar:
        assert INT8_ONNX_FILE in tar.getnames()
    assert info["files"].get("onnx_int8") == INT8_ONNX_FILE
    # Really an int8 network, and smaller.
    ops = {node.op_type for node in __import__("onnx").load(str(tmp_path / INT8_ONNX_FILE)).graph.node}
    assert "QuantizeLinear" in ops
    assert (tmp_path / INT8_ONNX_FILE).stat().st_size < (tmp_path / ONNX_FILE).stat().st_size / 2
    # Which onnxruntime measured: this Python's own here (in SageMaker, the code bundle's wheel).
    assert (int8["onnxruntime"], int8["onnxruntime_from"]) == (__import__("onnxruntime").__version__, "this Python")
    assert int8["format"] == quantize.QUANT_FORMAT and int8["test_images"] == len(read_lst(demo_data / "test.lst"))
    assert int8["calibration_images"] == min(quantize.CALIBRATION_IMAGES, len(read_lst(demo_data / "validation.lst")))
    # Both recorded accuracies, recomputed here through the edge backend on the test split.
    labels = np.array([label for label, _ in read_lst(demo_data / "test.lst")])
    frames = _test_frames(demo_data)[: len(labels)]
    for name, key in ((ONNX_FILE, "fp32_test_accuracy"), (INT8_ONNX_FILE, "int8_test_accuracy")):
        scores = OnnxBackend(str(tmp_path), onnx_file=name).infer_batch(frames)
        assert int8[key] == pytest.approx(float((scores.argmax(axis=1) == labels).mean()), abs=1e-6), key
    # The rule, with the figures the issue states (1.5x, one point), not with decide() again.
    assert int8["fp32_ms_per_frame"] / int8["int8_ms_per_frame"] >= 1.5
    assert int8["speedup"] == pytest.approx(int8["fp32_ms_per_frame"] / int8["int8_ms_per_frame"], rel=1e-2)
    assert int8["fp32_test_accuracy"] - int8["int8_test_accuracy"] <= 0.01 + 1e-9
    # The evaluation (ONNX Runtime on the test split) measures the model the camera loads: int8.
    document = evaluate(demo_model, demo_data, tmp_path / "eval", runtime_name="onnx", progress=False)
    evaluated = document["multiclass_classification_metrics"]["accuracy"]["value"]
    assert int8["int8_test_accuracy"] == pytest.approx(evaluated)
    # The camera loads it by itself (Precision auto), and model.onnx with Precision fp32.
    assert Path(OnnxBackend(str(tmp_path)).model_file).name == INT8_ONNX_FILE
    assert Path(OnnxBackend(str(tmp_path), precision="fp32").model_file).name == ONNX_FILE


def test_an_int8_model_measured_too_slow_is_not_shipped(
    demo_model: Path, demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real quantization and accuracies; the timing as on a CPU where int8 is slower than fp32.
    archive.unpack(demo_model, tmp_path)
    timed = {ONNX_FILE: 10.0, "x.onnx": 12.0}
    monkeypatch.setattr(quantize, "ms_per_frame", lambda model_file, frames: timed[model_file.name])
    result = quantize.quantize_and_measure(tmp_path / ONNX_FILE, tmp_path / "x.onnx", demo_data)
    assert result["preferred"] is False
    assert result["reason"] == "int8 is 0.83x the fp32 speed, under the 1.5x required"
    assert (result["fp32_ms_per_frame"], result["int8_ms_per_frame"]) == (10.0, 12.0)
    assert not (tmp_path / "x.onnx").exists()


def test_quantize_and_measure_writes_a_working_int8_model_calibrated_on_the_validation_split(
    demo_model: Path, demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.unpack(demo_model, tmp_path)
    kept = tmp_path / "kept.int8.onnx"
    frames = quantize.model_inputs(quantize.split_images(demo_data, "validation", 8)[0])
    working = tmp_path / "working"
    working.mkdir()
    monkeypatch.chdir(working)
    before = sorted(path.name for path in tmp_path.iterdir())
    quantize.quantize(tmp_path / ONNX_FILE, kept, frames)
    assert not list(working.iterdir())  # nothing of the calibration is left where the job runs
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*before, kept.name])  # nor in the model folder
    shutil.copy(kept, tmp_path / INT8_ONNX_FILE)
    int8 = OnnxBackend(str(tmp_path), onnx_file=INT8_ONNX_FILE)
    ops = {node.op_type for node in __import__("onnx").load(str(kept)).graph.node}
    assert "QuantizeLinear" in ops  # really quantized
    probabilities = int8.infer_batch(_test_frames(demo_data))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)  # the softmax stays float
    # The measurement's int8 accuracy is this model's, recomputed here.
    labels = [label for label, _ in read_lst(demo_data / "test.lst")]
    measured = quantize.accuracy(kept, _test_frames(demo_data)[: len(labels)], labels)
    assert measured == pytest.approx(float((probabilities[: len(labels)].argmax(axis=1) == np.array(labels)).mean()))


def test_without_onnxruntime_the_export_says_so_in_model_json(
    demo_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.unpack(demo_model, tmp_path)
    missing = ("", "onnxruntime is not installed in this Python and the code bundle carries no wheels")
    monkeypatch.setattr(bundled_wheels, "ensure_onnxruntime", lambda: missing)
    result = quantize.quantize_and_measure(tmp_path / ONNX_FILE, tmp_path / "x.onnx", tmp_path)
    assert result == {"preferred": False, "reason": missing[1]}
    assert not (tmp_path / "x.onnx").exists()


def test_a_failing_quantization_keeps_the_fp32_model_and_says_why(
    demo_model: Path, demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.unpack(demo_model, tmp_path)

    def fail(fp32_file: Path, int8_file: Path, *args: object, **kwargs: object) -> Path:
        int8_file.write_bytes(b"half written")
        raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : unsupported\nmore lines")

    monkeypatch.setattr(quantize, "quantize", fail)
    result = quantize.quantize_and_measure(tmp_path / ONNX_FILE, tmp_path / "x.onnx", demo_data)
    assert result == {
        "preferred": False,
        "reason": "int8 quantization failed (RuntimeError: [ONNXRuntimeError] : 1 : FAIL : unsupported)",
        "onnxruntime": __import__("onnxruntime").__version__,
        "onnxruntime_from": "this Python",
    }
    assert not (tmp_path / "x.onnx").exists()


def test_a_model_json_preferring_a_missing_int8_file_is_refused(demo_model: Path, tmp_path: Path) -> None:
    archive.unpack(demo_model, tmp_path)
    info = json.loads((tmp_path / MODEL_INFO_FILE).read_text())
    info["int8"]["preferred"] = True
    (tmp_path / MODEL_INFO_FILE).write_text(json.dumps(info))
    (tmp_path / INT8_ONNX_FILE).unlink(missing_ok=True)
    with pytest.raises(ModelFilesError, match=INT8_ONNX_FILE):
        onnx_model_file(str(tmp_path))
    with pytest.raises(archive.ModelArchiveError, match="prefers int8"):
        archive.unpack(archive.pack(tmp_path, tmp_path / "repacked.tar.gz"), tmp_path / "again")


def test_an_exception_other_than_import_error_while_importing_onnxruntime_ships_fp32_with_the_reason(
    demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a wheel built against another numpy can raise at import time: not an ImportError.
    import builtins

    from training_job.train import write_artifact
    from training_job.train_config import TrainConfig

    real_import = builtins.__import__

    def broken_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("onnxruntime.quantization"):
            raise RuntimeError("module compiled against API version 0x10 but this version of numpy is 0xd\nmore")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken_import)
    monkeypatch.setattr(bundled_wheels, "WHEELS_DIR", tmp_path / "no-wheels")  # as a bundle without wheels
    net = network.build_network("resnet18", 3, pretrained=False, contexts=[mx.cpu()], downscale=4)
    config = TrainConfig(data_dir=demo_data, model_dir=tmp_path / "out", pretrained=False, downscale=4)
    packed = write_artifact(net, ["compost", "landfill", "recycling"], {"accuracy": 0.5}, config)
    assert packed is not None
    info = archive.unpack(packed, tmp_path / "unpacked")
    assert info["int8"] == {
        "preferred": False,
        "reason": "onnxruntime's quantization is not installed in this Python (RuntimeError: module compiled "
        f"against API version 0x10 but this version of numpy is 0xd\nmore) and the code bundle carries no wheels "
        f"({tmp_path / 'no-wheels'})",
    }
    with tarfile.open(packed) as tar:
        names = tar.getnames()
    assert ONNX_FILE in names and INT8_ONNX_FILE not in names
    assert (tmp_path / "unpacked" / ONNX_FILE).is_file()


def test_any_exception_while_finding_onnxruntime_ships_fp32_with_the_reason(
    demo_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.unpack(demo_model, tmp_path)

    def broken() -> tuple[str, str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundled_wheels, "ensure_onnxruntime", broken)
    result = quantize.quantize_and_measure(tmp_path / ONNX_FILE, tmp_path / "x.onnx", tmp_path)
    assert result == {
        "preferred": False,
        "reason": "onnxruntime cannot be used for int8 (OSError: [Errno 28] No space left on device)",
    }
