"""Which paths to the cameras are up: the cloud (AWS IoT Core) and the local one (the camera's own broker).

Pure bookkeeping fed by the connection events of each path. Both paths carry every decision (the
message filter shows each once), so one path up is enough; the screen marks which one is left only
while the local path is in use and exactly one path is up.
"""

from __future__ import annotations

CLOUD = "cloud"
LOCAL = "local"
PATHS = (CLOUD, LOCAL)
# A path is up once it is subscribed (a connection whose subscription was refused or never made carries
# nothing), and again when its link resumes after that; down when its link is interrupted or lost, or the
# path is refused. device.mqtt_link's on_event names, and ours.
_DOWN = ("interrupted", "lost", "refused")


class PathState:
    def __init__(self) -> None:
        self.up = {CLOUD: False, LOCAL: False}
        self.local_in_use = False  # a local broker was found (discovery or its cache) and subscribed to
        self._subscribed: set[str] = set()

    def on_event(self, path: str, name: str, details: dict[str, object]) -> bool:
        """Fold one connection event in; True when the summary changed (worth a log line)."""
        before = self.summary()
        if name == "subscribed":
            self._subscribed.add(path)
            self.up[path] = True
            if path == LOCAL:
                self.local_in_use = True
        elif name == "resumed" and details.get("return_code", 0) == 0:
            self.up[path] = path in self._subscribed
        elif name in _DOWN:
            self.up[path] = False
            if name == "refused":
                self._subscribed.discard(path)
        return self.summary() != before

    def summary(self) -> str:
        """both, cloud only, local only or none (before the first subscription, and with no path left)."""
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
