"""The joystick corrects the decision on the screen: the logic, the rotation against sense_emu's own
pixel mapping, and the whole round trip (emulated stick -> subscriber -> broker -> corrections topic).

The emulated stick is driven as sense_emu's GUI drives it: the GUI owns a sense_emu.stick.StickServer
and sends each press as one evdev record (SenseStick.EVENT_FORMAT: seconds, microseconds, EV_KEY,
key code, state) to every client that said hello on the stick socket (gui.py, `_stick_send`).
"""

from __future__ import annotations

import json
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sense_emu.stick import SenseStick, StickServer, stick_address

from device.mqtt_link import MqttLink, MqttSettings
from device.pi_subscriber import patterns
from device.pi_subscriber.config import DEFAULT_BINS, BinStyle
from device.pi_subscriber.joystick import (
    ACK_S,
    Corrected,
    CorrectionDesk,
    NothingToCorrect,
    StickPoller,
    bin_toward,
    display_direction,
)
from device.pi_subscriber.screen_state import Screen
from sorter_common.correction import parse_correction
from sorter_common.topics import all_corrections_filter, corrections_topic
from testbed.emu_screen import as_rgb565, read_emu_screen
from testbed.local_broker import LocalBroker
from testbed.local_pki import LocalPki, issue_client

from .conftest import Camera, SubscriberProcess, unique_client_id

KEYS = {
    "up": SenseStick.KEY_UP, "down": SenseStick.KEY_DOWN, "left": SenseStick.KEY_LEFT,
    "right": SenseStick.KEY_RIGHT, "middle": SenseStick.KEY_ENTER,
}
CLASSES = tuple(sorted(DEFAULT_BINS))


def desk(rotation: int = 0, window_s: float = 30.0) -> CorrectionDesk:
    return CorrectionDesk(DEFAULT_BINS, rotation, window_s, "pi-1")


# --- the logic -------------------------------------------------------------------------------

def test_a_push_toward_a_bin_corrects_the_decision_on_the_screen() -> None:
    corrections = desk()
    corrections.on_decision("cam-1", 41, "landfill", at=100.0)
    outcome = corrections.on_press("left", at=103.0, wall_ts=1_700_000_000.0)  # recycling stands left
    assert isinstance(outcome, Corrected)
    assert outcome.correction == ("cam-1", 41, "recycling", "landfill", 1_700_000_000.0, "pi-1")
    # One correction per decision: a second press has nothing to correct.
    assert isinstance(corrections.on_press("down", at=104.0, wall_ts=0.0), NothingToCorrect)


def test_the_middle_confirms_and_an_unsure_decision_can_only_be_corrected() -> None:
    corrections = desk()
    corrections.on_decision("cam-1", 1, "compost", at=0.0)
    confirmed = corrections.on_press("middle", at=1.0, wall_ts=5.0)
    assert isinstance(confirmed, Corrected) and confirmed.correction.confirms
    corrections.on_decision("cam-1", 2, "unsure", at=2.0)
    assert corrections.on_press("middle", at=3.0, wall_ts=6.0) == NothingToCorrect("nothing to confirm")
    corrected = corrections.on_press("down", at=3.5, wall_ts=6.5)
    assert isinstance(corrected, Corrected) and corrected.correction[2:4] == ("compost", "unsure")


def test_no_recent_decision_or_no_bin_that_way_is_nothing_to_correct() -> None:
    corrections = desk(window_s=30.0)
    assert corrections.on_press("left", at=0.0, wall_ts=0.0) == NothingToCorrect("no decision on the screen")
    corrections.on_decision("cam-1", 1, "compost", at=10.0)
    assert corrections.on_press("left", at=40.5, wall_ts=0.0) == NothingToCorrect("no decision on the screen")
    corrections.on_decision("cam-1", 2, "compost", at=50.0)
    assert corrections.on_press("up", at=51.0, wall_ts=0.0) == NothingToCorrect("no bin up")  # nothing stands up


