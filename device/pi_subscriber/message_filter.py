"""Which incoming messages get shown: parse, then drop stale, future, duplicate and out-of-order ones.

QoS 1 delivers at least once, and a persistent session replays what was queued during an
outage, so duplicates and old decisions are normal traffic, not errors. Everything refused is
counted by kind; the caller logs only the first of each kind, so a flood cannot fill the journal.

A camera is known by its topic, `<prefix>/<thing-name>/predictions`, never by the `device`
field inside the payload: AWS IoT ties the topic to the camera's certificate through its policy,
while the payload says whatever the sender wants. So one camera cannot silence or speak for
another, and a timestamp far in the future is refused rather than trusted.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from sorter_common.message import MessageError, Prediction, Status, parse_prediction, parse_status
from sorter_common.topics import PREDICTIONS, STATUS

# Kinds of refusal beyond MessageError's (oversized, malformed, unsupported-version, unknown-label).
KIND_STALE = "stale"
KIND_FUTURE = "future"
KIND_DUPLICATE = "duplicate"
KIND_OUT_OF_ORDER = "out-of-order"
KIND_UNKNOWN_TOPIC = "unknown-topic"
# (seq, ts) pairs remembered per camera to tell a QoS 1 redelivery from an out-of-order message.
RECENT_SEQS = 1024
# Cameras whose sequence is remembered; beyond this the one heard from least recently is forgotten
# (it is then treated as new), so a flood of made-up names cannot grow memory.
MAX_CAMERAS = 64
# How far ahead of our clock a camera's ts may be: NTP-synchronised clocks agree within a
# second; a larger lead is a wrong clock or a message crafted to block the camera's later ones.
MAX_CLOCK_SKEW_S = 5.0
# A camera counts seq from 1 after every start (edge_core.messages).
FIRST_SEQ = 1


@dataclass(frozen=True)
class PredictionToShow:
    """A camera's prediction that passed every check: the screen shows it."""

    prediction: Prediction
    kind: ClassVar[str] = "decision"  # its key in MessageFilter.counts and the event log


@dataclass(frozen=True)
class Heartbeat:
    status: Status
    kind: ClassVar[str] = "heartbeat"


@dataclass(frozen=True)
class Ignored:
    kind: str
    detail: str
    device: str | None = None


Outcome = PredictionToShow | Heartbeat | Ignored


def camera_of(topic: str) -> tuple[str, str] | None:
    """(thing name, message kind) from `<prefix>/<thing-name>/<kind>`, or None for any other shape."""
    levels = topic.split("/")
    if len(levels) < 3 or not levels[-2]:
        return None
    return levels[-2], levels[-1]


class _CameraSequence:
    """The newest accepted (seq, ts) of one camera and the (seq, ts) pairs it sent recently."""

    def __init__(self, seq: int, ts: float) -> None:
        self.seq = seq
        self.ts = ts
        self._recent: deque[tuple[int, float]] = deque(maxlen=RECENT_SEQS)
        self._recent_set: set[tuple[int, float]] = set()
        self.remember(seq, ts)

    def remember(self, seq: int, ts: float) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append((seq, ts))
        self._recent_set.add((seq, ts))
        self.seq, self.ts = seq, ts

    def refusal(self, seq: int, ts: float) -> str | None:
        # A QoS 1 redelivery is the same bytes: the same seq with the same ts.
        if (seq, ts) in self._recent_set:
            return KIND_DUPLICATE
        if seq > self.seq or ts > self.ts:
            return None  # newer; or newer in time though seq did not grow: the camera restarted
        if seq == FIRST_SEQ:
            return None  # a restart whose clock stepped back (NTP after boot): count from here
        return KIND_OUT_OF_ORDER


class MessageFilter:
    def __init__(
        self,
        classes: Sequence[str],
        stale_after_s: float,
        clock: Callable[[], float] = time.time,
        max_cameras: int = MAX_CAMERAS,
    ) -> None:
        self.classes = tuple(classes)
        self.stale_after_s = stale_after_s
        self._clock = clock  # wall clock: message ts is the camera's wall-clock time
        self._max_cameras = max_cameras
        self._cameras: OrderedDict[str, _CameraSequence] = OrderedDict()
        self.counts: Counter[str] = Counter()

    @property
    def cameras_remembered(self) -> int:
        return len(self._cameras)

    def check(self, topic: str, payload: bytes) -> Outcome:
        outcome = self._check(topic, payload)
        self.counts[outcome.kind] += 1
        return outcome

    def _check(self, topic: str, payload: bytes) -> Outcome:
        where = camera_of(topic)
        if where is None or where[1] not in (PREDICTIONS, STATUS):
            return Ignored(KIND_UNKNOWN_TOPIC, f"topic {topic!r} is not <prefix>/<camera>/predictions or status")
        device, kind = where
        try:
            if kind == STATUS:
                return Heartbeat(parse_status(payload)._replace(device=device))
            prediction = parse_prediction(payload, self.classes)._replace(device=device)
        except MessageError as error:
            return Ignored(error.kind, error.detail, device)
        age = self._clock() - prediction.ts
        if age > self.stale_after_s:
            return Ignored(KIND_STALE, f"{age:.1f}s old (limit {self.stale_after_s}s)", device)
        if -age > MAX_CLOCK_SKEW_S:
            return Ignored(KIND_FUTURE, f"ts {-age:.1f}s ahead of this clock (limit {MAX_CLOCK_SKEW_S}s)", device)
        camera = self._cameras.get(device)
        if camera is None:
            self._cameras[device] = _CameraSequence(prediction.seq, prediction.ts)
            if len(self._cameras) > self._max_cameras:
                self._cameras.popitem(last=False)
            return PredictionToShow(prediction)
        refusal = camera.refusal(prediction.seq, prediction.ts)
        if refusal is not None:
            return Ignored(refusal, f"seq {prediction.seq} after seq {camera.seq}", device)
        camera.remember(prediction.seq, prediction.ts)
        self._cameras.move_to_end(device)
        return PredictionToShow(prediction)


class FirstOfKind:
    """Answers True the first time it sees each kind: log that one, count the rest silently."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def first(self, kind: str) -> bool:
        if kind in self._seen:
            return False
        self._seen.add(kind)
        return True
