"""The subscriber end to end: a real mosquitto with mutual TLS, awsiotsdk, and the sense_emu screen read back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from device.pi_subscriber import patterns
from device.pi_subscriber.config import DEFAULT_BINS, OFFLINE_COLOUR, UNSURE_COLOUR
from sorter_common.message import MAX_MESSAGE_BYTES, encode, prediction_dict
from sorter_common.topics import predictions_topic
from testbed.emu_screen import as_rgb565, read_emu_screen
from testbed.local_broker import LocalBroker
from testbed.local_pki import LocalPki, issue_client, make_untrusted_client

from .conftest import Camera, SubscriberProcess, unique_client_id

StartSubscriber = Callable[..., SubscriberProcess]


def screen() -> patterns.Frame:
    return read_emu_screen()[0]


def lit(frame: patterns.Frame) -> set[tuple[int, int]]:
    return {(i % 8, i // 8) for i, colour in enumerate(frame) if colour != (0, 0, 0)}


def colours(frame: patterns.Frame) -> set[tuple[int, int, int]]:
    return {colour for colour in frame if colour != (0, 0, 0)}


def show(sub: SubscriberProcess, camera: Camera, label: str) -> patterns.Frame:
    seq = camera.predict(label)
    sub.wait_event("shown", seq=seq, label=label)
    return screen()


def test_each_label_points_toward_its_bin_in_its_colour(start_subscriber: StartSubscriber, camera: Camera) -> None:
    sub = start_subscriber()

    recycling = show(sub, camera, "recycling")  # default: blue, bin to the left
    assert colours(recycling) == {(0, 88, 248)}  # (0, 90, 255) as the HAT's RGB565 stores it
    assert (0, 3) in lit(recycling) and (3, 0) in lit(recycling) and (4, 0) not in lit(recycling)
    assert recycling == as_rgb565(patterns.arrow("left", DEFAULT_BINS["recycling"].colour))

    compost = show(sub, camera, "compost")  # green, bin below
    assert colours(compost) == {(0, 200, 40)}
    assert (0, 4) in lit(compost) and (0, 3) not in lit(compost) and (3, 7) in lit(compost)
    assert compost == as_rgb565(patterns.arrow("down", DEFAULT_BINS["compost"].colour))

    landfill = show(sub, camera, "landfill")  # grey, bin to the right
    assert colours(landfill) == {(136, 140, 136)}
    assert (4, 0) in lit(landfill) and (3, 0) not in lit(landfill)
    assert landfill == recycling_mirrored(recycling, (136, 140, 136))

    unsure = show(sub, camera, "unsure")
    assert colours(unsure) == {as_rgb565((UNSURE_COLOUR,))[0]}
    assert unsure == as_rgb565(patterns.question_mark())
    assert (3, 6) not in lit(unsure) and (3, 7) in lit(unsure)  # the dot under the "?"


def recycling_mirrored(frame: patterns.Frame, colour: tuple[int, int, int]) -> patterns.Frame:
    """The left arrow flipped left-right and recoloured: what a right arrow must be."""
    rows = [frame[y * 8:(y + 1) * 8][::-1] for y in range(8)]
    return tuple(colour if pixel != (0, 0, 0) else pixel for row in rows for pixel in row)


def test_bad_messages_are_logged_once_per_kind_counted_and_never_shown(
    start_subscriber: StartSubscriber, camera: Camera
) -> None:
    sub = start_subscriber()
    shown = show(sub, camera, "compost")
    topic = predictions_topic(camera.device)
    wrong_version = prediction_dict(camera.device, 99, time.time(), "landfill", 0.9, [], "m")
    wrong_version["v"] = 2
    bad = {
        "malformed": [b"{not json", b'{"v": 1, "device": "cam"}'],
        "unknown-label": [encode(prediction_dict(camera.device, 100, time.time(), "glass", 0.9, [], "m"))] * 2,
        "oversized": [b"x" * (MAX_MESSAGE_BYTES + 1), b"{" + b" " * MAX_MESSAGE_BYTES + b"}"],
        "unsupported-version": [encode(wrong_version)] * 2,
    }
    for kind, payloads in bad.items():
        for number, payload in enumerate(payloads, start=1):
            camera.raw(topic, payload)
            sub.wait_event("ignored", kind=kind, count=number)
    assert screen() == shown  # nothing bad reached the display

    after = show(sub, camera, "recycling")  # and the subscriber is still alive and drawing
    assert colours(after) == {(0, 88, 248)}
    assert sub.stop() == 0
    log = sub.stderr()
    for kind in bad:
        assert log.count(f"ignoring {kind} message") == 1, log
    stopped = sub.events()[-1]
    assert stopped["event"] == "stopped"
    assert stopped["counts"] == {
        "decision": 2, "malformed": 2, "unknown-label": 2, "oversized": 2, "unsupported-version": 2,
    }
    assert "Traceback" not in log


def test_duplicates_show_once_and_stale_or_out_of_order_never(
    start_subscriber: StartSubscriber, camera: Camera
) -> None:
    sub = start_subscriber()
    first = show(sub, camera, "landfill")
    seq = camera.seq
    camera.repeat_last()  # QoS 1 redelivery: same camera, same seq
    camera.predict("compost", seq=seq - 1, ts=time.time() - 1)  # sent before, arrived after
    camera.predict("recycling", ts=time.time() - 60)  # queued during an outage, too old to act on
    sub.wait_event("ignored", kind="duplicate")
    sub.wait_event("ignored", kind="out-of-order")
    sub.wait_event("ignored", kind="stale")
    assert screen() == first

    fresh = show(sub, camera, "compost")
    assert colours(fresh) == {(0, 200, 40)}
    shown_seqs = [e["seq"] for e in sub.events() if e["event"] == "shown"]
    assert shown_seqs == sorted(set(shown_seqs))  # each once, in order
    assert len(shown_seqs) == 2


def test_idle_legend_after_a_quiet_spell_then_offline_mark_until_a_heartbeat(
    start_subscriber: StartSubscriber, camera: Camera
) -> None:
    # The idle legend comes 0.5 s after the last message and the offline mark 4 s after it: each screen
    # is read back while it still has seconds to live, even on a loaded machine.
    sub = start_subscriber("--idle-after", "0.5", "--offline-after", "4")
    show(sub, camera, "recycling")
    sub.wait_event("screen", caption="idle", timeout=3)
    idle = screen()
    assert idle == as_rgb565(patterns.idle(DEFAULT_BINS))
    assert idle[3 * 8 + 0] == (0, 88, 248) and idle[3 * 8 + 7] == (136, 140, 136) and idle[7 * 8 + 3] == (0, 200, 40)
    assert len(lit(idle)) == 6

    sub.wait_event("screen", caption="idle, camera offline", timeout=8)
    offline = screen()
    red = as_rgb565((OFFLINE_COLOUR,))[0]
    assert [offline[y * 8 + x] for x, y in ((3, 3), (4, 3), (3, 4), (4, 4))] == [red] * 4
    assert len(lit(offline)) == 10

    camera.status("running")  # a heartbeat: the camera is back
    sub.wait_event("screen", caption="idle", timeout=3)
    assert screen() == idle
    camera.status("stopping")  # the camera says it is going away: offline at once
    sub.wait_event("screen", caption="idle, camera offline", timeout=3)


def test_dim_mode_uses_the_hat_low_light_and_sigterm_clears_the_display(
    start_subscriber: StartSubscriber, camera: Camera
) -> None:
    sub = start_subscriber("--dim", "on")
    frame = show(sub, camera, "unsure")
    pixels, low_light = read_emu_screen()
    assert low_light
    assert colours(frame) == {as_rgb565((UNSURE_COLOUR,))[0]}  # colours kept: the HAT's gamma does the dimming

    assert sub.stop() == 0
    pixels, low_light = read_emu_screen()
    assert pixels == patterns.blank()
    assert not low_light
    assert sub.events()[-1]["event"] == "stopped"
    assert "Traceback" not in sub.stderr()


def test_broker_killed_and_restarted_mid_stream_then_the_next_message_is_shown(
    start_subscriber: StartSubscriber, pki: LocalPki, camera: Camera
) -> None:
    with LocalBroker(pki) as own_broker:
        sub = start_subscriber(target=own_broker)
        credentials = issue_client(pki, unique_client_id("outage-cam"))
        cam = Camera(own_broker, credentials, pki.ca_path, camera.device)
        seq = cam.predict("compost")
        sub.wait_event("shown", seq=seq)

        own_broker.kill()  # every session on it is lost
        sub.wait_event("interrupted")
        time.sleep(0.5)  # the subscriber's first reconnect attempt fails: the backoff path runs
        own_broker.start()
        sub.wait_event("resumed", timeout=15)
        sub.wait_event("resubscribed", ok=True)

        cam.close()
        cam = Camera(own_broker, credentials, pki.ca_path, camera.device)  # the camera reconnects too
        seq = cam.predict("recycling")
        sub.wait_event("shown", seq=seq, label="recycling")
        assert colours(screen()) == {(0, 88, 248)}
        cam.close()
        assert sub.stop() == 0


def test_persistent_session_delivers_what_arrived_while_the_subscriber_was_away(
    start_subscriber: StartSubscriber, camera: Camera
) -> None:
    sub = start_subscriber()
    show(sub, camera, "landfill")
    assert sub.stop() == 0

    seq = camera.predict("compost")  # the Pi is rebooting: the broker queues it (QoS 1, session kept)
    again = start_subscriber(client_id=sub.client_id, wait=False)
    subscribed = again.wait_event("subscribed", timeout=15)
    assert subscribed["session_present"] is True
    again.wait_event("shown", seq=seq, label="compost")
    assert colours(screen()) == {(0, 200, 40)}


def test_untrusted_client_certificate_gives_one_clear_error(start_subscriber: StartSubscriber, tmp_path: Path) -> None:
    rogue = make_untrusted_client(tmp_path / "rogue", "stolen-pi")
    sub = start_subscriber(credentials=rogue, wait=False)
    assert sub.process is not None
    assert sub.process.wait(20) == 2
    errors = [line for line in sub.stderr().splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, sub.stderr()
    assert "does not trust the client certificate" in errors[0]
    assert str(rogue.cert_path) in errors[0]
    assert "Traceback" not in sub.stderr()
    assert screen() == patterns.blank()  # no stale arrow left behind
