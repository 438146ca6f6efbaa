"""The annotated frame (bin, confidence) as MJPEG into the DeepLens project stream FIFO.

The inference loop only hands over a reference (offer); drawing, JPEG encoding and the write,
which blocks while the viewer is slow, happen in this thread. Nobody watching (no reader on
the FIFO) costs nothing: frames are dropped before they are drawn.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from typing import TYPE_CHECKING, Any, Optional, Tuple

if TYPE_CHECKING:
    from numpy.typing import NDArray

LOG = logging.getLogger(__name__)
# The recipe's project stream size: small enough for the DeepLens CPU to encode every frame.
STREAM_SIZE = (858, 480)
_READER_POLL_S = 0.2
_FAILURE_LOG_EVERY_S = 60.0


class ResultsStream:
    def __init__(self, path: str, size: Tuple[int, int] = STREAM_SIZE) -> None:
        self.path = path
        self.size = size
        self.frames_written = 0
        self.failures = 0  # frames skipped because encoding or opening the FIFO failed
        self._last_failure_log: Optional[float] = None
        self._latest: Optional[Tuple[NDArray[Any], str]] = None
        self._lock = threading.Lock()
        self._new_frame = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="results-stream", daemon=True)

    def start(self) -> ResultsStream:
        if not os.path.exists(self.path):
            os.mkfifo(self.path)
        elif not stat.S_ISFIFO(os.stat(self.path).st_mode):
            raise RuntimeError(f"{self.path} exists and is not a FIFO")
        self._thread.start()
        return self

    def offer(self, frame: NDArray[Any], caption: str) -> None:
        """Called by the inference loop: replaces the pending frame, never waits."""
        with self._lock:
            self._latest = (frame, caption)
        self._new_frame.set()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._new_frame.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        fifo: Optional[int] = None
        while not self._stop.is_set():
            try:
                if fifo is None:
                    fifo = self._open_reader_side()
                    if fifo is None:
                        self._stop.wait(_READER_POLL_S)
                        continue
                self._new_frame.wait()
                self._new_frame.clear()
                with self._lock:
                    pending, self._latest = self._latest, None
                if pending is None or self._stop.is_set():
                    continue
                data = self._encode(*pending)
                try:
                    _write_all(fifo, data)
                except OSError as error:  # the viewer went away (EPIPE): wait for the next one
                    LOG.info("project stream reader gone: %s", error)
                    fd, fifo = fifo, None
                    os.close(fd)
                    continue
                self.frames_written += 1
            except Exception as error:  # cv2.error, a FIFO replaced or unreadable...: skip, never die
                self._failed(error)
                if fifo is None:
                    self._stop.wait(_READER_POLL_S)  # an open that keeps failing must not spin
        if fifo is not None:
            os.close(fifo)

    def _failed(self, error: Exception) -> None:
        """Count the failure; log it at most once per _FAILURE_LOG_EVERY_S so a bad run cannot flood the log."""
        self.failures += 1
        now = time.monotonic()
        if self._last_failure_log is None or now - self._last_failure_log >= _FAILURE_LOG_EVERY_S:
            self._last_failure_log = now
            LOG.warning("project stream frame skipped (%d failures so far): %r", self.failures, error)

    def _open_reader_side(self) -> Optional[int]:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno == errno.ENXIO:  # no reader yet
                return None
            raise
        os.set_blocking(fd, True)  # a slow viewer slows this thread only
        return fd

    def _encode(self, frame: NDArray[Any], caption: str) -> bytes:
        import cv2

        image = cv2.resize(frame, self.size)
        cv2.rectangle(image, (0, 0), (self.size[0], 48), (0, 0, 0), thickness=-1)
        cv2.putText(image, caption, (12, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        ok, jpeg = cv2.imencode(".jpg", image)
        if not ok:
            raise OSError("JPEG encoding failed")
        return bytes(jpeg.tobytes())


def _write_all(fd: int, data: bytes) -> None:
    """os.write may write only part of the buffer: write the rest until all of it is out."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "the project stream FIFO accepted no bytes")
        view = view[written:]
