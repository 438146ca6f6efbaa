"""The Greengrass V2 component process, run as `python -m device.greengrass_component` (its local mode)
against a real mosquitto broker with mutual TLS, and in-process with a fake Greengrass IPC client."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from device.greengrass_component.frame_queue import FrameQueue
from device.greengrass_component.runner import ComponentRunner
from device.greengrass_component.settings import parse_settings
from device.greengrass_component.sources import EndOfFrames, parse_source
from device.greengrass_component.transports import IpcTransport
from device.mqtt_link import MqttLink, MqttSettings
from sorter_common.classes import UNSURE
from sorter_common.message import parse_prediction, parse_status
from sorter_common.topics import predictions_topic, status_topic
from testbed.local_broker import LocalBroker
from testbed.local_pki import LocalPki, issue_client
from tests.device.conftest import REPO_ROOT, unique_client_id

PER_CLASS = 8


@pytest.fixture(scope="module")
def class_folder(held_out_frames: dict[str, list[Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Held-out images, class after class in label order: what a camera sees as items go by."""
    folder = tmp_path_factory.mktemp("frames")
    index = 0
    for label in sorted(held_out_frames):
        for frame in held_out_frames[label][:PER_CLASS]:
            index += 1
            cv2.imwrite(str(folder / f"{index:03d}-{label}.png"), frame)
    return folder


def component_args(source: Path | str, model: Path, work: Path, thing: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "device.greengrass_component",
        "--source",
        str(source),
        "--model",
        str(model),
        "--work-dir",
        str(work),
        "--thing-name",
        thing,
        "--min-interval",
        "0",
        "--window",
        "3",
        *extra,
    ]


