"""Corrections at the camera: the frame behind a corrected decision lands in the training dataset
under the true class (moto S3), and every bad correction is ignored and counted, never uploaded.

The judging is tested in-process on a clock the test moves; the whole component is tested with
its MQTT transport against the local mosquitto broker, a Pi-like client publishing corrections,
and boto3 writing into moto; the IPC path with the SDK's own event shapes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import cv2
import numpy as np
import pytest
from awsiot.greengrasscoreipc.model import IoTCoreMessage, MQTTMessage
from moto import mock_aws

from device.greengrass_component.corrections import (
    CameraCorrections,
    CorrectionSettings,
    FrameBuffer,
    HeldFrame,
    start_corrections,
)
from device.greengrass_component.runner import ComponentRunner
from device.greengrass_component.settings import parse_settings
from device.greengrass_component.transports import IpcTransport, MqttTransport, StdoutTransport
from device.mqtt_link import MqttLink, MqttSettings
from sorter_common.correction import Correction, encode_correction
from sorter_common.message import parse_prediction
from sorter_common.topics import corrections_topic, predictions_topic
from testbed.local_broker import LocalBroker
from testbed.local_pki import LocalPki, issue_client
from tests.device.conftest import unique_client_id

BUCKET = "deeplens-corrections-test"
LABELS = ("compost", "landfill", "recycling")
THING = "cam-1"
FRAME = np.full((1080, 1920, 3), 90, dtype=np.uint8)  # a DeepLens-sized BGR frame


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def keys(s3: Any) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def corrections(clock: Clock, **changes: Any) -> CameraCorrections:
    settings = CorrectionSettings(capture=True, bucket=BUCKET, **changes)
    return CameraCorrections(
        settings, THING, LABELS, topic_prefix="trash-sorter", model_version="m-7", clock=clock,
        wall_clock=lambda: 1_700_000_000.0,
    ).start()


def correction(seq: int, label: str = "recycling", shown: str = "landfill", by: str = "pi-1", **fields: Any) -> bytes:
    payload = json.loads(encode_correction(Correction(THING, seq, label, shown, 1_700_000_001.5, by)))
    payload.update(fields)
    return json.dumps(payload).encode()


TOPIC = corrections_topic(THING)


def test_a_correction_of_a_held_decision_uploads_its_frame_under_the_true_class(s3: Any) -> None:
    clock = Clock()
    camera = corrections(clock)
    camera.on_step(1, True, "landfill", FRAME)
    camera.on_step(1, False, "landfill", FRAME)  # not published: nothing new kept
    assert len(camera.buffer) == 1
    assert camera.on_message(TOPIC, correction(1)) == "queued"
    camera.close()
    [key] = keys(s3)
    assert key == "datasets/default/recycling/field-cam-1-1700000001500-1.jpg"
    stored = s3.get_object(Bucket=BUCKET, Key=key)
    assert stored["ContentType"] == "image/jpeg"
    assert stored["Metadata"] == {
        "camera": THING, "seq": "1", "shown": "landfill", "shown-by-model": "landfill", "corrected-by": "pi-1",
        "model": "m-7",
    }
    image = cv2.imdecode(np.frombuffer(stored["Body"].read(), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == FRAME.shape and abs(int(image.mean()) - 90) <= 1
    assert camera.counts["uploaded"] == 1 and len(camera.buffer) == 0


def test_every_bad_correction_is_ignored_counted_and_never_uploaded(s3: Any) -> None:
    clock = Clock()
    camera = corrections(clock, window_s=60.0, per_pi_per_minute=6.0)
    for seq in range(1, 5):
        camera.on_step(seq, True, "compost", FRAME)
    outcomes = [
        camera.on_message(TOPIC, b"{not json"),
        camera.on_message(TOPIC, correction(1, v=9)),
        camera.on_message(TOPIC, correction(1, label="glass")),  # not a class of this model
        camera.on_message(corrections_topic("cam-2"), correction(1)),  # another camera's topic
        camera.on_message(TOPIC, correction(1, camera="cam-2")),  # another camera's decision
        camera.on_message(TOPIC, correction(99)),  # never published
    ]
    assert outcomes == ["malformed", "unsupported-version", "unknown-label", "wrong-camera", "wrong-camera",
                        "unknown-seq"]
    assert camera.on_message(TOPIC, correction(2)) == "queued"
    assert camera.on_message(TOPIC, correction(2, label="compost")) == "duplicate"
    clock.now += 61
    assert camera.on_message(TOPIC, correction(3)) == "expired"  # held, but past the window
    camera.close()
    assert keys(s3) == ["datasets/default/recycling/field-cam-1-1700000001500-2.jpg"]
    assert camera.counts["uploaded"] == 1


def test_a_flood_from_one_pi_is_cut_at_its_rate_and_other_pis_still_count(s3: Any) -> None:
    clock = Clock()
    camera = corrections(clock, per_pi_per_minute=6.0, buffer_frames=1000)
    for seq in range(1, 201):
        camera.on_step(seq, True, "compost", np.zeros((8, 8, 3), np.uint8))
    flood = [camera.on_message(TOPIC, correction(seq, by="pi-flood")) for seq in range(1, 101)]
    assert flood.count("queued") == 3 and flood.count("flood") == 97  # the burst, then nothing
    assert camera.on_message(TOPIC, correction(150, by="pi-other")) == "queued"
    clock.now += 10  # one more press per 10 s at 6 a minute
    assert camera.on_message(TOPIC, correction(101, by="pi-flood")) == "queued"
    camera.close()
    assert len(keys(s3)) == 5
    assert camera.counts["flood"] == 97


def test_the_buffer_is_bounded_by_frames_and_bytes() -> None:
    buffer = FrameBuffer(max_frames=3, max_bytes=1000)
    for seq in range(1, 6):
        buffer.remember(seq, HeldFrame("compost", 0.0, b"x" * 100))
    assert len(buffer) == 3 and buffer.bytes == 300 and buffer.take(2) is None and buffer.take(5) is not None
    buffer.remember(6, HeldFrame("compost", 0.0, b"x" * 900))
    assert buffer.bytes <= 1000 and buffer.take(6) is not None


def test_frames_are_kept_no_longer_than_the_correction_window(s3: Any) -> None:
    clock = Clock()
    camera = corrections(clock, window_s=60.0)
    camera.on_step(1, True, "compost", FRAME)
    clock.now += 30
    camera.on_step(2, True, "compost", FRAME)
    clock.now += 31
    camera.on_step(2, False, "compost", FRAME)  # any step forgets what is past the window
    assert len(camera.buffer) == 1 and camera.buffer.take(1) is None
    assert camera.on_message(TOPIC, correction(1)) == "expired"
    camera.close()
    assert keys(s3) == []


def test_unsure_frames_are_sampled_at_their_own_rate_only_when_switched_on(s3: Any) -> None:
    clock = Clock()
    sampled = CameraCorrections(
        CorrectionSettings(unsure_per_hour=2.0, bucket=BUCKET), THING, LABELS, topic_prefix="trash-sorter",
        clock=clock, wall_clock=lambda: clock.now,
    ).start()
    for _ in range(50):
        sampled.on_step(1, True, "unsure", FRAME)
        clock.now += 1
    clock.now += 1800  # half an hour: one more
    sampled.on_step(2, False, "unsure", FRAME)
    sampled.on_step(3, True, "compost", FRAME)  # capture is off: no frame kept for corrections
    sampled.close()
    assert keys(s3) == ["unlabelled/cam-1/1000000.jpg", "unlabelled/cam-1/2850000.jpg"]
    assert len(sampled.buffer) == 0


def test_both_switches_off_keep_nothing_and_subscribe_to_nothing() -> None:
    subscribed: list[str] = []
    assert start_corrections(
        CorrectionSettings(), lambda topic, handler: subscribed.append(topic), THING, LABELS,
        topic_prefix="trash-sorter", model_version="m",
    ) is None
    assert subscribed == []
    defaults = parse_settings(["--source", "0", "--model", "m.tar.gz", "--thing-name", THING]).corrections
    assert defaults == CorrectionSettings() and not defaults.active


def test_capture_needs_a_bucket_and_a_dataset_name(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--source", "0", "--model", "m.tar.gz", "--thing-name", THING]
    for extra, says in (
        (["--correction-capture", "true"], "needs --bucket"),
        (["--correction-capture", "maybe"], "expected true or false"),
        (["--dataset", "a/b", "--bucket", BUCKET], "not a dataset name"),
    ):
        with pytest.raises(SystemExit) as exit_:
            parse_settings(base + extra)
        assert exit_.value.code == 2 and says in capsys.readouterr().err
    on = parse_settings([*base, "--correction-capture", "true", "--bucket", BUCKET, "--dataset", "field"])
    assert on.corrections.capture and on.corrections.dataset == "field"


def test_stdout_cannot_receive_so_capture_says_so_and_inference_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    running = start_corrections(
        CorrectionSettings(capture=True, bucket=BUCKET), StdoutTransport().subscribe, THING, LABELS,
        topic_prefix="trash-sorter", model_version="m", putter_factory=lambda: (lambda *args: None),
    )
    assert running is not None
    running.close()
    assert "cannot be received" in caplog.text


# --- IPC: the SDK's own message shapes ---------------------------------------------------------

class FakeIpcClient:
    def __init__(self) -> None:
        self.streams: dict[str, dict[str, Any]] = {}

    def subscribe_to_iot_core(self, **kwargs: Any) -> tuple[object, object]:
        self.streams[kwargs["topic_name"]] = kwargs
        return object(), object()

    def publish_to_iot_core(self, **kwargs: Any) -> object:
        return object()

    def close(self) -> None:
        pass


def test_ipc_subscribes_at_qos1_delivers_iot_core_messages_and_resubscribes_after_a_closed_stream() -> None:
    clients: list[FakeIpcClient] = []

    def factory() -> FakeIpcClient:
        clients.append(FakeIpcClient())
        return clients[-1]

    transport = IpcTransport(factory, reconnect_s=0.0)
    received: list[tuple[str, bytes]] = []
    transport.publish("trash-sorter/cam-1/status", b"{}")
    transport.subscribe(TOPIC, lambda topic, payload: received.append((topic, payload)))
    stream = clients[0].streams[TOPIC]
    assert stream["qos"] == "1"
    stream["on_stream_event"](IoTCoreMessage(message=MQTTMessage(topic_name=TOPIC, payload=b"hello")))
    assert received == [(TOPIC, b"hello")]
    stream["on_stream_closed"]()  # the nucleus restarted
    transport.publish("trash-sorter/cam-1/status", b"{}")
    assert len(clients) == 2 and TOPIC in clients[1].streams


# --- the whole component, over the local broker, into moto ---------------------------------------

def test_the_component_uploads_a_corrected_frame_it_received_over_mqtt(
    s3: Any, broker: LocalBroker, pki: LocalPki, held_out_frames: dict[str, list[Any]], cached_demo_model: Path,
    tmp_path: Path,
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for index, label in enumerate(sorted(held_out_frames)):
        for number, frame in enumerate(held_out_frames[label][:4]):
            cv2.imwrite(str(frames / f"{index}{number}-{label}.png"), frame)
    thing = unique_client_id("gg-core")
    camera_credentials = issue_client(pki, thing)
    pi_id = unique_client_id("pi")
    pi_credentials = issue_client(pki, pi_id)
    decisions: list[bytes] = []
    pi = MqttLink(
        MqttSettings(broker.host, broker.port, pi_credentials.cert_path, pi_credentials.key_path, pki.ca_path, pi_id),
        on_message=lambda topic, payload: decisions.append(payload),
    )
    pi.connect()
    pi.subscribe([predictions_topic(thing)])
    settings = parse_settings([
        "--source", str(frames), "--loop", "--model", str(cached_demo_model), "--work-dir", str(tmp_path / "work"),
        "--thing-name", thing, "--window", "1", "--min-interval", "0.3", "--heartbeat", "0.3",
        "--transport", "mqtt", "--endpoint", broker.host, "--port", str(broker.port),
        "--cert", str(camera_credentials.cert_path), "--key", str(camera_credentials.key_path),
        "--ca", str(pki.ca_path), "--correction-capture", "true", "--bucket", BUCKET, "--dataset", "default",
    ])
    stop = threading.Event()
    transport = MqttTransport(settings, stop)
    runner = ComponentRunner(settings, transport, stop)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(decisions) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        decision = parse_prediction(decisions[1], LABELS)
        truth = next(label for label in LABELS if label != decision.label)
        pi.publish(corrections_topic(thing), encode_correction(
            Correction(thing, decision.seq, truth, decision.label, time.time(), pi_id))).result(5)
        pi.publish(corrections_topic(thing), encode_correction(
            Correction(thing, decision.seq + 10_000, truth, decision.label, time.time(), pi_id))).result(5)
        while time.monotonic() < deadline and runner.corrections is not None and (
            runner.corrections.counts["uploaded"] < 1 or runner.corrections.counts["unknown-seq"] < 1
        ):
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(30)
        transport.close()
        pi.disconnect()
    assert runner.corrections is not None
    assert runner.corrections.counts == {"uploaded": 1, "unknown-seq": 1}
    [key] = keys(s3)
    assert key.startswith(f"datasets/default/{truth}/field-{thing}-") and key.endswith(f"-{decision.seq}.jpg")
