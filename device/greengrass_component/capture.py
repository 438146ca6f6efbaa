"""The capture thread: opens the source, feeds the queue, and reopens a dead source with backoff.

A camera that cannot be opened or stops giving frames is reported (a status message through
the callback) and retried with a growing wait, never a crash; a finite source that ends closes
the queue so the component can finish.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from edge_core.frames import FrameSource
from sorter_common.backoff import doubling_delays

from .frame_queue import FrameQueue
from .sources import EndOfFrames, SourceSpec

LOG = logging.getLogger(__name__)
# This many failed reads in a row mean the source is gone (unplugged camera, dropped stream).
MAX_READ_FAILURES = 25
_READ_RETRY_S = 0.02

ErrorReporter = Callable[[str], None]


class CaptureThread:
    def __init__(
        self,
        spec: SourceSpec,
        opener: Callable[[SourceSpec], FrameSource],
        queue: FrameQueue,
        stop: threading.Event,
        report_error: ErrorReporter,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
    ) -> None:
        self.spec = spec
        self.opener = opener
        self.queue = queue
        self.stop = stop
        self.report_error = report_error
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.open_attempts = 0
        self.frames = 0
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        delays = doubling_delays(self.retry_initial_s, self.retry_max_s)
        wait = next(delays)
        try:
            while not self.stop.is_set():
                source = self._open()
                if source is None:
                    self.report_error(f"cannot open {self.spec.kind} {self.spec.target}; retrying in {wait:.0f} s")
                    self.stop.wait(wait)
                    wait = next(delays)
                    continue
                try:
                    got_frames = self._feed(source)
                finally:
                    source.close()
                if got_frames is None:
                    return  # the finite source ended
                if got_frames:  # it worked for a while: start the backoff afresh
                    delays = doubling_delays(self.retry_initial_s, self.retry_max_s)
                    wait = next(delays)
                if not self.stop.is_set():
                    self.report_error(
                        f"{self.spec.kind} {self.spec.target} stopped giving frames; reopening in {wait:.0f} s"
                    )
                    self.stop.wait(wait)
                    wait = next(delays)
        finally:
            self.queue.close()

    def _open(self) -> FrameSource | None:
        self.open_attempts += 1
        try:
            return self.opener(self.spec)
        # Any error (cv2.error and driver errors are not OSError): a camera that fails to open is
        # retried with backoff; ending this thread would stop a live camera for good.
        except Exception as error:
            LOG.warning("open attempt %d failed: %s", self.open_attempts, error)
            return None

    def _feed(self, source: FrameSource) -> bool | None:
        """Frames into the queue until stop or a dead source; None when a finite source ended."""
        failures = 0
        got_frames = False
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                frame = source.read()
            except EndOfFrames:
                return None
            except Exception as error:  # as in _open: a failed read is counted, never fatal
                failures += 1
                LOG.debug("read failed (%d in a row): %s", failures, error)
                if failures >= MAX_READ_FAILURES:
                    return got_frames
                self.stop.wait(_READ_RETRY_S)
                continue
            failures = 0
            got_frames = True
            self.frames += 1
            self.queue.put(frame, self.stop)
            LOG.debug("frame %d read in %.3f s", self.frames, time.monotonic() - started)
        return got_frames