class Listener:
    """Subscribes to one device's predictions and status over its own mTLS connection."""

    def __init__(self, broker: LocalBroker, pki: LocalPki, thing: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        client_id = unique_client_id("listener")
        credentials = issue_client(pki, client_id)
        self.link = MqttLink(
            MqttSettings(broker.host, broker.port, credentials.cert_path, credentials.key_path, pki.ca_path, client_id),
            on_message=self._on_message,
        )
        self.link.connect()
        self.link.subscribe([predictions_topic(thing), status_topic(thing)])

    def _on_message(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.messages.append((topic, payload))

    def statuses(self) -> list[str]:
        with self._lock:
            return [parse_status(payload).state for topic, payload in self.messages if topic.endswith("/status")]

    def detail(self, state: str) -> str:
        with self._lock:
            statuses = [parse_status(payload) for topic, payload in self.messages if topic.endswith("/status")]
        return next(status.detail for status in statuses if status.state == state)

    def wait_status(self, state: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if state in self.statuses():
                return
            time.sleep(0.05)
        raise AssertionError(f"no {state!r} status within {timeout}s: {self.statuses()}")


@pytest.fixture
def listen(broker: LocalBroker, pki: LocalPki) -> Iterator[Callable[[str], Listener]]:
    listeners: list[Listener] = []

    def make(thing: str) -> Listener:
        listeners.append(Listener(broker, pki, thing))
        return listeners[-1]

    yield make
    for listener in listeners:
        listener.link.disconnect()


def test_a_folder_of_each_class_publishes_the_right_labels_to_a_mtls_broker(
    broker: LocalBroker,
    pki: LocalPki,
    listen: Callable[[str], Listener],
    class_folder: Path,
    cached_demo_model: Path,
    tmp_path: Path,
) -> None:
    thing = unique_client_id("gg-core")
    credentials = issue_client(pki, thing)
    listener = listen(thing)
    result = subprocess.run(
        component_args(
            class_folder,
            cached_demo_model,
            tmp_path / "work",
            thing,
            "--transport",
            "mqtt",
            "--endpoint",
            broker.host,
            "--port",
            str(broker.port),
            "--cert",
            str(credentials.cert_path),
            "--key",
            str(credentials.key_path),
            "--ca",
            str(pki.ca_path),
        ),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listener.wait_status("stopping", timeout=10)

    predictions = [
        parse_prediction(p, ["compost", "landfill", "recycling"])
        for t, p in listener.messages
        if t == predictions_topic(thing)
    ]
    decided = [p.label for p in predictions if p.label != UNSURE]
    assert [label for index, label in enumerate(decided) if index == 0 or decided[index - 1] != label] == [
        "compost",
        "landfill",
        "recycling",
    ]
    assert [p.seq for p in predictions] == list(range(1, len(predictions) + 1))
    assert {p.device for p in predictions} == {thing}
    assert all(p.model and p.model != "unknown" for p in predictions)
    assert listener.statuses() == ["starting", "model-loaded", "running", "stopping"]
    # The status says which model file the camera runs (int8 where the export preferred it) and on
    # how many threads (one per core this process may use: no --threads given).
    with tarfile.open(cached_demo_model) as archive:
        preferred = json.load(archive.extractfile("model.json"))["int8"]["preferred"]  # type: ignore[arg-type]
    loaded = listener.detail("model-loaded")
    assert "file={} ".format("model.int8.onnx" if preferred else "model.onnx") in loaded
    assert loaded.endswith(f"threads={len(os.sched_getaffinity(0))}")
    # The archive was extracted once into the work folder, by content hash.
    assert len(list((tmp_path / "work" / "models").iterdir())) == 1


def _read_lines(
    process: subprocess.Popen[str], until: Callable[[dict[str, Any]], bool], timeout: float
) -> list[dict[str, Any]]:
    assert process.stdout is not None
    lines: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(json.loads(line))
        if until(lines[-1]):
            return lines
    raise AssertionError(f"condition not met within {timeout}s: {lines}")


def test_sigterm_stops_the_component_cleanly(class_folder: Path, cached_demo_model: Path, tmp_path: Path) -> None:
    process = subprocess.Popen(
        component_args(class_folder, cached_demo_model, tmp_path, "cam-term", "--transport", "stdout", "--loop"),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _read_lines(process, lambda line: line["message"].get("state") == "running", 60)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 0, err
    last = json.loads(out.strip().splitlines()[-1])
    assert last["topic"] == "trash-sorter/cam-term/status" and last["message"]["state"] == "stopping"
    assert "Traceback" not in err


def test_a_dead_camera_gives_status_messages_and_retries_instead_of_crashing(
    cached_demo_model: Path, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        component_args(
            "/dev/video97",
            cached_demo_model,
            tmp_path,
            "cam-dead",
            "--transport",
            "stdout",
            "--retry-initial",
            "0.2",
            "--retry-max",
            "0.4",
        ),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        errors: list[str] = []

        def two_errors(line: dict[str, Any]) -> bool:
            if line["message"].get("state") == "error":
                errors.append(line["message"]["detail"])
            return len(errors) >= 2

        _read_lines(process, two_errors, 30)
        assert process.poll() is None, "the component exited on a dead camera"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        process.kill()
    assert all("cannot open camera /dev/video97; retrying" in detail for detail in errors)
    assert process.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["message"]["state"] == "stopping"


class FakeIpcClient:
    """GreengrassCoreIPCClientV2 at its documented interface:
    publish_to_iot_core(*, topic_name, qos, payload), close()."""

    def __init__(self, log: list[tuple[str, str, bytes]], fail_on: set[int]) -> None:
        self.log = log
        self.fail_on = fail_on
        self.closed = False

    def publish_to_iot_core(self, *, topic_name: str, qos: str, payload: bytes) -> object:
        if self.closed:
            raise RuntimeError("closed client used")
        if len(self.log) + 1 in self.fail_on:
            self.fail_on.discard(len(self.log) + 1)
            self.log.append(("<failed>", qos, b""))
            raise ConnectionError("IPC stream closed by the nucleus")
        self.log.append((topic_name, qos, payload))
        return object()

    def close(self) -> None:
        self.closed = True


def test_ipc_publishes_with_qos1_and_resumes_after_an_ipc_error(
    class_folder: Path, cached_demo_model: Path, tmp_path: Path
) -> None:
    log: list[tuple[str, str, bytes]] = []
    clients: list[FakeIpcClient] = []
    fail_on = {3}  # the first prediction after "starting" and "model-loaded" fails

    def factory() -> FakeIpcClient:
        clients.append(FakeIpcClient(log, fail_on))
        return clients[-1]

    transport = IpcTransport(factory, reconnect_s=0.0)
    settings = parse_settings(
        [
            "--source",
            str(class_folder),
            "--model",
            str(cached_demo_model),
            "--work-dir",
            str(tmp_path),
            "--thing-name",
            "gg-ipc",
            "--min-interval",
            "0",
            "--heartbeat",
            "0.05",
        ]
    )
    assert ComponentRunner(settings, transport, threading.Event()).run() == 0

    assert len(clients) == 2 and clients[0].closed  # the broken client was dropped, a new one connected
    sent = [(topic, qos) for topic, qos, _ in log if topic != "<failed>"]
    assert all(qos == "1" for _, qos in sent)  # QOS.AT_LEAST_ONCE
    predictions = [parse_prediction(payload) for topic, _, payload in log if topic.endswith("/predictions")]
    assert len(predictions) > 3  # publishing carried on after the error
    assert sent[-1] == ("trash-sorter/gg-ipc/status", "1")


def test_with_the_local_path_each_message_goes_once_to_local_pubsub_for_the_bridge() -> None:
    from awsiot.greengrasscoreipc.model import PublishMessage

    published: list[tuple[str, PublishMessage]] = []

    class PubSubClient:
        def publish_to_topic(self, *, topic: str, publish_message: PublishMessage) -> object:
            published.append((topic, publish_message))
            return object()

        def publish_to_iot_core(self, **_: object) -> object:
            raise AssertionError("the bridge relays to AWS IoT Core; the component must not publish there too")

        def close(self) -> None:
            pass

    settings = parse_settings(["--source", "0", "--model", "m", "--thing-name", "gg-local"])
    assert settings.local_path  # on by default, as the stack deploys it
    transport = IpcTransport(PubSubClient, reconnect_s=0.0, local_pubsub=settings.local_path)
    transport.publish("trash-sorter/gg-local/predictions", b'{"v": 1}')

    assert [(topic, message.binary_message.message) for topic, message in published] == [
        ("trash-sorter/gg-local/predictions", b'{"v": 1}')
    ]
    off = parse_settings(["--source", "0", "--model", "m", "--thing-name", "t", "--local-path", "false"])
    assert not off.local_path


def test_the_live_queue_drops_the_oldest_frames_and_the_file_queue_waits() -> None:
    stop = threading.Event()
    live = FrameQueue(2, drop_oldest=True)
    for value in range(5):
        live.put(np.full((1, 1, 3), value, np.uint8), stop)
    assert len(live) == 2 and live.dropped == 3
    assert int(live.get(0.1)[0, 0, 0]) == 3

    files = FrameQueue(1, drop_oldest=False)
    files.put("first", stop)
    putter = threading.Thread(target=files.put, args=("second", stop))
    putter.start()
    time.sleep(0.2)
    assert putter.is_alive() and len(files) == 1  # waiting, not growing
    assert files.get(0.1) == "first"
    putter.join(2)
    files.close()
    assert files.get(0.1) == "second"
    with pytest.raises(EndOfFrames):
        files.get(0.1)


@pytest.mark.parametrize(
    ("text", "kind", "live"),
    [
        ("0", "camera", True),
        ("/dev/video2", "camera", True),
        ("rtsp://10.0.0.5/stream", "stream", True),
        ("http://cam.local/video.mjpg", "stream", True),
    ],
)
def test_sources_are_parsed_from_the_configuration(text: str, kind: str, live: bool) -> None:
    spec = parse_source(text)
    assert (spec.kind, spec.live) == (kind, live)


def test_an_unknown_source_is_refused_with_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="camera index"):
        parse_source(str(tmp_path / "missing.mp4"))
    assert parse_source(str(tmp_path)).kind == "folder"


@pytest.mark.parametrize("how", ["stop", "close"])
def test_a_waiting_file_queue_put_does_not_grow_past_max_after_stop_or_close(how: str) -> None:
    stop = threading.Event()
    files = FrameQueue(1, drop_oldest=False)
    files.put("first", stop)
    putter = threading.Thread(target=files.put, args=("second", stop))
    putter.start()
    time.sleep(0.2)
    assert putter.is_alive() and len(files) == 1  # waiting for room
    if how == "stop":
        stop.set()
    else:
        files.close()
    putter.join(2)
    assert not putter.is_alive()  # released
    assert len(files) == 1  # ...without appending past the bound
    files.put("third", stop if how == "stop" else threading.Event())
    assert len(files) == 1  # a later put on a full stopped/closed queue does not grow it either
    assert files.get(0.1) == "first"


@pytest.mark.parametrize("thing", ["cam/1", "cam#", "cam+2", ""])
def test_a_thing_name_that_is_no_mqtt_topic_level_is_refused_in_one_line_with_exit_2(
    thing: str, cached_demo_model: Path, tmp_path: Path
) -> None:
    # As under Greengrass: the nucleus passes the core's thing name in AWS_IOT_THING_NAME.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "device.greengrass_component",
            "--source",
            str(tmp_path),
            "--model",
            str(cached_demo_model),
            "--transport",
            "stdout",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "AWS_IOT_THING_NAME": thing},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""  # nothing published, not even a status
    (line,) = result.stderr.splitlines()
    assert (repr(thing) in line and "MQTT topic level" in line) if thing else "--thing-name is required" in line


@pytest.fixture
def int8_preferring_model(demo_model_dir: Path, tmp_path: Path) -> Path:
    """The demo model folder with model.json preferring int8 and a model.int8.onnx beside model.onnx.

    The export's own int8 file where its measurement preferred it; otherwise the fp32 network stands in
    (a copy under the int8 name): which file the camera loads is the question here, not its speed.
    """
    folder = tmp_path / "model"
    shutil.copytree(demo_model_dir, folder)
    if not (folder / "model.int8.onnx").exists():
        shutil.copy(folder / "model.onnx", folder / "model.int8.onnx")
    info = json.loads((folder / "model.json").read_text())
    info["int8"] = {**info["int8"], "preferred": True}
    (folder / "model.json").write_text(json.dumps(info))
    return folder


@pytest.mark.parametrize(("precision", "expected"), [("auto", "model.int8.onnx"), ("fp32", "model.onnx")])
def test_the_precision_setting_picks_the_file_the_camera_runs(
    class_folder: Path, int8_preferring_model: Path, tmp_path: Path, precision: str, expected: str
) -> None:
    # With model.json preferring int8: auto follows it, fp32 (an owner's configuration update) overrides it.
    log: list[tuple[str, str, bytes]] = []
    settings = parse_settings(
        [
            "--source", str(class_folder), "--model", str(int8_preferring_model), "--work-dir", str(tmp_path),
            "--thing-name", "gg-precision", "--precision", precision,
        ]
    )
    transport = IpcTransport(lambda: FakeIpcClient(log, set()), reconnect_s=0.0)
    assert ComponentRunner(settings, transport, threading.Event()).run() == 0
    statuses = [parse_status(payload) for topic, _, payload in log if topic.endswith("/status")]
    loaded = next(status.detail for status in statuses if status.state == "model-loaded")
    assert f"file={expected} " in loaded
    assert any(topic.endswith("/predictions") for topic, _, _ in log)  # and it ran


def test_int8_cannot_be_forced_and_the_refusal_says_what_to_use(
    cached_demo_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_settings(
            ["--source", "0", "--model", str(cached_demo_model), "--thing-name", "gg-precision", "--precision", "int8"]
        )
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 1
    assert "--precision 'int8' cannot be forced" in error and "use auto (the export's choice) or fp32" in error
