"""The DeepLens function on a fake DeepLens and a fake Greengrass V1 core, both written from AWS's docs.

Two levels:
- the synthesized group, end to end: the function's package from the cloud assembly, started by
  the fake core as a pinned Greengrass V1 function (its module imported, the group's environment
  variables) on Python 3.7 and on the project's Python, the model delivered by the group's model
  resource, publishing with the real greengrasssdk through the core's IPC, and reaching the fake
  cloud only through the group's subscriptions;
- the runner in this process, for the cases that need a controlled camera (a failed read, a
  noisy frame, a model that arrives late, the project stream).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
import pytest

from lambda_src.deeplens_inference.runner import Runner
from lambda_src.deeplens_inference.settings import Settings, from_environment
from sorter_common.message import Prediction, parse_prediction, parse_status
from tests.conftest import PROJECT_ROOT
from tests.lambda_src.conftest import SynthesizedDeepLens
from tests.lambda_src.fakes.greengrass_core import DEVICE_MODULES, FakeCloud, GreengrassCore, Group
from tools.cdk_context import DEEPLENS_THING_ARN

THING = DEEPLENS_THING_ARN.split("/")[-1]
CLASSES = ["compost", "landfill", "recycling"]
PREDICTIONS = f"trash-sorter/{THING}/predictions"
STATUS = f"trash-sorter/{THING}/status"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:TrashSorterDeepLens-Inference:live"
# The Pythons the function must run on: the DeepLens's (3.7, built by make setup-dev) and ours.
DEEPLENS_PYTHON = PROJECT_ROOT / ".venv" / "deeplens-py37" / "bin" / "python"
PYTHONS = {"python3.7": str(DEEPLENS_PYTHON), "project-python": sys.executable}


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def states_of(payloads: list[bytes]) -> list[tuple[str, str]]:
    return [(status.state, status.detail) for status in map(parse_status, payloads)]


# --- the synthesized group on the fake core -----------------------------------------------------


class RunningGroup:
    def __init__(self, core: GreengrassCore, cloud: FakeCloud, log: Path) -> None:
        self.core, self.cloud, self.log = core, cloud, log

    def predictions(self) -> list[Prediction]:
        return [parse_prediction(payload, CLASSES) for payload in self.cloud.on(PREDICTIONS)]

    def states(self) -> list[tuple[str, str]]:
        return states_of(self.cloud.on(STATUS))

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_group(
    synthesized_deeplens: SynthesizedDeepLens, cached_demo_model: Path, tmp_path: Path
) -> Iterator[Callable[..., RunningGroup]]:
    cores: list[GreengrassCore] = []

    def start(python: str, frames: list[Any], **environment: str) -> RunningGroup:
        if not Path(python).is_file():
            pytest.fail(f"{python} is missing: run `make setup-dev` (it builds the DeepLens Python 3.7 environment)")
        cloud = FakeCloud()
        group = Group(synthesized_deeplens.template, FUNCTION_ARN)
        core = GreengrassCore(group, thing_name=THING, group_name="trash-sorter-deeplens", cloud=cloud)
        cores.append(core)
        # The device's filesystem under tmp_path: the model resource's destination, the camera.
        artifacts = core.deliver_model(cached_demo_model, tmp_path / "device")
        camera = tmp_path / "camera"
        camera.mkdir()
        for index, frame in enumerate(frames):
            cv2.imwrite(str(camera / f"{index:04d}.png"), frame)
        log = tmp_path / "function.log"
        core.start_function(
            python,
            synthesized_deeplens.function_package(),
            {
                # Tests cannot write /opt or share /tmp: the same folders, moved under tmp_path.
                "ARTIFACTS_DIR": str(artifacts),
                "FAKE_DEEPLENS_ARTIFACTS": str(artifacts),
                "RESULTS_PATH": str(tmp_path / "results.mjpeg"),
                "FAKE_DEEPLENS_FRAMES": str(camera),
                **environment,
            },
            log,
        )
        return RunningGroup(core, cloud, log)

    yield start
    for core in cores:
        core.stop()


@pytest.mark.parametrize("python", sorted(PYTHONS))
def test_the_group_runs_the_synthesized_function_and_its_predictions_reach_the_cloud(
    python: str,
    start_group: Callable[..., RunningGroup],
    held_out_frames: dict[str, list[Any]],
    synthesized_deeplens: SynthesizedDeepLens,
) -> None:
    running = start_group(PYTHONS[python], list(held_out_frames["recycling"][:5]))
    # After the last frame the camera has none: the function says so once, with the counts.
    assert wait_until(lambda: any("frame_failures=1" in detail for _, detail in running.states())), running.output()
    messages = running.predictions()
    assert [message.label for message in messages] == ["recycling"], running.output()
    assert (messages[0].device, messages[0].seq) == (THING, 1)
    assert [state for state, _ in running.states()][:3] == ["starting", "model-loaded", "running"]
    assert running.core.dropped == []  # every message had a subscription to the cloud
    assert running.core.process is not None and running.core.process.poll() is None  # pinned: still running
    output = running.output()
    # The function ran from its package, with the greengrasssdk the package carries.
    sdk_line = next(line for line in output.splitlines() if "greengrasssdk from " in line)
    assert sdk_line.split("greengrasssdk from ", 1)[1].startswith(str(synthesized_deeplens.function_package()))
    assert "mo.optimize('image-classification', 224, 224) -> (0, " in output


def test_messages_without_a_subscription_never_reach_the_cloud(
    start_group: Callable[..., RunningGroup], held_out_frames: dict[str, list[Any]]
) -> None:
    # The same function told to publish under another prefix: the group routes none of it.
    running = start_group(sys.executable, list(held_out_frames["compost"][:5]), TOPIC_PREFIX="elsewhere")
    assert wait_until(lambda: any(topic.endswith("/predictions") for _, topic in running.core.dropped))
    assert running.cloud.messages == []
    assert {source for source, _ in running.core.dropped} == {FUNCTION_ARN}


@pytest.mark.parametrize("python", sorted(PYTHONS))
def test_an_unrecoverable_failure_ends_the_process_after_one_status_so_greengrass_restarts_it(
    python: str, start_group: Callable[..., RunningGroup], held_out_frames: dict[str, list[Any]], tmp_path: Path
) -> None:
    # The project stream path is a plain file, not the FIFO the video server reads: the stream
    # cannot start, and no retry in the process can fix that.
    blocked = tmp_path / "not-a-fifo"
    blocked.write_text("left behind")
    running = start_group(PYTHONS[python], list(held_out_frames["landfill"][:5]), RESULTS_PATH=str(blocked))
    assert wait_until(lambda: len(running.core.exits) >= 1, 60), running.output()
    assert running.core.exits[0] == 1
    first_run = running.states()[:3]
    assert [state for state, _ in first_run] == ["starting", "model-loaded", "error"]  # one status, then the end
    assert first_run[2][1].startswith("fatal: RuntimeError: ") and "not a FIFO" in first_run[2][1]
    # The owner removes the stray file; the core's next start of the function gets going.
    blocked.unlink()
    assert wait_until(lambda: [m.label for m in running.predictions()] == ["landfill"], 90), running.output()
    assert all(status == 1 for status in running.core.exits)


# --- the runner in this process, on the same fake device modules ---------------------------------


class Device:
    """The fake awscam and mo modules, imported from their folder as the function imports them."""

    def __init__(self, awscam: ModuleType, mo: ModuleType) -> None:
        self.awscam, self.mo = awscam, mo
        self.published: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    def show(self, frames: list[Any]) -> None:
        """Frames the camera will return, as 1920x1080 camera frames; None is a failed read."""
        self.awscam.CAMERA.frames = [None if f is None else self.awscam.to_camera_frame(f) for f in frames]

    def publish(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.published.append((topic, bytes(payload)))

    def predictions(self) -> list[Prediction]:
        return [parse_prediction(payload, CLASSES) for topic, payload in self.published if topic == PREDICTIONS]

    def states(self) -> list[tuple[str, str]]:
        return states_of([payload for topic, payload in self.published if topic == STATUS])


@pytest.fixture
def artifacts(demo_model_dir: Path, tmp_path: Path) -> Path:
    """/opt/awscam/artifacts after a deployment, with a labels.txt as sloppy as the recipe's."""
    folder = tmp_path / "artifacts"
    shutil.copytree(demo_model_dir, folder)
    (folder / "labels.txt").write_text(" compost\r\nlandfill \r\n\nrecycling\t\n")
    return folder


