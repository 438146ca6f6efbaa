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

import argparse
import logging
import queue
import re
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Dict, NamedTuple

from sorter_common.bucket_layout import field_correction_key, unlabelled_key
from sorter_common.classes import UNSURE
from sorter_common.correction import parse_correction
from sorter_common.message import MessageError
from sorter_common.topics import corrections_topic
from sorter_common.training_pipeline import DATASET_NAME_PATTERN, DEFAULT_DATASET

LOG = logging.getLogger(__name__)

DEFAULT_BUFFER_FRAMES = 16
DEFAULT_BUFFER_MIB = 16
DEFAULT_WINDOW_S = 120.0
DEFAULT_PER_PI_PER_MINUTE = 6.0
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
    buffer_bytes: int = DEFAULT_BUFFER_MIB * 1024 * 1024
    window_s: float = DEFAULT_WINDOW_S
    per_pi_per_minute: float = DEFAULT_PER_PI_PER_MINUTE

    @property
    def active(self) -> bool:
        return self.capture or self.unsure_per_hour > 0


def _switch(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "on", "yes", "1"):
        return True
    if value in ("false", "off", "no", "0", ""):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("corrections (both switches off by default: no frame leaves the camera)")
    group.add_argument("--correction-capture", type=_switch, default=False,
                       help="true: upload the frame behind a decision the person at the bin corrected or confirmed")
    group.add_argument("--unsure-sample-per-hour", type=float, default=0.0,
                       help="upload at most this many frames per hour the camera was unsure about (0: never)")
    group.add_argument("--bucket", default="", help="the deeplens- bucket the pipeline trains from")
    group.add_argument("--dataset", default=DEFAULT_DATASET, help="the dataset under datasets/ corrections join")
    group.add_argument("--correction-buffer-frames", type=int, default=DEFAULT_BUFFER_FRAMES,
                       help="recent decisions whose frame is kept (JPEG) for a correction")
    group.add_argument("--correction-buffer-mib", type=float, default=DEFAULT_BUFFER_MIB,
                       help="most memory those frames may take, MiB")
    group.add_argument("--correction-window", type=float, default=DEFAULT_WINDOW_S,
                       help="seconds after a decision during which a correction is accepted")
    group.add_argument("--corrections-per-pi-per-minute", type=float, default=DEFAULT_PER_PI_PER_MINUTE,
                       help="a Pi sending more is a flood: ignored and counted")


def settings_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> CorrectionSettings:
    settings = CorrectionSettings(
        capture=args.correction_capture,
        unsure_per_hour=args.unsure_sample_per_hour,
        bucket=args.bucket.strip(),
        dataset=args.dataset.strip(),
        buffer_frames=args.correction_buffer_frames,
        buffer_bytes=int(args.correction_buffer_mib * 1024 * 1024),
        window_s=args.correction_window,
        per_pi_per_minute=args.corrections_per_pi_per_minute,
    )
    if settings.unsure_per_hour < 0 or settings.per_pi_per_minute <= 0 or settings.window_s <= 0:
        parser.error("--unsure-sample-per-hour must be >= 0, --correction-window and the per-Pi rate positive")
    if settings.buffer_frames < 1 or settings.buffer_bytes < 64 * 1024:
        parser.error("--correction-buffer-frames must be at least 1 and --correction-buffer-mib at least 0.0625")
    if not re.match(DATASET_NAME_PATTERN, settings.dataset):
        parser.error(f"--dataset {settings.dataset!r} is not a dataset name (letters, digits, inner hyphens)")
    if settings.active and not settings.bucket:
        parser.error("--correction-capture or --unsure-sample-per-hour needs --bucket")
    return settings


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
