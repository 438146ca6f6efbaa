"""The component's life: starting -> model loaded -> infer frames until stopped or the source ends.

edge_core.runtime owns the life (status messages, the loop, failure counts once per status
interval); this adapter adds the component's frame source: a capture thread feeding a bounded
queue, which reports camera problems as they happen and reopens a dead camera with backoff.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from edge_core.backends import OnnxBackend
from edge_core.frames import FrameSource
from edge_core.loop import StepResult
from edge_core.model_files import read_model_info
from edge_core.runtime import MODEL_ERRORS, EdgeRuntime, LoadedModel

from .capture import CaptureThread
from .corrections import CameraCorrections, Putter, s3_putter, start_corrections
from .frame_queue import FrameQueue, QueuedFrameSource
from .model_archive import model_folder
from .settings import ComponentSettings
from .sources import SourceSpec, open_source, parse_source
from .transports import Transport


class ComponentRunner:
    """The component's adapter to edge_core's runtime: a capture thread and a queue as the frame source."""

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
        self.runtime = EdgeRuntime(settings.edge, transport.publish, stop, clock)
        self.capture: CaptureThread | None = None
        self.spec: SourceSpec | None = None
        self.corrections: CameraCorrections | None = None
        self._putter_factory = putter_factory

    def status(self, state: str, detail: str = "") -> None:
        self.runtime.status(state, detail)

    def run(self) -> int:
        """0 when stopped or the source ended; 1 when the model or the source setting cannot be used."""
        settings = self.settings
        self.status("starting", f"source={settings.source} transport={settings.transport}")

        def load() -> LoadedModel:
            self.spec = parse_source(settings.source)
            folder = model_folder(settings.model, settings.work_dir)
            backend = OnnxBackend(str(folder), threads=settings.threads, precision=settings.precision)
            return LoadedModel(read_model_info(str(folder)), backend)

        # A bad source or model: Greengrass restarts a component that fails (up to its error limit); say why, once.
        loaded = self.runtime.load_once(load, (ValueError, *MODEL_ERRORS))
        if loaded is None or self.spec is None:
            return 1
        self.corrections = start_corrections(
            settings.corrections, self.transport.subscribe, settings.edge.thing_name, loaded.info.labels,
            topic_prefix=settings.edge.topic_prefix, model_version=loaded.info.version,
            putter_factory=self._putter_factory,
        )
        queue = FrameQueue(settings.queue_frames, drop_oldest=self.spec.live)
        self.capture = CaptureThread(
            self.spec,
            self.opener,
            queue,
            self.stop,
            lambda detail: self.status("error", detail),
            settings.edge.retry_initial_s,
            settings.edge.retry_max_s,
        ).start()
        loop = self.runtime.make_loop(QueuedFrameSource(queue), loaded)
        try:
            # Frame timeouts are the camera's story (the capture thread reports it); the rest is ours.
            self.runtime.drive(loop, lambda: not queue.finished, on_step=self._on_step, count_frame_failures=False)
        finally:
            self.stop.set()
            self.capture.join(5.0)
            corrections = ""
            if self.corrections is not None:
                self.corrections.close()
                corrections = " " + self.corrections.as_text()
            self.status("stopping", f"{loop.counters.as_text()} dropped={queue.dropped}{corrections}")
        return 0

    def _on_step(self, result: StepResult) -> None:
        """Corrections keep the frame behind each published decision (and sample unsure ones)."""
        if self.corrections is not None and result.decision is not None:
            self.corrections.on_step(
                self.runtime.messages.last_seq, result.published is not None, result.decision.label, result.frame
            )
