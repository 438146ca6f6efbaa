"""The two paths from a camera to the Pi, on 127.0.0.1: a "cloud" broker standing in for AWS IoT Core,
a "core" broker standing in for the camera's Greengrass local broker (Moquette), and the discovery
endpoint that tells the Pi where the core's broker is.

Each broker has its own CA, as in the field: the cloud's (Amazon Root CA 1 there) also signs the
device certificates; the core's CA signs only its broker's certificate, and the Pi learns it from
discovery. The core broker admits the devices the cloud CA signed, as client device auth admits
the things AWS IoT registered. A DualPublisher stands in for the MQTT bridge: each decision the
camera publishes once goes to both brokers (Pubsub -> LocalMqtt and Pubsub -> IotCore).

    with TwoPaths(tmp) as paths:
        pi = paths.pi_identity("trash-sorter-pi")          # a certificate, associated with the core
        camera = paths.publisher("trash-sorter-cam-1")
        camera.predict("compost")                         # on both paths
        paths.cloud.kill()                                # the internet is down
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from device.mqtt_link import MqttLink, MqttSettings
from sorter_common.message import encode, prediction_dict, status_dict
from sorter_common.topics import predictions_topic, status_topic

from .discovery_server import DiscoveryServer
from .local_broker import LocalBroker
from .local_pki import KeyPair, issue_client, make_pki


class TwoPaths:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.cloud_pki = make_pki(self.folder / "cloud", ca_name="stand-in for Amazon Root CA 1")
        self.core_pki = make_pki(self.folder / "core", ca_name="stand-in for a Greengrass core device CA")
        self.cloud = LocalBroker(self.cloud_pki)
        self.core = LocalBroker(self.core_pki, client_ca=self.cloud_pki.ca_path)
        self.discovery = DiscoveryServer(self.cloud_pki)
        self.core_thing = "trash-sorter-cam-core"

    def start(self) -> None:
        self.cloud.start()
        self.core.start()
        self.discovery.start()

    def ensure_up(self) -> None:
        """Whatever a test took down is back (the brokers keep their ports)."""
        for broker in (self.cloud, self.core):
            if not broker.running:
                broker.start()
        self.discovery.start()

    def pi_identity(self, thing: str) -> KeyPair:
        """The Pi's certificate (signed by the cloud CA), associated with the camera's core for discovery."""
        credentials = issue_client(self.cloud_pki, thing)
        self.discovery.associate(
            thing, core_thing=self.core_thing, core_ca=self.core_pki.ca_path,
            addresses=[(self.core.host, self.core.port)],
        )
        return credentials

    def publisher(self, device: str) -> DualPublisher:
        return DualPublisher(self, device)

    def subscriber_flags(self, cache: Path) -> list[str]:
        """The subscriber's local-path flags: this discovery endpoint and a cache of its own."""
        return ["--discovery-endpoint", self.discovery.endpoint, "--discovery-cache", str(cache)]

    def cleanup(self) -> None:
        self.discovery.stop()
        self.cloud.cleanup()
        self.core.cleanup()

    def __enter__(self) -> TwoPaths:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()


class DualPublisher:
    """A camera behind the MQTT bridge: each message goes to the cloud broker and to the core's broker."""

    def __init__(self, paths: TwoPaths, device: str) -> None:
        self.device = device
        credentials = issue_client(paths.cloud_pki, device)
        self.links = {
            "cloud": self._link(paths.cloud, credentials, paths.cloud_pki.ca_path, device),
            "local": self._link(paths.core, credentials, paths.core_pki.ca_path, device),
        }
        self.seq = 0

    @staticmethod
    def _link(broker: LocalBroker, credentials: KeyPair, ca: Path, device: str) -> MqttLink:
        link = MqttLink(MqttSettings(broker.host, broker.port, credentials.cert_path, credentials.key_path, ca,
                                     device, reconnect_min_s=1, reconnect_max_s=1))
        link.connect()
        return link

    def predict(self, label: str, *, paths: tuple[str, ...] = ("cloud", "local")) -> tuple[int, float]:
        """Publish the next decision; (seq, the time it was published)."""
        self.seq += 1
        published = time.time()
        message = prediction_dict(self.device, self.seq, published, label, 0.9, [(label, 0.9)], "m-1")
        self._publish(predictions_topic(self.device), encode(message), paths)
        return self.seq, published

    def status(self, state: str = "running", *, paths: tuple[str, ...] = ("cloud", "local")) -> None:
        self._publish(status_topic(self.device), encode(status_dict(self.device, time.time(), state)), paths)

    def _publish(self, topic: str, payload: bytes, paths: tuple[str, ...]) -> None:
        # QoS 1, not waited for: a broker that is down must not hold up the other path (the CRT keeps the
        # message for its reconnect, as the bridge's spooler would). The subscriber's screen is the check.
        for path in paths:
            self.links[path].publish(topic, payload)

    def close(self) -> None:
        for link in self.links.values():
            link.disconnect(timeout=1.0)
