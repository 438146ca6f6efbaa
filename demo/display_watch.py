"""Watch the Pi subscriber's event log and read the sense_emu screen back at every "shown" event.

The subscriber writes the event right after drawing, so a read made as soon as the line appears
shows that decision, unless a newer one has already been drawn (the edge publishes every frame).
Each read is therefore kept with the event, and the report later checks it against the picture
the decision should give.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from testbed.emu_screen import read_emu_screen
from testbed.subscriber import Event, EventTail

LedFrame = tuple[tuple[int, int, int], ...]
POLL_S = 0.003


@dataclass(frozen=True)
class ScreenRead:
    event: Event
    frame: LedFrame
    read_at: float


class DisplayWatcher:
    def __init__(self, events_path: Path) -> None:
        self.events_path = events_path
        self.events: list[Event] = []
        self.reads: list[ScreenRead] = []
        self._tail = EventTail(events_path)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="display-watch", daemon=True)

    def start(self) -> DisplayWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        self.poll()  # whatever arrived after the last poll

    def snapshot(self) -> list[Event]:
        with self._lock:
            return list(self.events)

    def count(self, name: str) -> int:
        with self._lock:
            return sum(1 for event in self.events if event.get("event") == name)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(POLL_S)

    def poll(self) -> None:
        """Read the new complete lines of the event log; read the screen for each new "shown"."""
        new = self._tail.poll()
        if not new:
            return
        screen: LedFrame | None = None
        if any(event.get("event") == "shown" for event in new):
            screen, _low_light = read_emu_screen()
        now = time.time()
        with self._lock:
            for event in new:
                self.events.append(event)
                if event.get("event") == "shown" and screen is not None:
                    self.reads.append(ScreenRead(event, screen, now))
