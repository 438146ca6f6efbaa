""""Wrong bin?" at the camera: the frame behind a corrected decision goes into the training data.

With correction capture on (off by default), the component keeps the frame behind each of its
recent decisions, JPEG-encoded, in a FrameBuffer bounded by frame count and bytes. It listens on
its own corrections topic (`<prefix>/<thing>/corrections`, sorter_common.correction); a valid
correction of a decision it still holds queues that frame for upload to
`datasets/<dataset>/<true class>/field-<camera>-<ms>-<seq>.jpg`, the folder the training pipeline
reads, so the next training run includes it. Separately switched, a rate-limited sample of frames
it was unsure about goes to `unlabelled/<camera>/<ms>.jpg`.

Nothing else leaves the camera, and a bad correction never uploads anything: malformed, another
camera's, a class the model does not have, a seq never published or no longer held ("unknown",
"expired"), one already acted on ("duplicate"), or past a Pi's rate ("flood") is ignored and
counted; the first of each kind is logged. Uploads run on one worker thread behind a bounded
queue, so neither the MQTT/IPC thread nor the inference loop waits for S3. Credentials come from
the default boto3 chain: under Greengrass, the token exchange service's (the component depends on
aws.greengrass.TokenExchangeService when capture or sampling is on).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Dict, NamedTuple

from edge_core.settings import default
from sorter_common.bucket_layout import field_correction_key, unlabelled_key
from sorter_common.classes import UNSURE
from sorter_common.correction import parse_correction
from sorter_common.message import MessageError
from sorter_common.topics import corrections_topic
from sorter_common.training_pipeline import DEFAULT_DATASET

LOG = logging.getLogger(__name__)

DEFAULT_BUFFER_FRAMES = default("correction_buffer_frames")
DEFAULT_BUFFER_MIB = default("correction_buffer_mib")
DEFAULT_WINDOW_S = default("correction_window_s")
DEFAULT_PER_PI_PER_MINUTE = default("corrections_per_pi_per_minute")
JPEG_QUALITY = 90
UPLOAD_QUEUE = 8  # frames waiting for S3; beyond this a correction is counted "upload-queue-full"
PI_BURST = 3  # presses a Pi may make at once before its rate applies
MAX_PIS = 64  # Pis whose rate is remembered; a flood of made-up names cannot grow memory
REMEMBERED_CORRECTED = 1024  # seqs already acted on, to tell a duplicate from an expired one

# Counted outcomes of a correction message (with MessageError's kinds for unparseable ones).
UPLOADED = "uploaded"
WRONG_CAMERA = "wrong-camera"
FLOOD = "flood"
DUPLICATE = "duplicate"
UNKNOWN_SEQ = "unknown-seq"
EXPIRED = "expired"
QUEUE_FULL = "upload-queue-full"
UPLOAD_FAILED = "upload-failed"
UNSURE_UPLOADED = "unsure-uploaded"


@dataclass(frozen=True)
class CorrectionSettings:
    """The component's correction settings; both switches off means no buffer and no subscription."""

    capture: bool = False
    unsure_per_hour: float = 0.0
    bucket: str = ""
    dataset: str = DEFAULT_DATASET
    buffer_frames: int = DEFAULT_BUFFER_FRAMES
    buffer_bytes: int = int(DEFAULT_BUFFER_MIB * 1024 * 1024)
    window_s: float = DEFAULT_WINDOW_S
    per_pi_per_minute: float = DEFAULT_PER_PI_PER_MINUTE

    @property
    def active(self) -> bool:
        return self.capture or self.unsure_per_hour > 0


def settings_from(values: Mapping[str, Any]) -> CorrectionSettings:
    """The correction settings from their declared values (edge_core.settings, checked there)."""
    return CorrectionSettings(
        capture=values["correction_capture"],
        unsure_per_hour=values["unsure_sample_per_hour"],
        bucket=values["bucket"].strip(),
        dataset=values["correction_dataset"].strip(),
        buffer_frames=values["correction_buffer_frames"],
        buffer_bytes=int(values["correction_buffer_mib"] * 1024 * 1024),
        window_s=values["correction_window_s"],
        per_pi_per_minute=values["corrections_per_pi_per_minute"],
    )


class HeldFrame(NamedTuple):
    label: str
    at: float  # monotonic time of the decision
    jpeg: bytes


