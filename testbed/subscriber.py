"""The Pi subscriber as the tests, the demo and the benchmark run it, and its event log read back.

Each runs `python -m device.pi_subscriber` exactly as systemd starts it on the Pi, against a
LocalBroker with its own client certificate, drawing on sense_emu, and watches what it did through
its --events file (one JSON object a line, written as things happen).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .local_broker import LocalBroker
from .local_pki import KeyPair

Event = dict[str, Any]


def subscriber_command(
    broker: LocalBroker,
    credentials: KeyPair,
    ca_path: Path,
    client_id: str,
    *,
    config_dir: Path,
    events_path: Path,
    extra: Sequence[str] = (),
) -> list[str]:
    """The command line: broker, identity and files as flags (no /etc/trash-sorter), the emulator as display."""
    return [
        sys.executable, "-m", "device.pi_subscriber", "--config-dir", str(config_dir),
        "--endpoint", broker.host, "--port", str(broker.port), "--client-id", client_id,
        "--cert", str(credentials.cert_path), "--key", str(credentials.key_path), "--ca", str(ca_path),
        "--display", "emu", "--events", str(events_path), *extra,
    ]


class EventTail:
    """The subscriber's events so far, read incrementally; a line it is still writing waits for the next poll."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[Event] = []
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[Event]:
        """The events written since the last poll (also appended to self.events)."""
        try:
            with open(self.path, "rb") as log:
                log.seek(self._offset)
                chunk = log.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        new = [json.loads(line) for line in lines if line.strip()]
        self.events.extend(new)
        return new

    def wait_until(
        self, done: Callable[[list[Event]], bool], timeout: float, *, gone: Callable[[], bool] = lambda: False
    ) -> bool:
        """Poll until done(all events) holds; False at the timeout or as soon as gone() says the process ended."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if done(self.events):
                return True
            if gone() or time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
