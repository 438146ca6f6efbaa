"""Local path benchmark (issue 16): publish-to-display latency on each path, and failover when one goes down.

Two mosquitto brokers with their own CAs stand in for AWS IoT Core and for the camera's local
broker, a discovery endpoint on 127.0.0.1 tells the subscriber where the local one is
(testbed.two_paths), the subscriber runs as `python -m device.pi_subscriber` drawing on sense_emu.

1. Latency per path: LATENCY_MESSAGES decisions published on one path only, then on the other
   (from just before publish() to the subscriber's "shown" event, after the frame is written).
2. Failover: a camera publishing each decision on both paths (as the MQTT bridge does) every
   FAILOVER_INTERVAL_S; one path is killed (SIGKILL, every session lost), and the figure is the
   time from the kill to the first decision published after it reaching the screen, which can only
   come over the other path. ROUNDS times each way, the broker restarted in between. Goal: no
   decision missed, the first on the surviving path within 2 s.

    python -m bench local-path          # runs it alone, merges the figures into bench/results.json
    python bench/local_path_bench.py    # prints the figures as JSON
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from testbed.emu_screen import emu_screen_held  # noqa: E402 - needs ROOT on sys.path
from testbed.local_broker import LocalBroker  # noqa: E402
from testbed.subscriber import EventTail, subscriber_command  # noqa: E402
from testbed.two_paths import DualPublisher, TwoPaths  # noqa: E402

LATENCY_MESSAGES = 500
LATENCY_INTERVAL_S = 0.01
FAILOVER_INTERVAL_S = 0.05  # 20 decisions a second: far above a camera's rate, so the figure is the failover's
ROUNDS = 3
SETTLE_S = 1.0
RECONNECT_TIMEOUT_S = 60.0
LABELS = ("recycling", "compost", "landfill", "unsure")  # consecutive decisions never draw the same frame
PI = "bench-pi"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _wait(tail: EventTail, predicate: Any, timeout: float, what: str) -> None:
    if not tail.wait_until(predicate, timeout):
        raise TimeoutError(f"no {what} within {timeout}s; last events: {tail.events[-5:]}")


def _paths_summary(summary: str, after: float) -> Any:
    return lambda events: any(e["event"] == "paths" and e["summary"] == summary and e["t"] > after for e in events)


class Publisher(threading.Thread):
    """Publishes a decision on both paths every interval until stopped; remembers when each went out."""

    def __init__(self, camera: DualPublisher, interval_s: float) -> None:
        super().__init__(daemon=True)
        self.camera = camera
        self.interval_s = interval_s
        self.published: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        count = 0
        while not self.stop.is_set():
            seq, at = self.camera.predict(LABELS[self.camera.seq % len(LABELS)])
            self.published[seq] = at
            count += 1
            pause = start + count * self.interval_s - time.monotonic()
            if pause > 0:
                self.stop.wait(pause)


def _latency(tail: EventTail, camera: DualPublisher, path: str) -> list[float]:
    published: dict[int, float] = {}
    start = time.monotonic()
    for count in range(LATENCY_MESSAGES):
        seq, at = camera.predict(LABELS[camera.seq % len(LABELS)], paths=(path,))
        published[seq] = at
        pause = start + (count + 1) * LATENCY_INTERVAL_S - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    last = max(published)
    _wait(tail, lambda events: any(e["event"] == "shown" and e["seq"] == last for e in events), 30, f"{path} seq")
    shown = {e["seq"]: e for e in tail.events if e["event"] == "shown" and e["seq"] in published}
    assert all(e["path"] == path for e in shown.values()), f"a decision published on {path} came another way"
    return [(shown[seq]["t"] - at) * 1000 for seq, at in published.items() if seq in shown]


def _failover(tail: EventTail, camera: DualPublisher, down: LocalBroker, survivor: str) -> tuple[float, int]:
    """Kill `down` while decisions flow; (ms from the kill to the first new decision shown, decisions missed)."""
    publisher = Publisher(camera, FAILOVER_INTERVAL_S)
    publisher.start()
    time.sleep(SETTLE_S)
    killed_at = time.time()
    down.kill()
    time.sleep(SETTLE_S * 2)
    publisher.stop.set()
    publisher.join(5)
    last = max(publisher.published)
    _wait(tail, lambda events: any(e["event"] == "shown" and e["seq"] == last for e in events), 30, "the last seq")
    shown = [e for e in tail.events if e["event"] == "shown" and e["seq"] in publisher.published]
    after_kill = {seq for seq, at in publisher.published.items() if at > killed_at}
    first_new = min((e for e in shown if e["seq"] in after_kill), key=lambda e: e["t"])
    assert first_new["path"] == survivor, f"shown over {first_new['path']} after its broker was killed"
    missed = len(set(publisher.published) - {e["seq"] for e in shown})
    down.start()
    _wait(tail, _paths_summary("both", killed_at), RECONNECT_TIMEOUT_S, "both paths back")
    return (first_new["t"] - killed_at) * 1000, missed


def _measure(folder: Path) -> dict[str, dict[str, Any]]:
    events_path = folder / "events.jsonl"
    tail = EventTail(events_path)
    with TwoPaths(folder / "paths") as paths:
        credentials = paths.pi_identity(PI)
        subscriber = subprocess.Popen(
            subscriber_command(
                paths.cloud, credentials, paths.cloud_pki.ca_path, PI, config_dir=folder, events_path=events_path,
                extra=(*paths.subscriber_flags(folder / "discovery.json"), "--stale-after", "60",
                       "--idle-after", "600", "--offline-after", "600", "--joystick", "off", "--log-level", "WARNING"),
            ),
            cwd=ROOT, stdout=subprocess.DEVNULL,
        )
        camera = paths.publisher("bench-cam")
        try:
            _wait(tail, _paths_summary("both", 0), 30, "both paths")
            time.sleep(SETTLE_S)
            latency = {path: _latency(tail, camera, path) for path in ("cloud", "local")}
            failover: dict[str, list[tuple[float, int]]] = {"local": [], "cloud": []}
            for _ in range(ROUNDS):
                failover["local"].append(_failover(tail, camera, paths.cloud, "local"))  # the internet goes down
                failover["cloud"].append(_failover(tail, camera, paths.core, "cloud"))  # the camera's broker goes
        finally:
            camera.close()
            subscriber.send_signal(signal.SIGTERM)
            subscriber.wait(15)

    figures: dict[str, dict[str, Any]] = {}
    for path, values in latency.items():
        figures[f"local_path_{path}_latency_p50"] = {
            "value": round(_percentile(values, 0.5), 3), "unit": "ms",
            "goal": f"publish-to-display over the {path} path (loopback mTLS, {len(values)} of {LATENCY_MESSAGES})",
        }
        figures[f"local_path_{path}_latency_p99"] = {"value": round(_percentile(values, 0.99), 3), "unit": "ms",
                                                     "goal": "< 20 ms"}
    for survivor, rounds in failover.items():
        down = "cloud" if survivor == "local" else "local"
        figures[f"local_path_{down}_down_first_on_{survivor}_max"] = {
            "value": round(max(ms for ms, _ in rounds), 1), "unit": "ms",
            "goal": f"< 2000 ms: {down} path killed to the first new decision shown over the {survivor} path "
            f"(worst of {ROUNDS}; decisions every {FAILOVER_INTERVAL_S * 1000:.0f} ms)",
        }
        figures[f"local_path_{down}_down_missed"] = {
            "value": sum(missed for _, missed in rounds), "unit": "decisions", "goal": f"0 (over {ROUNDS} outages)",
        }
    return figures


def run() -> dict[str, dict[str, Any]]:
    with emu_screen_held(), tempfile.TemporaryDirectory(prefix="local-path-bench-") as folder:
        return _measure(Path(folder))


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
