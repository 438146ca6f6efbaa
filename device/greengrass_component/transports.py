"""Where messages go: Greengrass IPC (to AWS IoT Core), an MQTT broker over mutual TLS, or stdout.

Each transport is a Publisher, (topic, payload) -> None, that raises when a message did not go
out; the inference loop counts the failure and the next change or heartbeat tries again.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from .settings import ComponentSettings

LOG = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 10.0


class TransportRefused(RuntimeError):
    """The transport cannot start (credentials or CA refused): one line for the log, exit 2, no retry."""


class Transport:
    def publish(self, topic: str, payload: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection."""


class IpcTransport(Transport):
    """PublishToIoTCore through the Greengrass nucleus (QoS 1: the nucleus spools while offline).

    After an IPC error the client is dropped and a new one connects on the next publish, at
    most once per reconnect_s, so a restarting nucleus is waited out instead of hammered.
    """

    def __init__(self, client_factory: Callable[[], Any] | None = None, reconnect_s: float = 2.0) -> None:
        self._factory = client_factory or _ipc_client
        self._client: Any = None
        self._reconnect_s = reconnect_s
        self._last_attempt = float("-inf")
        self._lock = threading.Lock()
        self.reconnects = 0

    def _connected(self) -> Any:
        if self._client is None:
            now = time.monotonic()
            if now - self._last_attempt < self._reconnect_s:
                raise ConnectionError("Greengrass IPC is down; waiting before reconnecting")
            self._last_attempt = now
            self._client = self._factory()
            self.reconnects += 1
        return self._client

    def publish(self, topic: str, payload: bytes) -> None:
        from awsiot.greengrasscoreipc.model import QOS

        with self._lock:
            client = self._connected()
            try:
                client.publish_to_iot_core(topic_name=topic, qos=QOS.AT_LEAST_ONCE, payload=payload)
            except Exception:  # any IPC error (UnauthorizedError, a closed stream...): reconnect next time
                self._drop()
                raise

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception as error:  # closing a broken connection may fail too
                LOG.debug("closing the IPC client: %s", error)

    def close(self) -> None:
        with self._lock:
            self._drop()


def _ipc_client() -> Any:
    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    # Connects with the socket path and token the nucleus puts in this process's environment.
    return GreengrassCoreIPCClientV2()


class MqttTransport(Transport):
    """Outside Greengrass: device.mqtt_link, the same awsiotsdk connection the Pi uses."""

    def __init__(self, settings: ComponentSettings, stop: threading.Event) -> None:
        from device.mqtt_link import ConnectionRefused, MqttLink, MqttSettings, connect_with_backoff

        options = settings.mqtt
        assert options is not None
        try:
            self._link = MqttLink(
                MqttSettings(options.endpoint, options.port, options.cert, options.key, options.ca, options.client_id)
            )
            connect_with_backoff(self._link, stop)
        except ConnectionRefused as error:
            raise TransportRefused(str(error)) from None

    def publish(self, topic: str, payload: bytes) -> None:
        self._link.publish(topic, payload).result(PUBLISH_TIMEOUT_S)

    def close(self) -> None:
        self._link.disconnect()


class StdoutTransport(Transport):
    """One JSON line per message: {"topic": ..., "message": {...}}."""

    def __init__(self, stream: TextIO = sys.stdout) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def publish(self, topic: str, payload: bytes) -> None:
        line = json.dumps({"topic": topic, "message": json.loads(payload)}, sort_keys=True)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


def make_transport(settings: ComponentSettings, stop: threading.Event) -> Transport:
    if settings.transport == "ipc":
        return IpcTransport()
    if settings.transport == "mqtt":
        return MqttTransport(settings, stop)
    return StdoutTransport()
