"""Builds the prediction and status messages of DESIGN.md's schema for one device and model."""

from __future__ import annotations

from typing import Sequence, Tuple

from sorter_common.message import encode, prediction_dict, status_dict
from sorter_common.topics import DEFAULT_TOPIC_PREFIX, predictions_topic, status_topic


class MessageBuilder:
    def __init__(self, device: str, model: str = "", topic_prefix: str = DEFAULT_TOPIC_PREFIX) -> None:
        self.device = device
        self.model = model
        self.predictions_topic = predictions_topic(device, topic_prefix)
        self.status_topic = status_topic(device, topic_prefix)
        self._seq = 0

    def prediction(self, ts: float, label: str, confidence: float, top: Sequence[Tuple[str, float]]) -> bytes:
        # seq counts published predictions, so a consumer can spot a gap or a restart.
        self._seq += 1
        return encode(prediction_dict(self.device, self._seq, ts, label, confidence, top, self.model))

    def status(self, ts: float, state: str, detail: str = "") -> bytes:
        return encode(status_dict(self.device, ts, state, detail))

    @property
    def last_seq(self) -> int:
        return self._seq