def test_the_answer_is_a_tick_in_the_bin_colour_then_the_screen_returns() -> None:
    corrections = desk()
    normal = Screen(patterns.arrow("right", DEFAULT_BINS["landfill"].colour), False, "landfill (right)")
    corrections.on_decision("cam-1", 1, "landfill", at=0.0)
    corrections.on_press("left", at=1.0, wall_ts=0.0)
    shown = corrections.overlay(normal, 1.1)
    assert shown.frame == patterns.tick(DEFAULT_BINS["recycling"].colour) and shown.caption == "corrected: recycling"
    assert corrections.overlay(normal, 1.0 + ACK_S) == normal
    corrections.on_press("left", at=5.0, wall_ts=0.0)  # corrected already: the cross over the normal frame
    crossed = corrections.overlay(normal, 5.1)
    assert crossed.frame == patterns.with_nothing_mark(normal.frame) and crossed.frame != normal.frame
    assert corrections.overlay(normal, 6.0) == normal


def test_diagonal_bins_are_reached_from_their_side_when_that_is_unambiguous() -> None:
    bins = {
        "a": BinStyle((1, 1, 1), "up-left"), "b": BinStyle((2, 2, 2), "down-left"), "c": BinStyle((3, 3, 3), "right"),
    }
    assert bin_toward("up", bins) == "a"
    assert bin_toward("down", bins) == "b"
    assert bin_toward("left", bins) is None  # both diagonal bins are on the left: ambiguous
    assert bin_toward("right", bins) == "c"


# --- the rotation, against sense_emu's own pixel mapping --------------------------------------

