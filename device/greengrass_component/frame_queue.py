"""Bounded hand-over between the capture thread and the inference loop.

A live camera runs at its own pace: when inference is slower, the oldest waiting frames are
dropped (memory stays bounded and decisions stay current). A file source waits instead, so
every image of a folder is classified.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from edge_core.frames import FrameError, FrameSource

from .sources import EndOfFrames


class FrameQueue:
    def __init__(self, max_frames: int, drop_oldest: bool) -> None:
        self._frames: deque[Any] = deque()
        self._max = max_frames
        self._drop_oldest = drop_oldest
        self._condition = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, frame: Any, stop: threading.Event) -> None:
        """Add a frame. Blocking mode waits for room; once stopped or closed it never grows past max."""
        with self._condition:
            if self._drop_oldest:
                while len(self._frames) >= self._max:
                    self._frames.popleft()
                    self.dropped += 1
            else:
                while len(self._frames) >= self._max and not stop.is_set() and not self._closed:
                    self._condition.wait(0.1)
                if len(self._frames) >= self._max:
                    return  # stopped or closed while waiting: the frame is not wanted, the bound holds
            self._frames.append(frame)
            self._condition.notify_all()

    def get(self, timeout: float) -> Any:
        """The oldest waiting frame; EndOfFrames once closed and empty; FrameError when none came in time."""
        with self._condition:
            if not self._frames and not self._closed:
                self._condition.wait(timeout)
            if self._frames:
                frame = self._frames.popleft()
                self._condition.notify_all()
                return frame
            if self._closed:
                raise EndOfFrames("the source has ended")
            raise FrameError(f"no frame within {timeout:.1f} s")

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def finished(self) -> bool:
        with self._condition:
            return self._closed and not self._frames

    def __len__(self) -> int:
        with self._condition:
            return len(self._frames)


class QueuedFrameSource(FrameSource):
    """The inference loop's view of the queue: the edge_core FrameSource interface."""

    def __init__(self, queue: FrameQueue, timeout: float = 0.5) -> None:
        self.queue = queue
        self.timeout = timeout

    def read(self) -> Any:
        return self.queue.get(self.timeout)
