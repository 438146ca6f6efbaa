"""Which paths to the cameras are up: the cloud (AWS IoT Core) and the local one (the camera's own broker).

Pure bookkeeping fed by the connection events of each path. Both paths carry every decision (the
message filter shows each once), so one path up is enough; the screen marks which one is left only
while the local path is in use and exactly one path is up.
"""

from __future__ import annotations

CLOUD = "cloud"
LOCAL = "local"
PATHS = (CLOUD, LOCAL)
# Connection events that mean the path is up or down (device.mqtt_link's on_event names, and ours).
_UP = ("connected", "subscribed")
_DOWN = ("interrupted", "lost")


class PathState:
    def __init__(self) -> None:
        self.up = {CLOUD: False, LOCAL: False}
        self.local_in_use = False  # a local broker was found (discovery or its cache) and is being used

    def on_event(self, path: str, name: str, details: dict[str, object]) -> bool:
        """Fold one connection event in; True when the summary changed (worth a log line)."""
        before = self.summary()
        if path == LOCAL and name in _UP:
            self.local_in_use = True
        if name in _UP or (name == "resumed" and details.get("return_code", 0) == 0):
            self.up[path] = True
        elif name in _DOWN:
            self.up[path] = False
        return self.summary() != before

    def summary(self) -> str:
        """both, cloud only, local only or none (before the first connection, and with no path left)."""
        if not self.local_in_use:
            return CLOUD + " only" if self.up[CLOUD] else "none"
        cloud, local = self.up[CLOUD], self.up[LOCAL]
        if cloud and local:
            return "both"
        if cloud or local:
            return (CLOUD if cloud else LOCAL) + " only"
        return "none"

    def mark(self) -> str | None:
        """The path to mark on the screen: the only one left, while the local path is in use; else None."""
        if not self.local_in_use or self.up[CLOUD] == self.up[LOCAL]:
            return None
        return CLOUD if self.up[CLOUD] else LOCAL
