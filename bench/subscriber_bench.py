"""Pi subscriber benchmark: publish-to-display latency, loss, order and memory over a loopback mTLS broker.

A camera publishes 5,000 QoS 1 predictions (500 per second, each a different screen than the
one before, so every message really redraws the sense_emu framebuffer) to a real mosquitto with
mutual TLS; the subscriber runs as `python -m device.pi_subscriber`, as on the Pi. Latency is
from just before publish() to just after the frame is written (the subscriber's "shown" event).

    python bench/subscriber_bench.py        # prints the figures as JSON
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from device.mqtt_link import MqttLink, MqttSettings  # noqa: E402 - needs ROOT on sys.path
from sorter_common.message import encode, prediction_dict  # noqa: E402
from sorter_common.topics import predictions_topic  # noqa: E402
from testbed.emu_screen import emu_screen_held  # noqa: E402
from testbed.local_broker import LocalBroker  # noqa: E402
from testbed.local_pki import issue_client, make_pki  # noqa: E402
from testbed.subscriber import Event, EventTail, subscriber_command  # noqa: E402

MESSAGES = 5_000
INTERVAL_S = 0.002
LABELS = ("recycling", "compost", "landfill", "unsure")  # consecutive messages never draw the same frame


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _wait_for(tail: EventTail, predicate: Callable[[list[Event]], bool], timeout: float) -> list[Event]:
    if not tail.wait_until(predicate, timeout):
        raise TimeoutError(f"subscriber did not get there in {timeout}s; last events: {tail.events[-3:]}")
    return tail.events


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _measure(folder: Path) -> dict[str, dict[str, Any]]:
    pki = make_pki(folder / "pki")
    sub_creds, cam_creds = issue_client(pki, "bench-pi"), issue_client(pki, "bench-cam")
    events_path = folder / "events.jsonl"
    tail = EventTail(events_path)
    with LocalBroker(pki) as broker:
        subscriber = subprocess.Popen(
            subscriber_command(
                broker,
                sub_creds,
                pki.ca_path,
                "bench-pi",
                config_dir=folder,
                events_path=events_path,
                extra=("--stale-after", "60", "--idle-after", "600", "--log-level", "WARNING"),
            ),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        camera = MqttLink(
            MqttSettings(broker.host, broker.port, cam_creds.cert_path, cam_creds.key_path, pki.ca_path, "bench-cam")
        )
        try:
            _wait_for(tail, lambda evs: any(e["event"] == "subscribed" for e in evs), 20)
            camera.connect()
            time.sleep(1.0)  # let start-up allocations settle before the baseline
            rss_before = _rss_mb(subscriber.pid)

            topic = predictions_topic("bench-cam")
            published_at: dict[int, float] = {}
            acks = []
            start = time.monotonic()
            for seq in range(MESSAGES):
                label = LABELS[seq % len(LABELS)]
                payload = encode(prediction_dict("bench-cam", seq, time.time(), label, 0.9, [(label, 0.9)], "bench"))
                published_at[seq] = time.time()
                acks.append(camera.publish(topic, payload))
                # Pace on an absolute schedule so a slow iteration does not shift every later one.
                pause = start + (seq + 1) * INTERVAL_S - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            for ack in acks:
                ack.result(30)
            try:
                events = _wait_for(tail, lambda evs: sum(e["event"] == "shown" for e in evs) >= MESSAGES, 30)
            except TimeoutError:
                events = tail.events  # report what was lost rather than fail
            rss_after = _rss_mb(subscriber.pid)
        finally:
            camera.disconnect()
            subscriber.send_signal(signal.SIGTERM)
            subscriber.wait(15)

    shown = [e for e in events if e["event"] == "shown"]
    seqs = [e["seq"] for e in shown]
    latencies_ms = [(e["t"] - published_at[e["seq"]]) * 1000 for e in shown]
    out_of_order = sum(1 for before, after in itertools.pairwise(seqs) if after <= before)
    ignored = sum(1 for e in events if e["event"] == "ignored")
    return {
        "subscriber_latency_p50": {
            "value": round(_percentile(latencies_ms, 0.50), 3),
            "unit": "ms",
            "goal": "publish-to-display over loopback mTLS, QoS 1",
        },
        "subscriber_latency_p99": {"value": round(_percentile(latencies_ms, 0.99), 3), "unit": "ms", "goal": "< 20 ms"},
        "subscriber_latency_max": {"value": round(max(latencies_ms), 3), "unit": "ms", "goal": "informational"},
        "subscriber_messages_lost": {
            "value": MESSAGES - len(set(seqs)),
            "unit": "messages",
            "goal": f"0 of {MESSAGES} QoS 1 messages",
        },
        "subscriber_shown_out_of_order": {"value": out_of_order, "unit": "messages", "goal": "0"},
        "subscriber_messages_ignored": {
            "value": ignored,
            "unit": "messages",
            "goal": "0 (no duplicate/stale/out-of-order on a healthy link)",
        },
        "subscriber_rss_before": {"value": round(rss_before, 1), "unit": "MB", "goal": "< 80 MB"},
        "subscriber_rss_after": {
            "value": round(rss_after, 1),
            "unit": "MB",
            "goal": f"< 80 MB and flat after {MESSAGES} messages",
        },
        "subscriber_rss_growth": {"value": round(rss_after - rss_before, 2), "unit": "MB", "goal": "~0 (flat)"},
    }


def run() -> dict[str, dict[str, Any]]:
    with emu_screen_held(), tempfile.TemporaryDirectory(prefix="subscriber-bench-") as folder:
        return _measure(Path(folder))


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