@pytest.fixture
def device(artifacts: Path) -> Iterator[Device]:
    sys.path.insert(0, str(DEVICE_MODULES))
    try:
        awscam, mo = importlib.import_module("awscam"), importlib.import_module("mo")
        mo.ARTIFACTS_DIR = str(artifacts)  # type: ignore[attr-defined]
        yield Device(awscam, mo)
    finally:
        sys.path.remove(str(DEVICE_MODULES))
        for name in ("awscam", "mo"):
            sys.modules.pop(name, None)


def settings_for(artifacts_dir: Path, tmp_path: Path, **overrides: Any) -> Settings:
    environ = {
        "THING_NAME": THING,
        "ARTIFACTS_DIR": str(artifacts_dir),
        "RESULTS_PATH": str(tmp_path / "results.mjpeg"),
        "MIN_INTERVAL_SECONDS": "0",
        "RETRY_INITIAL_SECONDS": "0.05",
        "RETRY_MAX_SECONDS": "0.2",
    }
    return from_environment(environ)._replace(**overrides)


def run_on(device: Device, settings: Settings, frames: int) -> Runner:
    """Run the runner until the fake camera has served `frames` frames."""
    from edge_core.frames import AwscamFrameSource

    ticks = iter(range(100000))
    runner = Runner(settings, device.publish, threading.Event(), AwscamFrameSource, clock=lambda: float(next(ticks)))
    runner.run(max_frames=frames)
    return runner


