"""The life of an edge target, the same on every one: status messages, the model, the loop, failure reports.

starting -> model-loaded -> running (first decision) -> stopping, each a message on the status
topic; failures go out as one "error" status per status interval with the loop's counts, never
one per frame. Each target keeps only its adapter: where frames come from, how messages leave
(greengrasssdk, Greengrass IPC, MQTT), and how the process ends.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, NamedTuple, Optional, Tuple, Type

from sorter_common.backoff import doubling_delays

from .backends import Backend
from .frames import FrameSource
from .loop import InferenceLoop, Publisher, StepResult
from .messages import MessageBuilder
from .model_files import ModelFilesError, ModelInfo
from .policy import PublishPolicy
from .settings import EdgeSettings
from .smoothing import Smoother

LOG = logging.getLogger(__name__)
# What loading a model may raise that a status message can explain (a missing file, a missing runtime).
MODEL_ERRORS: Tuple[Type[Exception], ...] = (ModelFilesError, ImportError)


class LoadedModel(NamedTuple):
    info: ModelInfo
    backend: Backend


ModelLoader = Callable[[], LoadedModel]


class EdgeRuntime:
    def __init__(
        self,
        settings: EdgeSettings,
        publish: Publisher,
        stop: threading.Event,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.stop = stop
        self.clock = clock  # message timestamps
        self.monotonic = monotonic  # status intervals: a wall clock that jumps must not silence them
        self.messages = MessageBuilder(settings.thing_name, topic_prefix=settings.topic_prefix)
        self.loop: Optional[InferenceLoop] = None
        self.load_attempts = 0
        self._status_lock = threading.Lock()  # status may come from another thread (a camera's)

    def status(self, state: str, detail: str = "") -> None:
        LOG.info("status %s %s", state, detail)
        with self._status_lock:
            try:
                self.publish(self.messages.status_topic, self.messages.status(self.clock(), state, detail))
            except Exception as error:  # status is best effort; predictions carry on without it
                LOG.warning("status publish failed: %s", error)

    def load_once(
        self, loader: ModelLoader, errors: Tuple[Type[Exception], ...] = MODEL_ERRORS
    ) -> Optional[LoadedModel]:
        """The model, or None after an "error" and a "stopping" status (the supervisor restarts the process)."""
        try:
            loaded = loader()
        except errors as error:
            self.status("error", str(error))
            self.status("stopping", "cannot start")
            return None
        self._loaded(loaded)
        return loaded

    def load_with_retry(self, loader: ModelLoader, where: str) -> Optional[LoadedModel]:
        """Retries until the model loads or stop is set; one status message per distinct error."""
        delays = doubling_delays(self.settings.retry_initial_s, self.settings.retry_max_s)
        wait = next(delays)
        last_error: Optional[str] = None
        while not self.stop.is_set():
            self.load_attempts += 1
            try:
                loaded = loader()
                self._loaded(loaded)
                return loaded
            except MODEL_ERRORS as error:
                message = f"model not loaded from {where}: {error}"
            if message != last_error:
                self.status("error", f"{message}; retrying with backoff")
                last_error = message
            LOG.warning("%s; retry in %.0f s", message, wait)
            self.stop.wait(wait)
            wait = next(delays)
        return None

    def _loaded(self, loaded: LoadedModel) -> None:
        self.messages.model = loaded.info.version
        detail = "version={} labels={}".format(loaded.info.version, ",".join(loaded.info.labels))
        described = loaded.backend.describe()
        self.status("model-loaded", detail + (" " + described if described else ""))

    def make_loop(self, source: FrameSource, loaded: LoadedModel) -> InferenceLoop:
        settings = self.settings
        self.loop = InferenceLoop(
            source=source,
            backend=loaded.backend,
            smoother=Smoother(loaded.info.labels, settings.window, settings.threshold),
            policy=PublishPolicy(settings.heartbeat_s, settings.min_interval_s),
            messages=self.messages,
            publish=self.publish,
            clock=self.clock,
        )
        return self.loop

    def drive(
        self,
        loop: InferenceLoop,
        more: Callable[[], bool],
        on_step: Optional[Callable[[StepResult], None]] = None,
        count_frame_failures: bool = True,
        frame_retry_s: float = 0.0,
    ) -> None:
        """Steps the loop while more() and not stopped; "running" on the first decision, failures per interval.

        count_frame_failures: False where another part (a capture thread) reports the camera's story.
        frame_retry_s: the wait after a frame that did not come, for a source that returns at once.
        """
        running_sent = False
        reported = 0
        last_report = float("-inf")
        while not self.stop.is_set() and more():
            result = loop.step()
            if on_step is not None:
                on_step(result)
            if result.decision is not None and not running_sent:
                self.status("running", f"first decision: {result.decision.label}")
                running_sent = True
            if result.frame is None and frame_retry_s:
                self.stop.wait(frame_retry_s)
            counters = loop.counters
            failures = counters.inference_failures + counters.publish_failures
            if count_frame_failures:
                failures += counters.frame_failures
            now = self.monotonic()
            if failures > reported and now - last_report >= self.settings.status_interval_s:
                self.status("error", "{} (last: {})".format(counters.as_text(), result.error or "-"))
                reported, last_report = failures, now
