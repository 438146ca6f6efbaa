"""What the matrix shows over time, on a fake clock: decision, idle, offline, dim."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

from device.pi_subscriber import patterns
from device.pi_subscriber.config import DEFAULT_BINS, DimSchedule, SubscriberConfig, parse_dim
from device.pi_subscriber.screen_state import ScreenState

NOON = datetime.time(12, 0)
CONFIG = SubscriberConfig(
    endpoint="127.0.0.1", client_id="pi", cert=Path("c"), key=Path("k"), ca=Path("a"),
    idle_after_s=30, offline_after_s=90,
)


def test_a_decision_shows_until_idle_after_then_the_legend() -> None:
    state = ScreenState(CONFIG, started_at=0)
    assert state.screen(1, NOON).caption == "idle"
    state.on_decision("recycling", at=10)
    shown = state.screen(39.9, NOON)
    assert shown.frame == patterns.arrow("left", DEFAULT_BINS["recycling"].colour)
    assert shown.caption == "recycling (left)"
    assert state.screen(40.1, NOON).frame == patterns.idle(DEFAULT_BINS)
    state.on_decision("unsure", at=50)
    assert state.screen(51, NOON).frame == patterns.question_mark()


def test_offline_mark_after_silence_and_when_the_camera_says_it_stops() -> None:
    state = ScreenState(CONFIG, started_at=0)
    assert not state.offline(89)
    assert state.offline(91)  # never heard from since start-up
    assert state.screen(91, NOON).frame == patterns.with_offline_mark(patterns.idle(DEFAULT_BINS))
    state.on_heartbeat(95, "running")
    assert state.screen(96, NOON).caption == "idle"
    state.on_heartbeat(97, "error")
    assert state.offline(98)
    state.on_decision("compost", at=99)  # a decision means the camera works again
    assert not state.offline(100)
    assert state.screen(100 + 90.5, NOON).caption == "idle, camera offline"


def test_dim_follows_the_schedule_including_across_midnight() -> None:
    night = dataclasses.replace(CONFIG, dim=parse_dim("21:30-07:00"))
    state = ScreenState(night, started_at=0)
    assert state.screen(1, datetime.time(22, 0)).low_light
    assert state.screen(1, datetime.time(6, 59)).low_light
    assert not state.screen(1, datetime.time(7, 0)).low_light
    assert not state.screen(1, NOON).low_light
    assert DimSchedule(start=datetime.time(13), end=datetime.time(14)).active(datetime.time(13, 30))
    assert ScreenState(dataclasses.replace(CONFIG, dim=parse_dim("on")), 0).screen(1, NOON).low_light
