"""The sense_emu screen read back, as the tests, the demo and the benchmark check what a real HAT shows.

The emulator's "screen" is one shared file per machine (/dev/shm/rpi-sense-emu-screen): 64
little-endian RGB565 pixels, then the 32-byte gamma table, which low light swaps. Whoever reads
it back holds EMU_SCREEN_LOCK, so their runs take turns.
"""

from __future__ import annotations

import contextlib
import fcntl
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from device.pi_subscriber import patterns

EMU_SCREEN_LOCK = Path("/dev/shm/trash-sorter-emu-tests.lock")
_PIXEL_BYTES = 128
_GAMMA_LOW = (0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 10, 10)


@contextlib.contextmanager
def emu_screen_held() -> Iterator[None]:
    """Hold the screen lock until the block ends, waiting for whoever holds it now."""
    with open(EMU_SCREEN_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def try_lock_emu_screen(handle: IO[Any]) -> bool:
    """Take the screen lock on an open EMU_SCREEN_LOCK handle without waiting; False when it is held."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def emu_screen_path() -> Path:
    from sense_emu.screen import screen_filename

    return Path(screen_filename())


def read_emu_screen(path: Path | None = None) -> tuple[patterns.Frame, bool]:
    """The emulator's pixels (RGB565 widened back to 8 bits, as SenseHat.get_pixels does) and low-light."""
    data = (path or emu_screen_path()).read_bytes()
    values = struct.unpack("<64H", data[:_PIXEL_BYTES])
    frame = tuple((((v >> 11) & 0x1F) << 3, ((v >> 5) & 0x3F) << 2, (v & 0x1F) << 3) for v in values)
    return frame, tuple(data[_PIXEL_BYTES:_PIXEL_BYTES + 32]) == _GAMMA_LOW


def as_rgb565(frame: patterns.Frame) -> patterns.Frame:
    """frame as the HAT stores it (5-6-5 bits per channel): what read_emu_screen returns for it."""
    return tuple(((r >> 3) << 3, (g >> 2) << 2, (b >> 3) << 3) for r, g, b in frame)
