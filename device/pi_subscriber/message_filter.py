"""Which incoming messages get shown: parse, then drop stale, duplicate and out-of-order ones.

QoS 1 delivers at least once, and a persistent session replays what was queued during an
outage, so duplicates and old decisions are normal traffic, not errors. Everything refused is
counted by kind; the caller logs only the first of each kind, so a flood cannot fill the journal.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sorter_common.message import MessageError, Prediction, Status, parse_prediction, parse_status
from sorter_common.topics import PREDICTIONS, STATUS

# Kinds of refusal beyond MessageError's (oversized, malformed, unsupported-version, unknown-label).
KIND_STALE = "stale"
KIND_DUPLICATE = "duplicate"
KIND_OUT_OF_ORDER = "out-of-order"
KIND_UNKNOWN_TOPIC = "unknown-topic"
# Sequence numbers remembered per camera to tell a late duplicate from an out-of-order message.
RECENT_SEQS = 1024


@dataclass(frozen=True)
class Decision:
    prediction: Prediction


@dataclass(frozen=True)
class Heartbeat:
    status: Status


@dataclass(frozen=True)
class Ignored:
    kind: str
    detail: str
    device: str | None = None


Outcome = Decision | Heartbeat | Ignored


class _CameraSequence:
    """The newest accepted (seq, ts) of one camera and the seqs it sent recently."""

    def __init__(self, seq: int, ts: float) -> None:
        self.seq = seq
        self.ts = ts
        self._recent: deque[int] = deque(maxlen=RECENT_SEQS)
        self._recent_set: set[int] = set()
        self.remember(seq, ts)

    def remember(self, seq: int, ts: float) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(seq)
        self._recent_set.add(seq)
        self.seq, self.ts = seq, ts

    def refusal(self, seq: int, ts: float) -> str | None:
        if seq > self.seq:
            return None
        if ts > self.ts:
            return None  # newer, yet seq did not grow: the camera restarted and counts again
        # A QoS 1 redelivery is the same bytes (same seq, same ts); anything else older is late.
        return KIND_DUPLICATE if seq in self._recent_set else KIND_OUT_OF_ORDER


class MessageFilter:
    def __init__(
        self, classes: Sequence[str], stale_after_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.classes = tuple(classes)
        self.stale_after_s = stale_after_s
        self._clock = clock  # wall clock: message ts is the camera's wall-clock time
        self._cameras: dict[str, _CameraSequence] = {}
        self.counts: Counter[str] = Counter()

    def check(self, topic: str, payload: bytes) -> Outcome:
        outcome = self._check(topic, payload)
        self.counts[outcome.kind if isinstance(outcome, Ignored) else type(outcome).__name__.lower()] += 1
        return outcome

    def _check(self, topic: str, payload: bytes) -> Outcome:
        kind = topic.rsplit("/", 1)[-1]
        try:
            if kind == STATUS:
                return Heartbeat(parse_status(payload))
            if kind != PREDICTIONS:
                return Ignored(KIND_UNKNOWN_TOPIC, f"topic {topic!r} is neither predictions nor status")
            prediction = parse_prediction(payload, self.classes)
        except MessageError as error:
            return Ignored(error.kind, error.detail)
        age = self._clock() - prediction.ts
        if age > self.stale_after_s:
            return Ignored(KIND_STALE, f"{age:.1f}s old (limit {self.stale_after_s}s)", prediction.device)
        camera = self._cameras.get(prediction.device)
        if camera is None:
            self._cameras[prediction.device] = _CameraSequence(prediction.seq, prediction.ts)
            return Decision(prediction)
        refusal = camera.refusal(prediction.seq, prediction.ts)
        if refusal is not None:
            return Ignored(refusal, f"seq {prediction.seq} after seq {camera.seq}", prediction.device)
        camera.remember(prediction.seq, prediction.ts)
        return Decision(prediction)


class FirstOfKind:
    """Answers True the first time it sees each kind: log that one, count the rest silently."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def first(self, kind: str) -> bool:
        if kind in self._seen:
            return False
        self._seen.add(kind)
        return True
