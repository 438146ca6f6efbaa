"""Temporal smoothing: the decision is the mean of the last frames' probabilities.

One odd frame moves the mean by at most 1/window, so it cannot flip the bin on its own; a view
the model is unsure of (smoothed top probability under the threshold) is reported as "unsure".
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Deque, NamedTuple, Sequence

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

from edge_core.settings import default
from sorter_common.classes import UNSURE


class Decision(NamedTuple):
    label: str  # a class id or UNSURE
    confidence: float  # the smoothed probability of the best class
    probabilities: NDArray[Any]  # the smoothed probability of every class, in labels order


class Smoother:
    def __init__(
        self, labels: Sequence[str], window: int = default("window"), threshold: float = default("threshold")
    ) -> None:
        if window < 1:
            raise ValueError("the smoothing window must be at least one frame")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("the confidence threshold must be within 0..1")
        self.labels = list(labels)
        self.threshold = threshold
        self._recent: Deque[NDArray[Any]] = deque(maxlen=window)

    def add(self, probabilities: NDArray[Any]) -> Decision:
        if len(probabilities) != len(self.labels):
            raise ValueError(f"expected {len(self.labels)} probabilities, got {len(probabilities)}")
        self._recent.append(np.asarray(probabilities, dtype=np.float64))
        mean = np.mean(np.stack(list(self._recent)), axis=0)
        best = int(np.argmax(mean))
        confidence = float(mean[best])
        label = self.labels[best] if confidence >= self.threshold else UNSURE
        return Decision(label=label, confidence=confidence, probabilities=mean)

    def reset(self) -> None:
        self._recent.clear()