@pytest.mark.parametrize("class_id", CLASSES)
def test_frames_of_each_class_give_that_bin(
    class_id: str, device: Device, artifacts: Path, tmp_path: Path, held_out_frames: dict[str, list[Any]]
) -> None:
    device.show(list(held_out_frames[class_id][:5]))
    run_on(device, settings_for(artifacts, tmp_path), 5)
    messages = device.predictions()
    assert [message.label for message in messages] == [class_id]  # one decision, published once
    message = messages[0]
    version = json.loads((artifacts / "model.json").read_text())["version"]
    assert (message.device, message.seq, message.model) == (THING, 1, version)
    assert message.top[0][0] == class_id and sorted(label for label, _ in message.top) == CLASSES
    assert device.mo.CALLS == [("image-classification", 224, 224)]
    assert [state for state, _ in device.states()] == ["starting", "model-loaded", "running", "stopping"]


def test_a_failed_frame_is_counted_and_the_loop_goes_on(
    device: Device, artifacts: Path, tmp_path: Path, held_out_frames: dict[str, list[Any]]
) -> None:
    frames = held_out_frames["landfill"][:4]
    device.show([frames[0], None, *frames[1:]])
    runner = run_on(device, settings_for(artifacts, tmp_path), 5)
    assert runner.loop is not None
    assert runner.loop.counters.frames == 4
    assert runner.loop.counters.frame_failures == 1
    errors = [detail for state, detail in device.states() if state == "error"]
    assert len(errors) == 1 and "frame_failures=1" in errors[0]
    assert [message.label for message in device.predictions()] == ["landfill"]


