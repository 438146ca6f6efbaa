""""Wrong bin?": the Sense HAT joystick corrects the decision on the screen.

The arrows on the matrix point at the bins, so the stick speaks the same language: pushed toward
the bin the item really belongs in, it records a correction of the decision being shown; pressed
in the middle, it confirms the decision. The matrix answers with a tick in that bin's colour for
ACK_S seconds, then shows what it showed before. A press with nothing to correct (no decision on
the screen, or that decision was already corrected) gets a short white cross, nothing more.

Pure logic on clocks passed in by the caller (like screen_state), plus StickPoller, which reads
the stick of the real HAT (sense_hat) or of the emulator (sense_emu) without a thread of its own.

Directions: the HAT reports where the stick moved on the board; the matrix is drawn rotated by the
`rotation` setting (SenseHat.set_rotation). Both libraries rotate the pixels by a quarter turn
clockwise per 90 degrees and never rotate the stick, so a push is turned back counter-clockwise
before it is compared with the bins' directions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sorter_common.correction import Correction

from . import patterns
from .config import BinStyle
from .screen_state import Screen

log = logging.getLogger(__name__)

MIDDLE = "middle"
PRESSED = "pressed"  # sense_hat's InputEvent.action for a press (released and held are ignored)
ACK_S = 1.5  # how long the tick stays before the screen returns to normal
NOTHING_S = 0.8  # how long the "nothing to correct" cross stays
_COUNTER_CLOCKWISE = {"up": "left", "left": "down", "down": "right", "right": "up", MIDDLE: MIDDLE}


class Stick(Protocol):
    """What sense_hat.SenseStick and sense_emu.stick.SenseStick share: events since the last call."""

    def get_events(self) -> list[Any]: ...


def display_direction(stick_direction: str, rotation: int) -> str:
    """The direction on the matrix as drawn with set_rotation(rotation) of a push the HAT reports."""
    direction = stick_direction
    for _ in range((rotation // 90) % 4):
        direction = _COUNTER_CLOCKWISE.get(direction, direction)
    return direction


def bin_toward(direction: str, bins: Mapping[str, BinStyle]) -> str | None:
    """The bin standing toward a push: the one in exactly that direction, else the only diagonal one
    on that side (a bin up-left is reached by pushing up when no bin is up and none is up-right)."""
    exact = [bin_id for bin_id, style in bins.items() if style.direction == direction]
    if exact:
        return exact[0]
    sideways = [bin_id for bin_id, style in bins.items() if direction in style.direction.split("-")]
    return sideways[0] if len(sideways) == 1 else None


@dataclass(frozen=True)
class ShownDecision:
    camera: str
    seq: int
    label: str
    at: float  # monotonic time it was shown


@dataclass(frozen=True)
class Corrected:
    correction: Correction


@dataclass(frozen=True)
class NothingToCorrect:
    reason: str


PressOutcome = Corrected | NothingToCorrect


class CorrectionDesk:
    """Which decision a press corrects, and what the matrix shows in answer."""

    def __init__(self, bins: Mapping[str, BinStyle], rotation: int, window_s: float, by: str) -> None:
        self._bins = bins
        self._rotation = rotation
        self._window_s = window_s  # a decision can be corrected while it is on the screen
        self._by = by
        self._shown: ShownDecision | None = None
        self._corrected = False
        self._answer: tuple[patterns.Frame | None, str, float] | None = None  # frame (None: cross), caption, until

    def on_decision(self, camera: str, seq: int, label: str, at: float) -> None:
        self._shown = ShownDecision(camera, seq, label, at)
        self._corrected = False

    def on_press(self, stick_direction: str, at: float, wall_ts: float) -> PressOutcome:
        outcome = self._judge(display_direction(stick_direction, self._rotation), at, wall_ts)
        if isinstance(outcome, Corrected):
            self._corrected = True
            label = outcome.correction.label
            self._answer = (patterns.tick(self._bins[label].colour), f"corrected: {label}", at + ACK_S)
        else:
            self._answer = (None, f"nothing to correct ({outcome.reason})", at + NOTHING_S)
        return outcome

    def _judge(self, direction: str, at: float, wall_ts: float) -> PressOutcome:
        shown = self._shown
        if shown is None or at - shown.at > self._window_s:
            return NothingToCorrect("no decision on the screen")
        if self._corrected:
            return NothingToCorrect("this decision was corrected already")
        label = shown.label if direction == MIDDLE else bin_toward(direction, self._bins)
        if label is None or label not in self._bins:
            # The middle on an "unsure" decision, or a push where no bin stands.
            return NothingToCorrect(f"no bin {direction}" if direction != MIDDLE else "nothing to confirm")
        return Corrected(Correction(shown.camera, shown.seq, label, shown.label, wall_ts, self._by))

    def overlay(self, screen: Screen, now: float) -> Screen:
        """screen, or the answer to the last press while it lasts."""
        if self._answer is None:
            return screen
        frame, caption, until = self._answer
        if now >= until:
            self._answer = None
            return screen
        if frame is None:
            return Screen(patterns.with_nothing_mark(screen.frame), screen.low_light, f"{screen.caption}, {caption}")
        return Screen(frame, screen.low_light, caption)


class StickPoller:
    """Presses since the last poll, from the renderer's HAT; no stick (terminal display): none."""

    def __init__(self, stick: Stick | None) -> None:
        self._stick = stick

    @classmethod
    def of(cls, renderer: object) -> StickPoller:
        return cls(getattr(renderer, "stick", None))

    @property
    def available(self) -> bool:
        return self._stick is not None

    def presses(self) -> list[str]:
        if self._stick is None:
            return []
        try:
            events = self._stick.get_events()
        except (OSError, ValueError) as error:  # a closed device or emulator socket: no more presses
            log.warning("joystick unavailable (%s); corrections are off until restart", error)
            self._stick = None
            return []
        return [event.direction for event in events if event.action == PRESSED]
