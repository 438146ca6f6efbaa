"""Fixtures for the device tests: a real mosquitto broker with mutual TLS, a camera that publishes,
and the subscriber run as `python -m device.pi_subscriber`, exactly as systemd runs it."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from device.mqtt_link import MqttLink, MqttSettings
from sorter_common.message import encode, prediction_dict, status_dict
from sorter_common.topics import predictions_topic, status_topic
from testbed.emu_screen import emu_screen_held
from testbed.local_broker import LocalBroker
from testbed.local_pki import KeyPair, LocalPki, issue_client, make_pki
from testbed.subscriber import Event, EventTail, subscriber_command

REPO_ROOT = Path(__file__).resolve().parents[2]
_client_numbers = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    # sense_emu 1.2.1 calls a Pillow API deprecated in Pillow 13; not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore:Image.Image.getdata is deprecated:DeprecationWarning")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LocalPki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def broker(pki: LocalPki) -> Iterator[LocalBroker]:
    with LocalBroker(pki) as running:
        yield running


@pytest.fixture(scope="session")
def emu_screen() -> Iterator[None]:
    """The sense_emu screen is one file per machine: hold a lock so parallel runs take turns."""
    with emu_screen_held():
        yield


def unique_client_id(prefix: str) -> str:
    # Unique per test: the broker keeps each client id's persistent session between tests.
    return f"{prefix}-{os.getpid()}-{next(_client_numbers)}"


class Camera:
    """Publishes what an edge camera publishes, on its own mTLS connection."""

    def __init__(self, broker: LocalBroker, credentials: KeyPair, ca: Path, device: str) -> None:
        self.device = device
        self.link = MqttLink(
            MqttSettings(broker.host, broker.port, credentials.cert_path, credentials.key_path, ca, device,
                         reconnect_min_s=1, reconnect_max_s=2)
        )
        self.link.connect()
        self.seq = 0
        self.last_payload = b""

    def predict(self, label: str, *, seq: int | None = None, ts: float | None = None, device: str | None = None) -> int:
        if seq is None:
            self.seq += 1
            seq = self.seq
        device = device or self.device
        message = prediction_dict(device, seq, time.time() if ts is None else ts, label, 0.9, [(label, 0.9)], "m-1")
        self.last_payload = encode(message)
        self.raw(predictions_topic(device), self.last_payload)
        return seq

    def repeat_last(self) -> None:
        """Send the last prediction again, byte for byte, as a QoS 1 redelivery does."""
        self.raw(predictions_topic(self.device), self.last_payload)

    def status(self, state: str) -> None:
        self.raw(status_topic(self.device), encode(status_dict(self.device, time.time(), state)))

    def raw(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.link.publish(topic, payload, retain=retain).result(5)

    def close(self) -> None:
        self.link.disconnect()


@pytest.fixture
def camera(broker: LocalBroker, pki: LocalPki) -> Iterator[Camera]:
    device = unique_client_id("cam")
    cam = Camera(broker, issue_client(pki, device), pki.ca_path, device)
    yield cam
    cam.close()


class SubscriberProcess:
    """`python -m device.pi_subscriber` in a child process, observed through its --events file."""

    def __init__(self, folder: Path, broker: LocalBroker, pki: LocalPki, *extra: str,
                 credentials: KeyPair | None = None, client_id: str | None = None) -> None:
        self.client_id = client_id or unique_client_id("pi")
        credentials = credentials or issue_client(pki, self.client_id)
        run = next(_client_numbers)  # a restarted subscriber keeps its client id but gets fresh files
        self.events_path = folder / f"events-{self.client_id}-{run}.jsonl"
        self.stderr_path = folder / f"stderr-{self.client_id}-{run}.txt"
        self.args = subscriber_command(broker, credentials, pki.ca_path, self.client_id, config_dir=folder,
                                       events_path=self.events_path, extra=extra)
        self._tail = EventTail(self.events_path)
        self._offset = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SubscriberProcess:
        with open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(self.args, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
        return self

    def events(self) -> list[Event]:
        self._tail.poll()
        return list(self._tail.events)

    def wait_for(self, match: Callable[[Event], bool], timeout: float = 10.0, what: str = "event") -> Event:
        """The first event after the previously waited-for one that matches."""
        found: list[Event] = []

        def matched(events: list[Event]) -> bool:
            for index in range(self._offset, len(events)):
                if match(events[index]):
                    self._offset = index + 1
                    found.append(events[index])
                    return True
            return False

        def exited() -> bool:
            return self.process is not None and self.process.poll() is not None

        if self._tail.wait_until(matched, timeout, gone=exited):
            return found[0]
        raise AssertionError(f"no {what} within {timeout}s; events: {self.events()}\nstderr: {self.stderr()}")

    def wait_event(self, name: str, timeout: float = 10.0, **details: Any) -> Event:
        return self.wait_for(
            lambda e: e["event"] == name and all(e.get(k) == v for k, v in details.items()),
            timeout, f"{name} {details}",
        )

    def wait_ready(self) -> SubscriberProcess:
        self.wait_event("subscribed", timeout=15)
        return self

    def stop(self, timeout: float = 10.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path.exists() else ""

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def start_subscriber(
    tmp_path: Path, broker: LocalBroker, pki: LocalPki, emu_screen: None
) -> Iterator[Callable[..., SubscriberProcess]]:
    started: list[SubscriberProcess] = []

    def start(*extra: str, target: LocalBroker | None = None, wait: bool = True, **kwargs: Any) -> SubscriberProcess:
        process = SubscriberProcess(tmp_path, target or broker, pki, *extra, **kwargs).start()
        started.append(process)
        return process.wait_ready() if wait else process

    yield start
    for process in started:
        try:
            process.stop(timeout=5)  # the way systemd stops it, so it tidies up after itself
        finally:
            process.kill()