def test_a_noisy_single_frame_does_not_flip_the_bin(
    device: Device, artifacts: Path, tmp_path: Path, held_out_frames: dict[str, list[Any]]
) -> None:
    # Held-out compost frames 4 and 5 are ones the small demo model itself is unsure of or
    # misreads; leave them out so exactly one odd frame, a recycling one, is in the window.
    compost = held_out_frames["compost"]
    device.show([*compost[:4], held_out_frames["recycling"][0], *compost[6:9]])
    run_on(device, settings_for(artifacts, tmp_path), 8)
    assert [message.label for message in device.predictions()] == ["compost"]


def test_a_missing_model_is_reported_once_and_retried_until_it_arrives(
    device: Device, artifacts: Path, tmp_path: Path, held_out_frames: dict[str, list[Any]]
) -> None:
    from edge_core.frames import AwscamFrameSource

    empty = tmp_path / "not-yet-deployed"
    empty.mkdir()
    device.mo.ARTIFACTS_DIR = str(empty)  # type: ignore[attr-defined]
    device.show(list(held_out_frames["recycling"][:3]))
    runner = Runner(settings_for(empty, tmp_path), device.publish, threading.Event(), AwscamFrameSource)
    thread = threading.Thread(target=runner.run, kwargs={"max_frames": 3})
    thread.start()
    assert wait_until(lambda: runner.load_attempts >= 4)
    errors = [detail for state, detail in device.states() if state == "error"]
    assert len(errors) == 1, errors  # one clear message, not one per retry
    assert "labels.txt is missing from" in errors[0] and "retrying with backoff" in errors[0]
    for path in artifacts.iterdir():  # the deployment arrives
        shutil.copy(path, empty / path.name)
    thread.join(30)
    assert not thread.is_alive()
    assert [state for state, _ in device.states()][-3:] == ["model-loaded", "running", "stopping"]
    assert [message.label for message in device.predictions()] == ["recycling"]


def test_a_model_the_optimizer_cannot_load_is_reported_and_retried(
    device: Device, artifacts: Path, tmp_path: Path, held_out_frames: dict[str, list[Any]]
) -> None:
    from edge_core.frames import AwscamFrameSource

    params = artifacts / "image-classification-0000.params"
    good = params.read_bytes()
    params.write_bytes(b"truncated")
    device.show(list(held_out_frames["compost"][:5]))
    runner = Runner(settings_for(artifacts, tmp_path), device.publish, threading.Event(), AwscamFrameSource)
    thread = threading.Thread(target=runner.run, kwargs={"max_frames": 5})
    thread.start()
    assert wait_until(lambda: runner.load_attempts >= 2)
    errors = [detail for state, detail in device.states() if state == "error"]
    assert len(errors) == 1 and "mo.optimize('image-classification') failed with error 2" in errors[0]
    params.write_bytes(good)
    thread.join(30)
    assert [message.label for message in device.predictions()] == ["compost"]


def test_the_project_stream_gets_annotated_jpeg_frames_from_its_own_thread(
    device: Device, artifacts: Path, tmp_path: Path, held_out_frames: dict[str, list[Any]]
) -> None:
    received: list[bytes] = []
    results = tmp_path / "results.mjpeg"
    os.mkfifo(results)

    def viewer() -> None:  # the DeepLens video server reading the project stream
        with open(results, "rb") as fifo:
            received.append(fifo.read(2_000_000))

    reader = threading.Thread(target=viewer, daemon=True)
    reader.start()
    device.show(list(held_out_frames["compost"][:10]) * 2)
    runner = run_on(device, settings_for(artifacts, tmp_path), 20)
    reader.join(10)
    assert runner.loop is not None and runner.loop.counters.frames == 20
    data = received[0] if received else b""
    assert data.startswith(b"\xff\xd8"), "no JPEG reached the viewer"
    first = cv2.imdecode(np.frombuffer(data[: data.index(b"\xff\xd9") + 2], np.uint8), cv2.IMREAD_COLOR)
    assert first.shape == (480, 858, 3)
    caption_band = first[:48]
    assert caption_band.min() < 30 and caption_band.max() > 200  # white text on the black caption bar


