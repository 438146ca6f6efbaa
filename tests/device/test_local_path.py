"""The local path end to end (issue 16): the subscriber hears the camera through the "cloud" broker and
through the camera core's own broker, found by Greengrass discovery, and keeps the right bin on the
sense_emu screen whichever path is down.

Two mosquitto brokers with their own CAs (testbed.two_paths), the discovery endpoint written from
the documentation (testbed.discovery_server) and parsed by awsiotsdk's own DiscoveryClient, the
subscriber run as systemd runs it, the screen read back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.pi_subscriber import patterns
from device.pi_subscriber.config import DEFAULT_BINS
from testbed.emu_screen import as_rgb565, read_emu_screen
from testbed.local_broker import LocalBroker
from testbed.local_pki import issue_client, make_pki
from testbed.two_paths import DualPublisher, TwoPaths

from .conftest import SubscriberProcess, unique_client_id

OFFLINE_AFTER_S = 3.0  # short, so an outage longer than it would show the red mark if a path were missed
HEARTBEAT_S = 0.5
PACE_S = 1.0  # a camera's rhythm during an outage: 4 decisions and heartbeats span more than OFFLINE_AFTER_S
PATH_TIMEOUT_S = 40.0  # the CRT reconnects with backoff once a broker is back


@pytest.fixture(scope="module")
def two_paths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoPaths]:
    with TwoPaths(tmp_path_factory.mktemp("two-paths")) as paths:
        yield paths


@pytest.fixture
def paths(two_paths: TwoPaths) -> TwoPaths:
    two_paths.ensure_up()  # whatever the previous test took down
    return two_paths


@pytest.fixture
def camera(paths: TwoPaths) -> Iterator[DualPublisher]:
    """A camera that also sends its status heartbeat every HEARTBEAT_S, as the component does, on both paths."""
    publisher = paths.publisher(unique_client_id("trash-sorter-cam"))
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_S):
            publisher.status()

    beating = threading.Thread(target=heartbeat, daemon=True)
    beating.start()
    yield publisher
    stop.set()
    beating.join(5)
    publisher.close()


@pytest.fixture
def subscribers() -> Iterator[list[SubscriberProcess]]:
    started: list[SubscriberProcess] = []
    yield started
    for process in started:
        try:
            process.stop(timeout=5)
        finally:
            process.kill()


def start(paths: TwoPaths, folder: Path, thing: str, started: list[SubscriberProcess]) -> SubscriberProcess:
    credentials = paths.pi_identity(thing)
    process = SubscriberProcess(
        folder, paths.cloud, paths.cloud_pki, *paths.subscriber_flags(folder / "discovery.json"),
        "--offline-after", str(OFFLINE_AFTER_S), "--idle-after", "60", "--joystick", "off",
        credentials=credentials, client_id=thing,
    ).start()
    started.append(process)
    return process


def arrow(label: str) -> patterns.Frame:
    style = DEFAULT_BINS[label]
    return patterns.arrow(style.direction, style.colour)


def shown(process: SubscriberProcess, device: str) -> list[dict[str, object]]:
    return [e for e in process.events() if e["event"] == "shown" and e["device"] == device]


def show_and_check(process: SubscriberProcess, camera: DualPublisher, label: str, *, path: str,
                   mark: str | None) -> None:
    """A decision reaches the screen over `path`, and the screen is its arrow with `mark` (and no red)."""
    seq, _ = camera.predict(label)
    process.wait_event("shown", seq=seq, label=label, device=camera.device, path=path, timeout=10)
    expected = arrow(label) if mark is None else patterns.with_path_mark(arrow(label), mark)
    frame, _ = read_emu_screen()
    assert frame == as_rgb565(expected)


def test_with_both_paths_up_every_decision_shows_once(
    paths: TwoPaths, camera: DualPublisher, subscribers: list[SubscriberProcess], tmp_path: Path, emu_screen: None
) -> None:
    sub = start(paths, tmp_path, unique_client_id("trash-sorter-pi"), subscribers)
    sub.wait_event("paths", summary="both", timeout=20)
    labels = ["compost", "recycling", "landfill", "compost", "landfill"]
    seqs = [camera.predict(label)[0] for label in labels]
    sub.wait_for(lambda e: e["event"] == "shown" and e.get("seq") == seqs[-1], what="the last decision")
    sub.wait_for(lambda e: e["event"] == "ignored" and e.get("kind") == "duplicate", what="a second copy")

    shown_seqs = [e["seq"] for e in shown(sub, camera.device)]
    assert shown_seqs == seqs  # each once, in order
    duplicates = [e for e in sub.events() if e["event"] == "ignored" and e["kind"] == "duplicate"]
    assert {e["path"] for e in shown(sub, camera.device)} | {e["path"] for e in duplicates} == {"cloud", "local"}
    frame, _ = read_emu_screen()
    assert frame == as_rgb565(arrow("landfill"))  # both paths up: no mark
    assert paths.discovery.requests[-1] == sub.client_id  # it asked for itself
    cached = json.loads((tmp_path / "discovery.json").read_text())
    assert cached["GGGroups"][0]["Cores"][0]["Connectivity"][0]["PortNumber"] == paths.core.port


def test_either_path_down_the_other_keeps_the_right_bin_on_screen(
    paths: TwoPaths, camera: DualPublisher, subscribers: list[SubscriberProcess], tmp_path: Path, emu_screen: None
) -> None:
    sub = start(paths, tmp_path, unique_client_id("trash-sorter-pi"), subscribers)
    sub.wait_event("paths", summary="both", timeout=20)
    show_and_check(sub, camera, "compost", path="cloud", mark=None)

    paths.cloud.kill()  # the internet is down
    sub.wait_event("paths", summary="local only", timeout=10)
    for label in ("recycling", "landfill", "compost", "recycling"):  # longer than offline_after
        show_and_check(sub, camera, label, path="local", mark="local")
        time.sleep(PACE_S)
    outage_screens = [e["caption"] for e in sub.events() if e["event"] == "screen"]
    assert not [caption for caption in outage_screens if "offline" in caption]  # never the red mark

    paths.cloud.start()  # the internet is back
    sub.wait_event("paths", summary="both", timeout=PATH_TIMEOUT_S)
    paths.core.kill()  # the camera's broker is gone (a nucleus restart, say)
    sub.wait_event("paths", summary="cloud only", timeout=10)
    for label in ("landfill", "compost", "recycling", "landfill"):
        show_and_check(sub, camera, label, path="cloud", mark="cloud")
        time.sleep(PACE_S)
    paths.core.start()
    sub.wait_event("paths", summary="both", timeout=PATH_TIMEOUT_S)
    seq, _ = camera.predict("compost")
    sub.wait_event("shown", seq=seq, label="compost")
    frame, _ = read_emu_screen()
    assert frame == as_rgb565(arrow("compost"))  # both back: the mark is gone
    assert not [e for e in sub.events() if e["event"] == "screen" and "offline" in e["caption"]]


def test_a_restart_without_internet_finds_the_camera_s_broker_from_the_cache(
    paths: TwoPaths, camera: DualPublisher, subscribers: list[SubscriberProcess], tmp_path: Path, emu_screen: None
) -> None:
    thing = unique_client_id("trash-sorter-pi")
    first = start(paths, tmp_path, thing, subscribers)
    first.wait_event("discovered", cached=False, timeout=20)
    first.wait_event("subscribed", path="local", timeout=20)
    assert first.stop() == 0

    paths.cloud.kill()  # no internet: neither IoT Core nor the discovery endpoint answers
    paths.discovery.stop()
    second = start(paths, tmp_path, thing, subscribers)
    second.wait_event("discovered", cached=True, timeout=30)
    second.wait_event("subscribed", path="local", timeout=20)
    show_and_check(second, camera, "recycling", path="local", mark="local")
    assert not [e for e in second.events() if e["event"] == "subscribed" and e["path"] == "cloud"]


def test_a_broker_that_the_discovered_ca_did_not_sign_is_refused_and_the_cloud_path_goes_on(
    paths: TwoPaths, camera: DualPublisher, subscribers: list[SubscriberProcess], tmp_path: Path, emu_screen: None
) -> None:
    # An impostor on the address discovery gave: it admits the Pi, but its certificate is from another CA.
    impostor = LocalBroker(make_pki(tmp_path / "impostor", ca_name="not the camera's CA"),
                           client_ca=paths.cloud_pki.ca_path)
    with impostor:
        thing = unique_client_id("trash-sorter-pi")
        credentials = issue_client(paths.cloud_pki, thing)
        paths.discovery.associate(thing, core_thing=paths.core_thing, core_ca=paths.core_pki.ca_path,
                                  addresses=[(impostor.host, impostor.port)])
        sub = SubscriberProcess(
            tmp_path, paths.cloud, paths.cloud_pki, *paths.subscriber_flags(tmp_path / "discovery.json"),
            "--joystick", "off", credentials=credentials, client_id=thing,
        ).start()
        subscribers.append(sub)
        sub.wait_event("subscribed", path="cloud", timeout=20)
        unreachable = sub.wait_event("local-unreachable", timeout=30)
        assert "did not sign" in str(unreachable["error"])  # the CA from discovery, checked
        show_and_check(sub, camera, "landfill", path="cloud", mark=None)  # no local path in use: no mark
        assert not [e for e in sub.events() if e["event"] == "subscribed" and e["path"] == "local"]