@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_push_toward_where_an_arrow_is_drawn_selects_that_arrow_direction(rotation: int, emu_screen: None) -> None:
    """Draw each arrow with the HAT rotated; find which physical edge lit up; push that way."""
    from sense_emu import SenseHat
    from sense_emu.lock import EmulatorLock

    lock = EmulatorLock("sense_emu")
    mine = not lock.wait(0)
    if mine:
        lock.acquire()
    try:
        hat = SenseHat()
        hat.set_rotation(rotation, redraw=False)
        for drawn in ("up", "down", "left", "right"):
            hat.set_pixels(list(patterns.idle({"x": BinStyle((255, 255, 255), drawn)})))
            frame, _ = read_emu_screen()  # the board's own pixel order, whatever the rotation
            lit = {(i % 8, i // 8) for i, colour in enumerate(frame) if colour != (0, 0, 0)}
            physical = {frozenset({(3, 0), (4, 0)}): "up", frozenset({(3, 7), (4, 7)}): "down",
                        frozenset({(0, 3), (0, 4)}): "left", frozenset({(7, 3), (7, 4)}): "right"}[frozenset(lit)]
            assert display_direction(physical, rotation) == drawn
        hat.clear()
    finally:
        if mine and lock.mine:
            lock.release()
        # sense_emu's SenseHat leaves a stick client socket named after this process: remove the name.
        (Path(stick_address()[2]).parent / f"rpi-sense-emu-client-{os.getpid()}").unlink(missing_ok=True)


# --- the round trip on the emulator and the broker --------------------------------------------

@pytest.fixture
def stick_server(emu_screen: None) -> Iterator[StickServer]:
    server = StickServer()  # what sense_emu_gui starts; clients find it at stick_address()
    yield server
    server.close()


def press(server: StickServer, direction: str) -> None:
    """One press and release, packed as gui.py's _stick_send packs them."""
    for state in (SenseStick.STATE_PRESS, SenseStick.STATE_RELEASE):
        seconds = time.time()
        server.send(struct.pack(SenseStick.EVENT_FORMAT, int(seconds), int(seconds % 1 * 1e6),
                                SenseStick.EV_KEY, KEYS[direction], state))


class CorrectionListener:
    """A cloud-side listener on every camera's corrections topic."""

    def __init__(self, broker: LocalBroker, pki: LocalPki) -> None:
        client_id = unique_client_id("listener")
        credentials = issue_client(pki, client_id)
        self.received: list[tuple[str, bytes]] = []
        self._arrived = threading.Condition()
        self.link = MqttLink(
            MqttSettings(broker.host, broker.port, credentials.cert_path, credentials.key_path, pki.ca_path, client_id),
            on_message=self._on_message,
        )
        self.link.connect()
        self.link.subscribe([all_corrections_filter()])

    def _on_message(self, topic: str, payload: bytes) -> None:
        with self._arrived:
            self.received.append((topic, payload))
            self._arrived.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[tuple[str, bytes]]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)


@pytest.fixture
def listener(broker: LocalBroker, pki: LocalPki) -> Iterator[CorrectionListener]:
    listening = CorrectionListener(broker, pki)
    yield listening
    listening.link.disconnect()


def wait_until_stick_connected(sub: SubscriberProcess, server: StickServer, camera: Camera) -> None:
    """sense_emu's client says hello once a second: press the middle with nothing shown until answered."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        press(server, "middle")
        try:
            sub.wait_event("nothing-to-correct", timeout=0.5)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the subscriber never heard the emulated stick: {sub.events()}")


def test_a_push_on_the_emulated_stick_reaches_the_camera_topic_and_the_matrix_answers(
    start_subscriber: Callable[..., SubscriberProcess], camera: Camera, stick_server: StickServer,
    listener: CorrectionListener, tmp_path: Path,
) -> None:
    sub = start_subscriber()
    wait_until_stick_connected(sub, stick_server, camera)
    seq = camera.predict("landfill")
    sub.wait_event("shown", seq=seq, label="landfill")

    press(stick_server, "left")  # recycling stands to the left
    sub.wait_event("corrected", camera=camera.device, seq=seq, label="recycling", shown="landfill")
    assert read_emu_screen()[0] == as_rgb565(patterns.tick(DEFAULT_BINS["recycling"].colour))
    sub.wait_event("correction-published", seq=seq)
    topic, payload = listener.wait(1)[-1]
    assert topic == corrections_topic(camera.device)
    correction = parse_correction(payload, CLASSES)
    assert correction[:4] == (camera.device, seq, "recycling", "landfill")
    assert correction.by == sub.client_id and abs(correction.ts - time.time()) < 10

    time.sleep(ACK_S + 0.5)  # then back to the decision's arrow
    assert read_emu_screen()[0] == as_rgb565(patterns.arrow("right", DEFAULT_BINS["landfill"].colour))

    press(stick_server, "down")  # the same decision again: nothing to correct, nothing published
    assert sub.wait_event("nothing-to-correct")["reason"] == "this decision was corrected already"
    time.sleep(0.5)
    assert len(listener.received) == 1
    assert json.loads(payload)["v"] == 1


def test_joystick_off_publishes_nothing(
    start_subscriber: Callable[..., SubscriberProcess], camera: Camera, stick_server: StickServer,
    listener: CorrectionListener,
) -> None:
    sub = start_subscriber("--joystick", "off")
    seq = camera.predict("compost")
    sub.wait_event("shown", seq=seq)
    for _ in range(3):  # long enough for sense_emu's hello
        press(stick_server, "left")
        time.sleep(0.6)
    assert not [event for event in sub.events() if event["event"] in ("corrected", "nothing-to-correct")]
    assert listener.received == []


def test_no_stick_no_corrections() -> None:
    assert StickPoller(None).presses() == [] and not StickPoller.of(object()).available


def test_the_joystick_setting_is_on_by_default_and_refuses_anything_but_on_or_off(tmp_path: Path) -> None:
    from device.pi_subscriber.config import SubscriberConfigError, load_config

    base = ["--config-dir", str(tmp_path), "--endpoint", "127.0.0.1"]
    assert load_config(base, environ={}).joystick
    assert not load_config([*base, "--joystick", "off"], environ={}).joystick
    (tmp_path / "subscriber.toml").write_text("joystick = false\n")
    assert not load_config(base, environ={}).joystick
    with pytest.raises(SubscriberConfigError, match="'joystick' = 'maybe'"):
        load_config([*base, "--joystick", "maybe"], environ={})
