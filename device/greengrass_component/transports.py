"""Where messages go: Greengrass IPC, an MQTT broker over mutual TLS, or stdout.

Under Greengrass with the local path on (README "When the internet is down"), each message is
published once to local publish/subscribe; the MQTT bridge's topic mappings relay it to the local
broker, where the Pi listens on the LAN, and to AWS IoT Core (the cloud metrics). With it off, the
message goes straight to AWS IoT Core.

Each transport is a Publisher, (topic, payload) -> None, that raises when a message did not go
out; the inference loop counts the failure and the next change or heartbeat tries again.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any, Callable, TextIO

from .settings import ComponentSettings

LOG = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 10.0
# (topic, payload) -> None, called on the transport's own thread: keep it short, never raise.
MessageHandler = Callable[[str, bytes], Any]


class TransportRefused(RuntimeError):
    """The transport cannot start (credentials or CA refused): one line for the log, exit 2, no retry."""


class Transport:
    def publish(self, topic: str, payload: bytes) -> None:
        raise NotImplementedError

    def subscribe(self, topic: str, handler: MessageHandler) -> None:
        """Deliver messages on topic (QoS 1) to handler; raises where the transport cannot receive."""
        raise NotImplementedError(f"the {type(self).__name__} cannot receive messages")

    def close(self) -> None:
        """Release the connection."""


class IpcTransport(Transport):
    """PublishToIoTCore through the Greengrass nucleus (QoS 1: the nucleus spools while offline), or
    with local_pubsub PublishToTopic (local publish/subscribe, which the MQTT bridge relays on).

    After an IPC error the client is dropped and a new one connects on the next publish, at
    most once per reconnect_s, so a restarting nucleus is waited out instead of hammered.
    """

    def __init__(
        self, client_factory: Callable[[], Any] | None = None, reconnect_s: float = 2.0, *, local_pubsub: bool = False
    ) -> None:
        self._factory = client_factory or _ipc_client
        self._local_pubsub = local_pubsub
        self._client: Any = None
        self._reconnect_s = reconnect_s
        self._last_attempt = float("-inf")
        self._lock = threading.Lock()
        self.reconnects = 0
        self._subscriptions: dict[str, MessageHandler] = {}
        self._stream_lost = False  # a subscription stream closed: reconnect on the next publish

    def _connected(self) -> Any:
        if self._client is None:
            now = time.monotonic()
            if now - self._last_attempt < self._reconnect_s:
                raise ConnectionError("Greengrass IPC is down; waiting before reconnecting")
            self._last_attempt = now
            self._client = self._factory()
            self.reconnects += 1
            self._stream_lost = False
            for topic, handler in self._subscriptions.items():  # a new connection has no streams yet
                self._subscribe(self._client, topic, handler)
        return self._client

    def subscribe(self, topic: str, handler: MessageHandler) -> None:
        """Subscribe now if connected, else with the next connection; a refusal is logged, not raised,
        so predictions keep flowing when only the corrections subscription is not allowed."""
        with self._lock:
            self._subscriptions[topic] = handler
            if self._client is not None:
                self._subscribe(self._client, topic, handler)

    def _subscribe(self, client: Any, topic: str, handler: MessageHandler) -> None:
        try:
            self._open_stream(client, topic, handler)
        except Exception as error:  # UnauthorizedError (accessControl), a closed connection...
            LOG.warning("cannot subscribe to %s over IPC (%s); trying again after the next reconnect", topic, error)

    def _open_stream(self, client: Any, topic: str, handler: MessageHandler) -> None:
        from awsiot.greengrasscoreipc.model import QOS

        def on_event(event: Any) -> None:
            message = event.message
            if message is not None:
                handler(message.topic_name, bytes(message.payload or b""))

        def on_error(error: Exception) -> bool:
            LOG.warning("IPC subscription to %s: %s", topic, error)
            return True  # close the stream; the next publish reconnects and subscribes again

        def on_closed() -> None:
            self._stream_lost = True

        client.subscribe_to_iot_core(
            topic_name=topic, qos=QOS.AT_LEAST_ONCE, on_stream_event=on_event, on_stream_error=on_error,
            on_stream_closed=on_closed,
        )

    def publish(self, topic: str, payload: bytes) -> None:
        from awsiot.greengrasscoreipc.model import QOS

        with self._lock:
            if self._stream_lost:
                self._drop()
            client = self._connected()
            try:
                if self._local_pubsub:
                    client.publish_to_topic(topic=topic, publish_message=_binary_message(payload))
                else:
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


def _binary_message(payload: bytes) -> Any:
    from awsiot.greengrasscoreipc.model import BinaryMessage, PublishMessage

    # Binary, not JSON: the bridge relays the payload bytes as they are, the same bytes the Pi parses.
    return PublishMessage(binary_message=BinaryMessage(message=payload))


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
            self._handlers: dict[str, MessageHandler] = {}
            self._link = MqttLink(
                MqttSettings(options.endpoint, options.port, options.cert, options.key, options.ca, options.client_id),
                on_message=self._dispatch,
            )
            connect_with_backoff(self._link, stop)
        except ConnectionRefused as error:
            raise TransportRefused(str(error)) from None

    def publish(self, topic: str, payload: bytes) -> None:
        self._link.publish(topic, payload).result(PUBLISH_TIMEOUT_S)

    def subscribe(self, topic: str, handler: MessageHandler) -> None:
        self._handlers[topic] = handler
        self._link.subscribe([topic])

    def _dispatch(self, topic: str, payload: bytes) -> None:
        handler = self._handlers.get(topic)
        if handler is not None:
            handler(topic, payload)

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
        return IpcTransport(local_pubsub=settings.local_path)
    if settings.transport == "mqtt":
        return MqttTransport(settings, stop)
    return StdoutTransport()