class FrameBuffer:
    """The JPEG frames behind the newest decisions, at most max_frames of them and max_bytes in all."""

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._frames: OrderedDict[int, HeldFrame] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._frames)

    def remember(self, seq: int, held: HeldFrame) -> None:
        if seq in self._frames:  # a restarted camera counts seq from 1 again: the new frame wins
            self.bytes -= len(self._frames.pop(seq).jpeg)
        self._frames[seq] = held
        self.bytes += len(held.jpeg)
        while self._frames and (len(self._frames) > self.max_frames or self.bytes > self.max_bytes):
            _, oldest = self._frames.popitem(last=False)
            self.bytes -= len(oldest.jpeg)

    def forget_before(self, at: float) -> None:
        """Drop the frames of decisions made before `at`: no correction can claim them any more."""
        while self._frames:
            seq, oldest = next(iter(self._frames.items()))
            if oldest.at >= at:
                return
            del self._frames[seq]
            self.bytes -= len(oldest.jpeg)

    def take(self, seq: int) -> HeldFrame | None:
        held = self._frames.pop(seq, None)
        if held is not None:
            self.bytes -= len(held.jpeg)
        return held


class TokenBucket:
    def __init__(self, per_second: float, burst: float, now: float) -> None:
        self.per_second = per_second
        self.burst = burst
        self.tokens = burst
        self.at = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Upload(NamedTuple):
    key: str
    body: bytes
    metadata: dict[str, str]
    kind: str  # the count it adds to when it succeeds


Putter = Callable[[str, str, bytes, Dict[str, str]], None]  # bucket, key, body, metadata


def s3_putter() -> Putter:
    """PutObject with boto3's default credentials: the token exchange service's under Greengrass."""
    import boto3

    client = boto3.client("s3")

    def put(bucket: str, key: str, body: bytes, metadata: dict[str, str]) -> None:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="image/jpeg", Metadata=metadata)

    return put


def encode_jpeg(frame: Any) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("OpenCV could not encode the frame as JPEG")
    return bytes(data.tobytes())


