"""What should be on the matrix now: the latest decision, the idle legend, the offline mark, dim mode.

Pure logic on a monotonic clock passed in by the caller, so every transition is unit-tested
without waiting: a decision shows for idle_after seconds, then the idle legend; the offline mark
appears when no camera has been heard from for offline_after seconds or the last camera heard
said it is stopping or failed.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from . import patterns
from .config import SubscriberConfig

# Camera states after which no more decisions are coming.
_DOWN_STATES = ("error", "stopping")


@dataclass(frozen=True)
class Screen:
    """One complete picture: the frame, whether low-light is on, and a caption for terminals/logs."""

    frame: patterns.Frame
    low_light: bool
    caption: str


class ScreenState:
    def __init__(self, config: SubscriberConfig, started_at: float) -> None:
        self._config = config
        self._decision: tuple[str, float] | None = None  # label, when it arrived
        # Start the offline clock at start-up: a camera gets offline_after seconds to be heard.
        self._heard_at = started_at
        self._camera_down = False

    def on_decision(self, label: str, at: float) -> None:
        self._decision = (label, at)
        self.on_heartbeat(at, "running")

    def on_heartbeat(self, at: float, state: str) -> None:
        self._heard_at = max(self._heard_at, at)
        self._camera_down = state in _DOWN_STATES

    def offline(self, now: float) -> bool:
        return self._camera_down or now - self._heard_at > self._config.offline_after_s

    def screen(self, now: float, local_time: datetime.time) -> Screen:
        bins = self._config.bins
        if self._decision is not None and now - self._decision[1] <= self._config.idle_after_s:
            label = self._decision[0]
            frame = patterns.decision_frame(label, bins)
            style = bins.get(label)
            caption = f"{label} ({style.direction})" if style is not None else label
        else:
            frame, caption = patterns.idle(bins), "idle"
        if self.offline(now):
            frame, caption = patterns.with_offline_mark(frame), caption + ", camera offline"
        return Screen(frame=frame, low_light=self._config.dim.active(local_time), caption=caption)
