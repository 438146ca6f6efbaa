"""The runtime both edge targets share: status messages in order, failures per status interval, model retries."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from edge_core.backends import Backend
from edge_core.frames import FrameError, FrameSource
from edge_core.model_files import ModelFilesError, ModelInfo
from edge_core.runtime import EdgeRuntime, LoadedModel
from edge_core.settings import EdgeSettings
from sorter_common.message import parse_status

LABELS = ["compost", "landfill", "recycling"]
FRAME = np.zeros((1080, 1920, 3), dtype=np.uint8)  # a DeepLens frame's shape


class Scripted(FrameSource):
    """Frames and failures in a given order: None is a read that fails."""

    def __init__(self, frames: list[NDArray[Any] | None]) -> None:
        self.frames = list(frames)

    def read(self) -> NDArray[Any]:
        frame = self.frames.pop(0) if self.frames else None
        if frame is None:
            raise FrameError("no frame")
        return frame


class Sure(Backend):
    def infer(self, frame: NDArray[Any]) -> NDArray[Any]:
        return np.array([0.9, 0.05, 0.05])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def runtime(clock: Clock, **tuning: Any) -> tuple[EdgeRuntime, list[tuple[str, bytes]]]:
    sent: list[tuple[str, bytes]] = []
    settings = EdgeSettings("cam-1", **tuning)
    return EdgeRuntime(settings, lambda t, p: sent.append((t, p)), threading.Event(), clock, clock), sent


def states(sent: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    return [(s.state, s.detail) for s in (parse_status(p) for t, p in sent if t.endswith("/status"))]


def loaded() -> LoadedModel:
    return LoadedModel(ModelInfo(LABELS, "v1"), Sure())


@pytest.mark.parametrize("count_frame_failures", [True, False])
def test_failures_go_out_once_per_status_interval_with_the_counts(count_frame_failures: bool) -> None:
    clock = Clock()
    edge, sent = runtime(clock, status_interval_s=10.0, min_interval_s=0.0)
    model = edge.load_once(loaded)
    assert model is not None
    loop = edge.make_loop(Scripted([FRAME, None, None, FRAME, None]), model)
    steps = iter(range(5))

    def more() -> bool:
        clock.now += 3.0  # 3 s a step: the second and third failures fall inside the first interval
        return next(steps, None) is not None

    edge.drive(loop, more, count_frame_failures=count_frame_failures)
    errors = [detail for state, detail in states(sent) if state == "error"]
    if count_frame_failures:
        # Failures at t=6, 9 and 15: one report at 6, the next due at 16 and none after.
        assert len(errors) == 1 and "frame_failures=1" in errors[0]
    else:
        assert errors == []  # a capture thread tells the camera's story
    assert [state for state, _ in states(sent)] == ["model-loaded", "running"] + ["error"] * len(errors)


def test_a_model_that_fails_to_load_once_says_why_and_stops() -> None:
    edge, sent = runtime(Clock())

    def broken() -> LoadedModel:
        raise ModelFilesError("labels.txt is missing from /models")

    assert edge.load_once(broken) is None
    assert states(sent) == [("error", "labels.txt is missing from /models"), ("stopping", "cannot start")]


def test_a_model_that_loads_later_is_retried_with_one_status_per_distinct_error() -> None:
    edge, sent = runtime(Clock(), retry_initial_s=0.001, retry_max_s=0.004)
    attempts: list[int] = []

    def late() -> LoadedModel:
        attempts.append(1)
        if len(attempts) < 4:
            raise ModelFilesError("model.onnx is missing from /models")
        return loaded()

    assert edge.load_with_retry(late, "/models") is not None
    assert edge.load_attempts == 4
    assert [state for state, _ in states(sent)] == ["error", "model-loaded"]
    assert edge.messages.model == "v1"
