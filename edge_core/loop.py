"""One step of the inference loop: read -> infer -> smooth -> maybe publish. Failures are counted.

The loop owns no thread and no clock of its own, so each edge target drives it its own way
(the DeepLens Lambda's thread, the V2 component's main loop, a benchmark) and tests drive it
frame by frame.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional

if TYPE_CHECKING:
    from numpy.typing import NDArray

from .backends import Backend
from .frames import FrameError, FrameSource
from .messages import MessageBuilder
from .policy import PublishPolicy
from .scores import to_probabilities, top_k
from .smoothing import Decision, Smoother

LOG = logging.getLogger(__name__)
TOP_K = 3

# (topic, payload) -> None; greengrasssdk, awsiotsdk or a test list behind it.
Publisher = Callable[[str, bytes], None]


class StepResult(NamedTuple):
    frame: Optional[NDArray[Any]]
    decision: Optional[Decision]
    published: Optional[bytes]
    error: Optional[str]


class Counters:
    def __init__(self) -> None:
        self.frames = 0
        self.frame_failures = 0
        self.inference_failures = 0
        self.publish_failures = 0
        self.published = 0

    def as_text(self) -> str:
        return (
            f"frames={self.frames} frame_failures={self.frame_failures} "
            f"inference_failures={self.inference_failures} publish_failures={self.publish_failures} "
            f"published={self.published}"
        )


class InferenceLoop:
    def __init__(
        self,
        source: FrameSource,
        backend: Backend,
        smoother: Smoother,
        policy: PublishPolicy,
        messages: MessageBuilder,
        publish: Publisher,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.backend = backend
        self.smoother = smoother
        self.policy = policy
        self.messages = messages
        self.publish = publish
        self.clock = clock
        self.counters = Counters()
        self._failing_since: Optional[int] = None  # frame_failures count when the current run of failures began

    def step(self) -> StepResult:
        try:
            frame = self.source.read()
        except FrameError as error:
            self.counters.frame_failures += 1
            if self._failing_since is None:
                # First failure of a run: a camera that stays down must not log every step (~0.5 s).
                self._failing_since = self.counters.frame_failures
                LOG.warning("frame %d failed: %s; further failures are logged at DEBUG until a frame arrives",
                            self.counters.frame_failures, error)
            else:
                LOG.debug("frame %d failed: %s", self.counters.frame_failures, error)
            return StepResult(None, None, None, f"frame: {error}")
        if self._failing_since is not None:
            failed = self.counters.frame_failures - self._failing_since + 1
            self._failing_since = None
            LOG.info("frames are back after %d failed read%s", failed, "" if failed == 1 else "s")
        self.counters.frames += 1
        try:
            probabilities = to_probabilities(self.backend.infer(frame))
            decision = self.smoother.add(probabilities)
        except Exception as error:  # a backend may raise anything; one bad frame must not end the loop
            self.counters.inference_failures += 1
            LOG.warning("inference %d failed: %s", self.counters.inference_failures, error)
            return StepResult(frame, None, None, f"inference: {error}")
        now = self.clock()
        if not self.policy.should_publish(decision.label, now):
            return StepResult(frame, decision, None, None)
        payload = self.messages.prediction(
            now, decision.label, decision.confidence, top_k(decision.probabilities, self.smoother.labels, TOP_K)
        )
        try:
            self.publish(self.messages.predictions_topic, payload)
        except Exception as error:  # the transport's errors vary by SDK; the next change or heartbeat retries
            self.counters.publish_failures += 1
            LOG.warning("publish failed: %s", error)
            return StepResult(frame, decision, None, f"publish: {error}")
        self.policy.published(decision.label, now)
        self.counters.published += 1
        return StepResult(frame, decision, payload, None)
