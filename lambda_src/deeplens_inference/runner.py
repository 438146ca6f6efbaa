"""The function's life: starting -> load the model (retry with backoff) -> infer until stopped.

A missing or broken model is reported once per distinct error and retried with a growing wait,
never a crash loop; a failed frame or inference is logged, counted and skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, NamedTuple, Optional

from edge_core.backends import Backend, load_backend
from edge_core.frames import AwscamFrameSource, FrameSource
from edge_core.loop import InferenceLoop, Publisher
from edge_core.messages import MessageBuilder
from edge_core.model_files import ModelFilesError, ModelInfo, read_model_info
from edge_core.policy import PublishPolicy
from edge_core.smoothing import Smoother
from sorter_common.backoff import doubling_delays

from .settings import Settings
from .stream import ResultsStream

LOG = logging.getLogger(__name__)
# A camera that returns nothing is polled at this pace instead of spinning a core.
_FRAME_RETRY_S = 0.05


class LoadedModel(NamedTuple):
    info: ModelInfo
    backend: Backend


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
        self.publish = publish
        self.stop = stop
        self.source_factory = source_factory
        self.clock = clock
        self.messages = MessageBuilder(settings.thing_name, topic_prefix=settings.topic_prefix)
        self.loop: Optional[InferenceLoop] = None
        self.load_attempts = 0

    def status(self, state: str, detail: str = "") -> None:
        LOG.info("status %s %s", state, detail)
        try:
            self.publish(self.messages.status_topic, self.messages.status(self.clock(), state, detail))
        except Exception as error:  # status is best effort; predictions carry on without it
            LOG.warning("status publish failed: %s", error)

    def load_model(self) -> Optional[LoadedModel]:
        """Retries until the model loads or stop is set; one status message per distinct error."""
        delays = doubling_delays(self.settings.retry_initial_s, self.settings.retry_max_s)
        wait = next(delays)
        last_error: Optional[str] = None
        while not self.stop.is_set():
            self.load_attempts += 1
            try:
                info = read_model_info(self.settings.artifacts_dir)
                backend = load_backend(self.settings.backend, self.settings.artifacts_dir)
                return LoadedModel(info, backend)
            except (ModelFilesError, ImportError) as error:
                message = f"model not loaded from {self.settings.artifacts_dir}: {error}"
            if message != last_error:
                self.status("error", f"{message}; retrying with backoff")
                last_error = message
            LOG.warning("%s; retry in %.0f s", message, wait)
            self.stop.wait(wait)
            wait = next(delays)
        return None

    def run(self, max_frames: Optional[int] = None) -> None:
        self.status("starting", f"backend={self.settings.backend}")
        loaded = self.load_model()
        if loaded is None:
            self.status("stopping", "stopped before a model loaded")
            return
        self.messages.model = loaded.info.version
        self.status("model-loaded", "version={} labels={}".format(loaded.info.version, ",".join(loaded.info.labels)))
        settings = self.settings
        self.loop = InferenceLoop(
            source=self.source_factory(),
            backend=loaded.backend,
            smoother=Smoother(loaded.info.labels, settings.window, settings.threshold),
            policy=PublishPolicy(settings.heartbeat_s, settings.min_interval_s),
            messages=self.messages,
            publish=self.publish,
            clock=self.clock,
        )
        stream = ResultsStream(settings.results_path).start()
        try:
            self._infer(self.loop, stream, max_frames)
        finally:
            stream.stop()
            self.loop.source.close()
        # Only a stop says "stopping"; a failure propagates to index.py, which reports it once.
        self.status("stopping", self.loop.counters.as_text())

    def _infer(self, loop: InferenceLoop, stream: ResultsStream, max_frames: Optional[int]) -> None:
        running_sent = False
        failures_reported = 0
        last_status = self.clock()
        steps = 0
        while not self.stop.is_set() and (max_frames is None or steps < max_frames):
            steps += 1
            result = loop.step()
            if result.decision is not None and result.frame is not None:
                stream.offer(result.frame, f"{result.decision.label} {result.decision.confidence:.0%}")
                if not running_sent:
                    self.status("running", f"first decision: {result.decision.label}")
                    running_sent = True
            elif result.frame is None:
                self.stop.wait(_FRAME_RETRY_S)
            counters = loop.counters
            failures = counters.frame_failures + counters.inference_failures + counters.publish_failures
            now = self.clock()
            # Failures go out as one status per interval with the counts, not one per frame.
            due = failures_reported == 0 or now - last_status >= self.settings.status_interval_s
            if failures > failures_reported and due:
                self.status("error", "{} (last: {})".format(counters.as_text(), result.error or "-"))
                failures_reported = failures
                last_status = now
