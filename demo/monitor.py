"""A third MQTT client on the predictions topic, like the AWS IoT console's MQTT test client.

It records every prediction message as published (seq, ts, label), which is what the
publish-to-display latency and the scoring need: the subscriber's events carry only seq and label.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from device.mqtt_link import MqttLink, MqttSettings
from sorter_common.message import parse_prediction


class TopicMonitor:
    def __init__(self, endpoint: str, port: int, cert: Path, key: Path, ca: Path, client_id: str) -> None:
        self.messages: dict[int, dict[str, Any]] = {}
        self.unparsed = 0
        self._lock = threading.Lock()
        self._link = MqttLink(MqttSettings(endpoint, port, cert, key, ca, client_id), on_message=self._on_message)

    def start(self, topic: str) -> TopicMonitor:
        self._link.connect()
        self._link.subscribe([topic])
        return self

    def _on_message(self, _topic: str, payload: bytes) -> None:
        # Runs on the CRT's thread: parse, store, never raise.
        try:
            prediction = parse_prediction(payload)
        except Exception:
            with self._lock:
                self.unparsed += 1
            return
        with self._lock:
            self.messages.setdefault(
                prediction.seq, {"seq": prediction.seq, "ts": prediction.ts, "label": prediction.label}
            )

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def snapshot(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return dict(self.messages)

    def stop(self) -> None:
        self._link.disconnect()