class _Viewer:
    """Reads the project stream FIFO until it closes, as the DeepLens video server does."""

    def __init__(self, path: Path) -> None:
        self.data = bytearray()
        self._thread = threading.Thread(target=self._read, args=(path,), daemon=True)
        self._thread.start()

    def _read(self, path: Path) -> None:
        with open(path, "rb", buffering=0) as fifo:
            while True:
                chunk = fifo.read(65536)
                if not chunk:
                    return
                self.data += chunk


def _offer_and_wait(results: Any, calls: list[int], frame: Any, caption: str) -> None:
    before = len(calls)
    results.offer(frame, caption)
    assert wait_until(lambda: len(calls) > before, 10), "the stream thread did not take the frame"


def test_the_project_stream_survives_encode_and_open_errors_and_logs_them_rate_limited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lambda_src.deeplens_inference import stream

    path = tmp_path / "results.mjpeg"
    os.mkfifo(path)
    results = stream.ResultsStream(str(path))
    real_open = results._open_reader_side
    opens: list[int] = []

    def open_once_failing() -> Any:
        opens.append(1)
        if len(opens) == 1:
            raise PermissionError(13, "Permission denied", str(path))  # not ENXIO: used to end the thread
        return real_open()

    calls: list[int] = []

    def encode(frame: Any, caption: str) -> bytes:
        calls.append(1)
        if caption.startswith("bad"):
            raise cv2.error("OpenCV(4.x) resize: !ssize.empty()")  # what cv2 raises on an empty frame
        return b"\xff\xd8" + caption.encode() + b"\xff\xd9"

    monkeypatch.setattr(results, "_open_reader_side", open_once_failing)
    monkeypatch.setattr(results, "_encode", encode)
    viewer = _Viewer(path)
    with caplog.at_level("WARNING", logger=stream.__name__):
        results.start()
        assert wait_until(lambda: len(opens) >= 2, 10)
        for caption in ("bad-1", "good-1", "bad-2", "bad-3", "good-2"):
            _offer_and_wait(results, calls, np.zeros((4, 4, 3), np.uint8), caption)
            assert results._thread.is_alive(), f"the stream thread died on {caption}"
        assert wait_until(lambda: results.frames_written == 2, 10)
        results.stop()
    assert not results._thread.is_alive()
    viewer._thread.join(5)
    assert bytes(viewer.data) == b"\xff\xd8good-1\xff\xd9\xff\xd8good-2\xff\xd9"
    assert results.failures == 4  # the open and three bad frames
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1, [record.getMessage() for record in warnings]  # rate-limited: one per minute
    assert "Permission denied" in warnings[0].getMessage()


def test_the_project_stream_writes_the_whole_frame_when_the_fifo_takes_it_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambda_src.deeplens_inference import stream

    class ShortWrites:
        """The os module, except that write takes at most 1000 bytes per call, as a pipe may."""

        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

        @staticmethod
        def write(fd: int, data: Any) -> int:
            return os.write(fd, bytes(data[:1000]))

    monkeypatch.setattr(stream, "os", ShortWrites())
    path = tmp_path / "results.mjpeg"
    os.mkfifo(path)
    results = stream.ResultsStream(str(path))
    frame = b"\xff\xd8" + bytes(range(256)) * 40 + b"\xff\xd9"  # 10 kB: ten pieces
    calls: list[int] = []

    def encode(_frame: Any, _caption: str) -> bytes:
        calls.append(1)
        return frame

    monkeypatch.setattr(results, "_encode", encode)
    viewer = _Viewer(path)
    results.start()
    for _ in range(2):
        _offer_and_wait(results, calls, np.zeros((4, 4, 3), np.uint8), "compost")
        assert wait_until(lambda: results.frames_written == len(calls), 10)
    results.stop()
    viewer._thread.join(5)
    assert bytes(viewer.data) == frame * 2
