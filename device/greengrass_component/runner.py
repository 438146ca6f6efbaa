"""The component's life: starting -> model loaded -> infer frames until stopped or the source ends.

The capture thread feeds a bounded queue; this thread drives edge_core's InferenceLoop over it.
Status goes out on the status topic: one per state change, camera problems as they happen, and
failure counts at most once per status interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge_core.backends import OnnxBackend
from edge_core.frames import FrameSource
from edge_core.loop import InferenceLoop
from edge_core.messages import MessageBuilder
from edge_core.model_files import ModelFilesError, read_model_info
from edge_core.policy import PublishPolicy
from edge_core.smoothing import Smoother

from .capture import CaptureThread
from .corrections import CameraCorrections, Putter, s3_putter, start_corrections
from .frame_queue import FrameQueue, QueuedFrameSource
from .model_archive import model_folder
from .settings import ComponentSettings
from .sources import SourceSpec, open_source, parse_source
from .transports import Transport

LOG = logging.getLogger(__name__)


class ComponentRunner:
    def __init__(
        self,
        settings: ComponentSettings,
        transport: Transport,
        stop: threading.Event,
        opener: Callable[[SourceSpec], FrameSource] | None = None,
        clock: Callable[[], float] = time.time,
        putter_factory: Callable[[], Putter] = s3_putter,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.stop = stop
        self.opener = opener or (lambda spec: open_source(spec, settings.loop_source))
        self.clock = clock
        self.messages = MessageBuilder(settings.thing_name, topic_prefix=settings.topic_prefix)
        self.loop: InferenceLoop | None = None
        self.capture: CaptureThread | None = None
        self.corrections: CameraCorrections | None = None
        self._putter_factory = putter_factory
        self._status_lock = threading.Lock()

    def status(self, state: str, detail: str = "") -> None:
        LOG.info("status %s %s", state, detail)
        with self._status_lock:
            try:
                self.transport.publish(self.messages.status_topic, self.messages.status(self.clock(), state, detail))
            except Exception as error:  # status is best effort; predictions carry on without it
                LOG.warning("status publish failed: %s", error)

    def run(self) -> int:
        """0 when stopped or the source ended; 1 when the model or the source setting cannot be used."""
        settings = self.settings
        self.status("starting", f"source={settings.source} transport={settings.transport}")
        try:
            spec = parse_source(settings.source)
            folder = model_folder(settings.model, settings.work_dir)
            info = read_model_info(str(folder))
            backend = OnnxBackend(str(folder), threads=settings.threads)
        except (ValueError, ModelFilesError, ImportError) as error:
            # Greengrass restarts a component that fails (up to its error limit): say why, once.
            self.status("error", str(error))
            self.status("stopping", "cannot start")
            return 1
        self.messages.model = info.version
        self.status("model-loaded", "version={} labels={}".format(info.version, ",".join(info.labels)))
        self.corrections = start_corrections(
            settings.corrections, self.transport.subscribe, settings.thing_name, info.labels,
            topic_prefix=settings.topic_prefix, model_version=info.version, putter_factory=self._putter_factory,
        )

        queue = FrameQueue(settings.queue_frames, drop_oldest=spec.live)
        self.capture = CaptureThread(
            spec,
            self.opener,
            queue,
            self.stop,
            lambda detail: self.status("error", detail),
            settings.retry_initial_s,
            settings.retry_max_s,
        ).start()
        self.loop = InferenceLoop(
            source=QueuedFrameSource(queue),
            backend=backend,
            smoother=Smoother(info.labels, settings.window, settings.threshold),
            policy=PublishPolicy(settings.heartbeat_s, settings.min_interval_s),
            messages=self.messages,
            publish=self.transport.publish,
            clock=self.clock,
        )
        try:
            self._infer(self.loop, queue)
        finally:
            self.stop.set()
            self.capture.join(5.0)
            corrections = ""
            if self.corrections is not None:
                self.corrections.close()
                corrections = " " + self.corrections.as_text()
            self.status("stopping", f"{self.loop.counters.as_text()} dropped={queue.dropped}{corrections}")
        return 0

    def _infer(self, loop: InferenceLoop, queue: FrameQueue) -> None:
        running_sent = False
        reported = 0
        last_report = float("-inf")
        while not self.stop.is_set() and not queue.finished:
            result = loop.step()
            if self.corrections is not None and result.decision is not None:
                self.corrections.on_step(
                    self.messages.last_seq, result.published is not None, result.decision.label, result.frame
                )
            if result.decision is not None and not running_sent:
                self.status("running", f"first decision: {result.decision.label}")
                running_sent = True
            counters = loop.counters
            # Frame timeouts are the camera's story (the capture thread reports it); these are ours.
            failures = counters.inference_failures + counters.publish_failures
            now = time.monotonic()
            if failures > reported and now - last_report >= self.settings.status_interval_s:
                self.status("error", "{} (last: {})".format(counters.as_text(), result.error or "-"))
                reported, last_report = failures, now