class CameraCorrections:
    """One camera's side of corrections: remember frames, judge corrections, upload on a worker."""

    def __init__(
        self,
        settings: CorrectionSettings,
        thing_name: str,
        labels: Sequence[str],
        *,
        topic_prefix: str,
        model_version: str = "",
        putter_factory: Callable[[], Putter] = s3_putter,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        encode: Callable[[Any], bytes] = encode_jpeg,
    ) -> None:
        self.settings = settings
        self.thing_name = thing_name
        self.topic = corrections_topic(thing_name, topic_prefix)
        self.labels = tuple(labels)
        self.model_version = model_version
        self.counts: Counter[str] = Counter()
        self.buffer = FrameBuffer(settings.buffer_frames, settings.buffer_bytes)
        self._putter_factory = putter_factory
        self._clock = clock
        self._wall_clock = wall_clock
        self._encode = encode
        self._lock = threading.Lock()  # the buffer and counts: inference thread vs. MQTT/IPC thread
        self._last_seq = 0
        self._corrected: deque[int] = deque(maxlen=REMEMBERED_CORRECTED)
        self._pis: OrderedDict[str, TokenBucket] = OrderedDict()
        now = clock()
        per_second = settings.per_pi_per_minute / 60.0
        # All Pis together: a flood under many names is still bounded.
        self._all_pis = TokenBucket(per_second * 4, PI_BURST * 4, now)
        self._per_pi_second = per_second
        self._unsure = TokenBucket(settings.unsure_per_hour / 3600.0, 1.0, now)
        self._logged: set[str] = set()
        self._uploads: queue.Queue[Upload | None] = queue.Queue(UPLOAD_QUEUE)
        self._worker: threading.Thread | None = None

    # --- the inference side -----------------------------------------------------------------

    def on_step(self, seq: int, published: bool, label: str | None, frame: Any) -> None:
        """After each inference step: keep a published decision's frame; sample an unsure one."""
        if frame is None or label is None:
            return
        if self.settings.capture:
            with self._lock:  # a frame is kept no longer than a correction may claim it
                self.buffer.forget_before(self._clock() - self.settings.window_s)
        try:
            if published and self.settings.capture:
                jpeg = self._encode(frame)
                with self._lock:
                    self._last_seq = seq
                    self.buffer.remember(seq, HeldFrame(label, self._clock(), jpeg))
            if label == UNSURE and self.settings.unsure_per_hour > 0:
                with self._lock:
                    allowed = self._unsure.take(self._clock())
                if allowed:
                    self._queue(
                        Upload(unlabelled_key(self.thing_name, self._wall_clock()), self._encode(frame),
                               {"camera": self.thing_name, "model": self.model_version}, UNSURE_UPLOADED)
                    )
        except Exception as error:  # a frame OpenCV cannot encode must not stop the inference loop
            self._count("encode-failed", str(error))

    # --- the corrections topic --------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> str:
        """A message on the corrections topic (MQTT/IPC thread): judge it; the outcome is counted and returned."""
        try:
            outcome = self._judge(topic, payload)
        except Exception as error:  # no payload may take the component down
            outcome = "internal-error"
            LOG.warning("correction handling failed: %s", error)
        return outcome

    def _judge(self, topic: str, payload: bytes) -> str:
        try:
            correction = parse_correction(payload, self.labels)
        except MessageError as error:
            return self._count(error.kind, error.detail)
        if topic != self.topic or correction.camera != self.thing_name:
            return self._count(WRONG_CAMERA, f"{correction.camera} on {topic}")
        with self._lock:
            now = self._clock()
            if not self._rate_allows(correction.by, now):
                return self._count(FLOOD, f"from {correction.by!r}", locked=True)
            if correction.seq in self._corrected:
                return self._count(DUPLICATE, f"seq {correction.seq}", locked=True)
            held = self.buffer.take(correction.seq)
            if held is None:
                kind = UNKNOWN_SEQ if correction.seq > self._last_seq else EXPIRED
                return self._count(kind, f"seq {correction.seq} (newest {self._last_seq})", locked=True)
            self._corrected.append(correction.seq)
            if now - held.at > self.settings.window_s:
                return self._count(EXPIRED, f"seq {correction.seq} is {now - held.at:.0f} s old", locked=True)
        key = field_correction_key(self.settings.dataset, correction.label, self.thing_name, correction.seq,
                                   correction.ts)
        metadata = {
            "camera": self.thing_name, "seq": str(correction.seq), "shown": correction.shown,
            "shown-by-model": held.label, "corrected-by": correction.by, "model": self.model_version,
        }
        return self._queue(Upload(key, held.jpeg, metadata, UPLOADED))

    def _rate_allows(self, pi: str, now: float) -> bool:
        bucket = self._pis.get(pi)
        if bucket is None:
            bucket = self._pis[pi] = TokenBucket(self._per_pi_second, PI_BURST, now)
            if len(self._pis) > MAX_PIS:
                self._pis.popitem(last=False)
        self._pis.move_to_end(pi)
        return bucket.take(now) and self._all_pis.take(now)

    def _count(self, kind: str, detail: str = "", locked: bool = False) -> str:
        if locked:
            self.counts[kind] += 1
        else:
            with self._lock:
                self.counts[kind] += 1
        if kind not in self._logged:
            self._logged.add(kind)
            LOG.warning("correction %s (%s); further ones are only counted", kind, detail)
        return kind

    # --- the uploads ------------------------------------------------------------------------

    def start(self) -> CameraCorrections:
        self._worker = threading.Thread(target=self._upload_all, name="corrections-upload", daemon=True)
        self._worker.start()
        return self

    def _queue(self, upload: Upload) -> str:
        try:
            self._uploads.put_nowait(upload)
        except queue.Full:
            return self._count(QUEUE_FULL, upload.key)
        return "queued"

    def _upload_all(self) -> None:
        put: Putter | None = None
        while True:
            upload = self._uploads.get()
            if upload is None:
                return
            try:
                if put is None:
                    put = self._putter_factory()
                put(self.settings.bucket, upload.key, upload.body, upload.metadata)
            except Exception as error:  # S3 down, credentials not yet vended: counted, the frame is lost
                self._count(UPLOAD_FAILED, f"{upload.key}: {error}")
                continue
            LOG.info("uploaded s3://%s/%s", self.settings.bucket, upload.key)
            with self._lock:
                self.counts[upload.kind] += 1

    def close(self, timeout: float = 10.0) -> None:
        """Finish the queued uploads (up to timeout), then stop the worker."""
        if self._worker is None:
            return
        try:
            self._uploads.put(None, timeout=timeout)
        except queue.Full:
            return
        self._worker.join(timeout)

    def as_text(self) -> str:
        with self._lock:
            counts = dict(sorted(self.counts.items()))
        return "corrections " + (" ".join(f"{kind}={count}" for kind, count in counts.items()) or "none")


def start_corrections(
    settings: CorrectionSettings,
    subscribe: Callable[[str, Callable[[str, bytes], Any]], None],
    thing_name: str,
    labels: Sequence[str],
    *,
    topic_prefix: str,
    model_version: str,
    putter_factory: Callable[[], Putter] = s3_putter,
) -> CameraCorrections | None:
    """The running corrections of a component, or None when both switches are off (nothing kept)."""
    if not settings.active:
        return None
    corrections = CameraCorrections(
        settings, thing_name, labels, topic_prefix=topic_prefix, model_version=model_version,
        putter_factory=putter_factory,
    ).start()
    if settings.capture:
        try:
            subscribe(corrections.topic, corrections.on_message)
        except Exception as error:  # e.g. the stdout transport: capture cannot work, inference still does
            LOG.error("correction capture is on but %s cannot be received: %s", corrections.topic, error)
    return corrections
