"""Renderers: the real Sense HAT (sense_hat, from Raspberry Pi OS), its emulator (sense_emu), a terminal.

(Reading the emulator's screen back is for tests, the demo and the benchmark: testbed/emu_screen.py.)
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Protocol, TextIO

from . import patterns

log = logging.getLogger(__name__)


class DisplayError(RuntimeError):
    """The chosen display cannot be used (no Sense HAT, library missing...)."""


class Renderer(Protocol):
    name: str

    def show(self, frame: patterns.Frame, caption: str) -> None: ...

    def set_low_light(self, on: bool) -> None: ...

    def clear(self) -> None: ...

    def close(self) -> None: ...


class SenseHatRenderer:
    """Draws on anything with the SenseHat API: sense_hat.SenseHat or sense_emu.SenseHat."""

    def __init__(self, hat: Any, name: str, rotation: int = 0) -> None:
        self._hat = hat
        self.name = name
        hat.set_rotation(rotation, redraw=False)

    @property
    def stick(self) -> Any:
        """The HAT's joystick (sense_hat.SenseStick or its emulator's), for corrections."""
        return self._hat.stick

    def show(self, frame: patterns.Frame, caption: str) -> None:
        self._hat.set_pixels(list(frame))

    def set_low_light(self, on: bool) -> None:
        # The HAT dims in hardware (a gamma table), which keeps colours distinguishable.
        self._hat.low_light = on

    def clear(self) -> None:
        self._hat.clear()
        self._hat.low_light = False

    def close(self) -> None:
        pass


class EmulatorRenderer(SenseHatRenderer):
    """sense_emu without its GUI: we hold the emulator lock, or sense_emu would try to start the GUI."""

    def __init__(self, rotation: int = 0) -> None:
        try:
            from sense_emu import SenseHat
            from sense_emu.lock import EmulatorLock
        except ImportError as error:
            raise DisplayError(f"--display emu needs the sense-emu package ({error})") from error
        self._lock = EmulatorLock("sense_emu")
        self._lock_mine = False
        if not self._lock.wait(0):
            # No sense_emu_gui running (headless machine, CI): stand in for it.
            self._lock.acquire()
            self._lock_mine = True
        super().__init__(SenseHat(), "emu", rotation)

    def close(self) -> None:
        if self._lock_mine and self._lock.mine:
            self._lock.release()
        # sense_emu names a joystick socket after each process and never removes it; remove ours
        # (only the name: its background thread still owns the socket itself).
        from sense_emu.stick import stick_address

        _family, _type, server_address = stick_address()
        if isinstance(server_address, str):
            (Path(server_address).parent / f"rpi-sense-emu-client-{os.getpid()}").unlink(missing_ok=True)


class TerminalRenderer:
    """Two characters per LED in 24-bit colour, with a caption; dim mode scales the colours."""

    name = "terminal"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._low_light = False

    def show(self, frame: patterns.Frame, caption: str) -> None:
        if self._low_light:
            frame = patterns.dimmed(frame)
        lines = []
        for row in range(patterns.SIZE):
            cells = frame[row * patterns.SIZE:(row + 1) * patterns.SIZE]
            lines.append("".join(f"\x1b[48;2;{r};{g};{b}m  " for r, g, b in cells) + "\x1b[0m")
        lines.append(caption + (" (dim)" if self._low_light else ""))
        self._stream.write("\n".join(lines) + "\n\n")
        self._stream.flush()

    def set_low_light(self, on: bool) -> None:
        self._low_light = on

    def clear(self) -> None:
        self.show(patterns.blank(), "display cleared")

    def close(self) -> None:
        pass


def make_renderer(kind: str, rotation: int = 0) -> Renderer:
    """The renderer for --display; "auto" means the real HAT if there is one, else the emulator."""
    if kind == "terminal":
        return TerminalRenderer()
    if kind == "emu":
        return EmulatorRenderer(rotation)
    try:
        from sense_hat import SenseHat  # Raspberry Pi OS package python3-sense-hat
    except ImportError as error:
        if kind == "sensehat":
            raise DisplayError(f"--display sensehat needs sense_hat: sudo apt install sense-hat ({error})") from error
        log.info("sense_hat is not installed; using the Sense HAT emulator")
        return EmulatorRenderer(rotation)
    try:
        return SenseHatRenderer(SenseHat(), "sensehat", rotation)
    except OSError as error:  # sense_hat raises OSError when the HAT's framebuffer is missing
        if kind == "sensehat":
            raise DisplayError(f"no Sense HAT found: {error}") from error
        log.info("no Sense HAT found (%s); using the Sense HAT emulator", error)
        return EmulatorRenderer(rotation)
