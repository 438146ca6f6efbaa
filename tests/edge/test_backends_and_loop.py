"""The core with the real demo model: ONNX Runtime and MXNet agree; the loop decides and publishes."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from edge_core.backends import Backend, MxnetBackend, OnnxBackend, load_backend
from edge_core.frames import FrameError, FrameSource, IterableFrameSource
from edge_core.loop import InferenceLoop
from edge_core.messages import MessageBuilder
from edge_core.model_files import ModelFilesError, read_model_info
from edge_core.policy import PublishPolicy
from edge_core.scores import to_probabilities
from edge_core.smoothing import Smoother
from sorter_common.artifact import ONNX_FILE
from sorter_common.message import parse_prediction


@pytest.fixture(scope="module")
def onnx_backend(demo_model_dir: Path) -> OnnxBackend:
    return OnnxBackend(str(demo_model_dir), onnx_file=ONNX_FILE)  # fp32: the same network as MXNet


def test_onnx_runtime_and_mxnet_give_the_same_decision_on_the_same_frame(
    demo_model_dir: Path, onnx_backend: OnnxBackend, held_out_frames: dict[str, list[Any]]
) -> None:
    mxnet = MxnetBackend(str(demo_model_dir))
    labels = read_model_info(str(demo_model_dir)).labels
    for class_id, frames in held_out_frames.items():
        for frame in frames[:3]:
            from_onnx = to_probabilities(onnx_backend.infer(frame))
            from_mxnet = to_probabilities(mxnet.infer(frame))
            assert np.abs(from_onnx - from_mxnet).max() < 1e-4
            assert labels[int(np.argmax(from_onnx))] == labels[int(np.argmax(from_mxnet))] == class_id


def test_the_loop_publishes_one_message_per_decided_bin(
    demo_model_dir: Path, onnx_backend: OnnxBackend, held_out_frames: dict[str, list[Any]]
) -> None:
    labels = read_model_info(str(demo_model_dir)).labels
    frames = [frame for class_id in labels for frame in held_out_frames[class_id][:6]]
    published: list[tuple[str, bytes]] = []
    ticks = iter(range(1000))
    loop = InferenceLoop(
        source=IterableFrameSource(frames),
        backend=onnx_backend,
        smoother=Smoother(labels, window=3, threshold=0.6),
        policy=PublishPolicy(heartbeat_s=100.0, min_interval_s=0.0),
        messages=MessageBuilder("cam-1", model="v1"),
        publish=lambda topic, payload: published.append((topic, payload)),
        clock=lambda: float(next(ticks)),
    )
    for _ in range(len(frames) + 1):  # one more read than frames: a failed read is counted
        loop.step()
    assert loop.counters.frames == len(frames)
    assert loop.counters.frame_failures == 1
    messages = [parse_prediction(payload, labels) for _, payload in published]
    assert {topic for topic, _ in published} == {"trash-sorter/cam-1/predictions"}
    decided = [message.label for message in messages if message.label != "unsure"]
    assert decided == labels  # one message per bin, in the order they were shown
    assert [message.seq for message in messages] == list(range(1, len(messages) + 1))
    sure = [message for message in messages if message.label != "unsure"]
    assert all(message.model == "v1" and message.top[0][0] == message.label for message in sure)


def test_a_failing_backend_is_counted_and_the_loop_goes_on(held_out_frames: dict[str, list[Any]]) -> None:
    class Flaky(OnnxBackend):
        def __init__(self) -> None:
            self.calls = 0

        def infer(self, frame: NDArray[Any]) -> NDArray[Any]:
            self.calls += 1
            if self.calls == 2:
                raise RuntimeError("GPU hiccup")
            return np.array([0.9, 0.05, 0.05])

    frames = held_out_frames["compost"][:3]
    loop = InferenceLoop(
        IterableFrameSource(frames),
        Flaky(),
        Smoother(["compost", "landfill", "recycling"]),
        PublishPolicy(),
        MessageBuilder("cam-1"),
        lambda topic, payload: None,
    )
    results = [loop.step() for _ in frames]
    assert [result.error for result in results] == [None, "inference: GPU hiccup", None]
    assert loop.counters.inference_failures == 1 and loop.counters.frames == 3


def test_model_folder_problems_are_one_clear_error(demo_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelFilesError, match=r"labels.txt is missing from"):
        read_model_info(str(tmp_path))
    (tmp_path / "labels.txt").write_text(" compost \r\nlandfill\r\n\n recycling\t\n")
    assert read_model_info(str(tmp_path)).labels == ["compost", "landfill", "recycling"]
    with pytest.raises(ModelFilesError, match=r"model.onnx is missing"):
        load_backend("onnxruntime", str(tmp_path))
    shutil.copy(demo_model_dir / "image-classification-symbol.json", tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelFilesError, match=r"cannot load model.onnx"):
        OnnxBackend(str(tmp_path))


def test_a_camera_that_stays_down_logs_one_warning_per_outage_and_the_recovery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Flapping(FrameSource):
        """Down for 5 reads, up for 2, down for 3, up for 1: what a replugged USB camera does."""

        def __init__(self) -> None:
            self.script = [False] * 5 + [True] * 2 + [False] * 3 + [True]

        def read(self) -> NDArray[Any]:
            if not self.script.pop(0):
                raise FrameError("camera unplugged")
            return np.zeros((4, 4, 3), np.uint8)

    class Fixed(Backend):
        def infer(self, frame: NDArray[Any]) -> NDArray[Any]:
            return np.array([0.9, 0.05, 0.05])

    loop = InferenceLoop(
        Flapping(), Fixed(), Smoother(["compost", "landfill", "recycling"]), PublishPolicy(),
        MessageBuilder("cam-1"), lambda topic, payload: None,
    )
    with caplog.at_level(logging.DEBUG, logger="edge_core.loop"):
        results = [loop.step() for _ in range(11)]
    assert [result.error is None for result in results] == [False] * 5 + [True] * 2 + [False] * 3 + [True]
    assert loop.counters.frame_failures == 8 and loop.counters.frames == 3  # every failure still counted
    frame_records = [r for r in caplog.records if "frame" in r.getMessage()]
    warnings = [r.getMessage() for r in frame_records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per outage, not one per step
    assert warnings[0].startswith("frame 1 failed: camera unplugged")
    assert warnings[1].startswith("frame 6 failed: camera unplugged")
    debug = [r for r in frame_records if r.levelno == logging.DEBUG]
    assert len(debug) == 6  # the rest of each run, kept for troubleshooting
    recoveries = [r.getMessage() for r in frame_records if r.levelno == logging.INFO]
    assert recoveries == ["frames are back after 5 failed reads", "frames are back after 3 failed reads"]


@pytest.mark.parametrize(("threads", "expected"), [(0, None), (1, 1), (3, 3)])
def test_the_camera_session_threads_come_from_the_device_cores_without_spinning(
    demo_model_dir: Path, threads: int, expected: int | None
) -> None:
    import os

    backend = OnnxBackend(str(demo_model_dir), threads=threads)
    # What the session was built with, read back from ONNX Runtime itself.
    options = backend.session.get_session_options()
    cores = len(os.sched_getaffinity(0))
    assert options.intra_op_num_threads == (expected if expected is not None else cores)
    assert options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"


def test_the_camera_prefers_int8_only_where_model_json_says_so(demo_model_dir: Path, tmp_path: Path) -> None:
    import json

    from sorter_common.artifact import INT8_ONNX_FILE, MODEL_INFO_FILE

    folder = tmp_path / "model"
    shutil.copytree(demo_model_dir, folder)
    # An int8 file that is not preferred is never loaded (here: a copy of the fp32 model stands in).
    shutil.copy(folder / ONNX_FILE, folder / INT8_ONNX_FILE)
    info = json.loads((folder / MODEL_INFO_FILE).read_text())
    info["int8"] = {"preferred": False, "reason": "int8 is 1.10x the fp32 speed, under the 1.5x required"}
    (folder / MODEL_INFO_FILE).write_text(json.dumps(info))
    assert Path(OnnxBackend(str(folder)).model_file).name == ONNX_FILE
    info["int8"]["preferred"] = True
    (folder / MODEL_INFO_FILE).write_text(json.dumps(info))
    assert Path(OnnxBackend(str(folder)).model_file).name == INT8_ONNX_FILE
    assert Path(OnnxBackend(str(folder), precision="auto").model_file).name == INT8_ONNX_FILE
    # The owner's Precision=fp32 overrides the export's preference.
    assert Path(OnnxBackend(str(folder), precision="fp32").model_file).name == ONNX_FILE
    with pytest.raises(ValueError, match="'int8' is not one of auto, fp32"):
        OnnxBackend(str(folder), precision="int8")
    (folder / INT8_ONNX_FILE).unlink()
    assert Path(OnnxBackend(str(folder), precision="fp32").model_file).name == ONNX_FILE
    with pytest.raises(ModelFilesError, match=INT8_ONNX_FILE):
        OnnxBackend(str(folder))
