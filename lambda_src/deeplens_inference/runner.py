"""The function's adapter to edge_core's runtime: the awscam camera, the project stream, model retries.

A missing or broken model is reported once per distinct error and retried with a growing wait
(DeepLens delivers the model separately from the function), never a crash loop; a failed frame
or inference is logged, counted and skipped.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Optional

from edge_core.backends import load_backend
from edge_core.frames import AwscamFrameSource, FrameSource
from edge_core.loop import InferenceLoop, Publisher, StepResult
from edge_core.model_files import read_model_info
from edge_core.runtime import EdgeRuntime, LoadedModel

from .settings import Settings
from .stream import ResultsStream

# A camera that returns nothing is polled at this pace instead of spinning a core.
_FRAME_RETRY_S = 0.05


class Runner:
    def __init__(
        self,
        settings: Settings,
        publish: Publisher,
        stop: threading.Event,
        source_factory: Callable[[], FrameSource] = AwscamFrameSource,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.stop = stop
        self.source_factory = source_factory
        self.runtime = EdgeRuntime(settings.edge, publish, stop, clock)

    @property
    def loop(self) -> Optional[InferenceLoop]:
        return self.runtime.loop

    @property
    def load_attempts(self) -> int:
        return self.runtime.load_attempts

    def status(self, state: str, detail: str = "") -> None:
        self.runtime.status(state, detail)

    def _load(self) -> LoadedModel:
        artifacts = self.settings.artifacts_dir
        return LoadedModel(read_model_info(artifacts), load_backend(self.settings.backend, artifacts))

    def run(self, max_frames: Optional[int] = None) -> None:
        self.status("starting", f"backend={self.settings.backend}")
        loaded = self.runtime.load_with_retry(self._load, self.settings.artifacts_dir)
        if loaded is None:
            self.status("stopping", "stopped before a model loaded")
            return
        loop = self.runtime.make_loop(self.source_factory(), loaded)
        stream = ResultsStream(self.settings.results_path).start()
        steps = 0

        def more() -> bool:
            nonlocal steps
            steps += 1
            return max_frames is None or steps <= max_frames

        def show(result: StepResult) -> None:
            if result.decision is not None and result.frame is not None:
                stream.offer(result.frame, f"{result.decision.label} {result.decision.confidence:.0%}")

        try:
            self.runtime.drive(loop, more, show, count_frame_failures=True, frame_retry_s=_FRAME_RETRY_S)
        finally:
            stream.stop()
            loop.source.close()
        # Only a stop says "stopping"; a failure propagates to index.py, which reports it once.
        self.status("stopping", loop.counters.as_text())
