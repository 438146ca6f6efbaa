"""When to publish: on a change of the decided label, plus a heartbeat, never above a rate limit.

A change inside the rate limit is not lost: the published label still differs, so the next
frame after the limit publishes it.
"""

from __future__ import annotations

from typing import Optional

from edge_core.settings import default


class PublishPolicy:
    def __init__(
        self, heartbeat_s: float = default("heartbeat_s"), min_interval_s: float = default("min_interval_s")
    ) -> None:
        if heartbeat_s <= 0 or min_interval_s < 0 or min_interval_s > heartbeat_s:
            raise ValueError("need heartbeat_s > 0 and 0 <= min_interval_s <= heartbeat_s")
        self.heartbeat_s = heartbeat_s
        self.min_interval_s = min_interval_s
        self._last_label: Optional[str] = None
        self._last_time: Optional[float] = None

    def should_publish(self, label: str, now: float) -> bool:
        """True when this decision is to be published now; the caller then calls published()."""
        if self._last_time is None:
            return True
        elapsed = now - self._last_time
        if elapsed < self.min_interval_s:
            return False
        return bool(label != self._last_label or elapsed >= self.heartbeat_s)

    def published(self, label: str, now: float) -> None:
        self._last_label = label
        self._last_time = now
