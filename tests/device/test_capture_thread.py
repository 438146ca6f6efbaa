"""A live camera whose driver raises anything at all is retried, never abandoned."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from device.greengrass_component.capture import MAX_READ_FAILURES, CaptureThread
from device.greengrass_component.frame_queue import FrameQueue
from device.greengrass_component.sources import SourceSpec
from edge_core.frames import FrameSource


class DriverError(Exception):
    """Like cv2.error: not an OSError, not a ValueError."""


class FlakyCamera(FrameSource):
    def __init__(self, fail_reads: int) -> None:
        self.fail_reads = fail_reads

    def read(self) -> Any:
        if self.fail_reads > 0:
            self.fail_reads -= 1
            raise DriverError("select() timeout")
        return np.zeros((8, 8, 3), dtype=np.uint8)


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_open_and_read_errors_of_any_kind_are_retried_until_frames_flow() -> None:
    attempts: list[int] = []
    errors: list[str] = []

    def opener(spec: SourceSpec) -> FrameSource:
        attempts.append(1)
        if len(attempts) < 3:
            raise DriverError("camera busy")
        # Enough failed reads in a row to count the source dead once, then it recovers.
        return FlakyCamera(fail_reads=MAX_READ_FAILURES if len(attempts) == 3 else 0)

    stop = threading.Event()
    queue = FrameQueue(max_frames=2, drop_oldest=True)
    capture = CaptureThread(SourceSpec("camera", "0", live=True), opener, queue, stop, errors.append, 0.01, 0.02)
    capture.start()
    try:
        assert wait_for(lambda: capture.frames > 0), f"no frame after {len(attempts)} open attempts"
        assert len(attempts) >= 4 and errors, "the failures were reported and the camera reopened"
        assert queue.get(timeout=1.0) is not None
    finally:
        stop.set()
        capture.join(5.0)
