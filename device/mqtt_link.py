"""One MQTT connection over mutual TLS with awsiotsdk, exactly as a device connects to AWS IoT Core.

Persistent session (clean_session False) and QoS 1, so the broker queues messages while we
are away; the CRT reconnects with exponential backoff after a lost connection, and when the
broker has forgotten our session (a restarted broker) we subscribe again ourselves.
The first connection is not retried by the CRT, so connect_with_backoff does that, and gives up
at once on a TLS or authorization refusal, which no retry can fix; a TLS handshake that timed out,
or failed while the broker accepts our certificate (a reset on a flaky uplink), is not a refusal and
is retried.

Bad credentials are named, file by file, before any connection: awscrt reports an unreadable
PEM as a bare RuntimeError ("AWS_ERROR_INVALID_ARGUMENT") that says nothing of which file. A CA
that did not sign the broker is slow to show: s2n delays a failed TLS negotiation by 10-30 s
(its "blinding" against timing attacks), longer than our connect timeout, so a timed-out
attempt is kept and waited on again (a second connect() would fail with "Connection already in
progress"), and a plain TLS probe without a client certificate tells at once whether the
broker's certificate verifies against our CA file.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
import socket
import ssl
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict

from awscrt import exceptions as crt_exceptions
from awscrt import io as crt_io
from awscrt import mqtt
from awsiot import mqtt_connection_builder

from sorter_common.backoff import doubling_delays, sleep_unless_stopped

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]
EventHandler = Callable[[str, Dict[str, Any]], None]


class ConnectionRefused(RuntimeError):
    """The broker or the TLS layer refused us: certificate, key, CA or policy; retrying cannot help."""


class BrokerUnreachable(RuntimeError):
    """No connection this time (network down, broker restarting); worth retrying."""


@dataclass(frozen=True)
class MqttSettings:
    endpoint: str
    port: int  # always explicit: the SDK's default is 443 with ALPN, which a plain broker does not speak
    cert: Path
    key: Path
    ca: Path
    client_id: str
    keep_alive_s: int = 60  # AWS IoT accepts 30..1200; short enough to notice a dead link in ~1 min
    reconnect_min_s: int = 1
    reconnect_max_s: int = 32
    connect_timeout_s: float = 10.0


PROBE_TIMEOUT_S = 5.0
# (what a PEM file of each kind holds, the line to name when it is missing). The key header is
# spelt in parts so that secret scanners do not take this module for a committed key.
_CERTIFICATE_PEM = (re.compile("-----BEGIN CERTIFICATE-----"), "-----BEGIN CERTIFICATE-----")
_PRIVATE_KEY_PEM = (re.compile("-----BEGIN [A-Z ]*" + "PRIVATE KEY-----"), "-----BEGIN " + "PRIVATE KEY-----")


def check_credential_files(settings: MqttSettings) -> None:
    """Raise ConnectionRefused naming the first credential file that cannot be what it should be."""
    roles = (
        (settings.cert, "client certificate", _CERTIFICATE_PEM),
        (settings.key, "private key", _PRIVATE_KEY_PEM),
        (settings.ca, "CA certificate", _CERTIFICATE_PEM),
    )
    for path, role, (marker, expected) in roles:
        try:
            text = Path(path).read_bytes().decode("ascii", errors="replace")
        except FileNotFoundError:
            raise ConnectionRefused(f"the {role} file {path} does not exist") from None
        except IsADirectoryError:
            raise ConnectionRefused(f"the {role} file {path} is a folder, not a PEM file") from None
        except OSError as error:
            raise ConnectionRefused(f"cannot read the {role} file {path}: {error.strerror}") from None
        if marker.search(text) is None:
            raise ConnectionRefused(f"the {role} file {path} is not PEM (no {expected} line)")


def _ca_loads(ca: Path) -> bool:
    """Whether the CRT accepts ca as a trust store on its own (tells a bad CA from a bad cert/key pair)."""
    try:
        options = crt_io.TlsContextOptions()
        options.override_default_trust_store_from_path(None, str(ca))
        crt_io.ClientTlsContext(options)
    except (crt_exceptions.AwsCrtError, RuntimeError, ValueError):
        return False
    return True


UNTRUSTED, ANSWERED, UNREACHABLE = "untrusted", "answered", "unreachable"


def probe_server(settings: MqttSettings) -> tuple[str, str | None]:
    """A plain TLS handshake without a client certificate: (UNTRUSTED, why) when the broker's certificate does
    not verify against settings.ca, (ANSWERED, None) when a TLS server answered, (UNREACHABLE, None) when
    nothing did (no route, refused, reset, timed out).

    OpenSSL reports a server it cannot verify at once, where the CRT takes up to 30 s to say only
    "negotiation failed".
    """
    try:
        context = ssl.create_default_context(cafile=str(settings.ca))
        address = (settings.endpoint, settings.port)
        raw = socket.create_connection(address, timeout=PROBE_TIMEOUT_S)
        with raw, context.wrap_socket(raw, server_hostname=settings.endpoint):
            return ANSWERED, None
    except ssl.SSLCertVerificationError as error:
        return UNTRUSTED, str(error.verify_message or error.reason)
    except (ssl.SSLError, ValueError):
        return ANSWERED, None  # a TLS server spoke (and wanted our certificate, say): not evidence against the CA
    except OSError:
        return UNREACHABLE, None


def server_verification_failure(settings: MqttSettings) -> str | None:
    """Why the broker's certificate does not verify against settings.ca, or None if it does or we cannot tell."""
    verdict, reason = probe_server(settings)
    return reason if verdict == UNTRUSTED else None


def _untrusted_server(settings: MqttSettings, reason: str) -> ConnectionRefused:
    return ConnectionRefused(
        f"the broker {settings.endpoint}:{settings.port} presents a certificate that the CA file {settings.ca} "
        f"did not sign ({reason}): use the CA of that broker (AmazonRootCA1.pem for AWS IoT Core)"
    )


# The TLS error of a handshake that ran out of time: the link, never our identity, so it is retried like
# any dropped connection. Every other TLS error is ambiguous: a broker that refuses our certificate is seen
# as a failed negotiation, a failed read (TLS 1.3 sends the refusal after the handshake) or a closed
# connection, and so is a connection reset mid-handshake on a flaky uplink. The probes tell them apart.
TRANSIENT_TLS_ERRORS = frozenset({"AWS_IO_TLS_NEGOTIATION_TIMEOUT"})
CERTIFICATE_PROBE_READ_S = 1.0


def client_certificate_accepted(settings: MqttSettings) -> bool | None:
    """Whether the broker accepts our certificate, by a handshake with it (no MQTT): True when the broker
    waits for our CONNECT, False when it refuses (an alert, or it hangs up), None when nothing answers."""
    try:
        context = ssl.create_default_context(cafile=str(settings.ca))
        context.load_cert_chain(str(settings.cert), str(settings.key))
    except (OSError, ValueError):
        return False  # unusable here too: the CRT's refusal stands
    try:
        raw = socket.create_connection((settings.endpoint, settings.port), timeout=PROBE_TIMEOUT_S)
    except OSError:
        return None
    try:
        with raw, context.wrap_socket(raw, server_hostname=settings.endpoint) as tls:
            tls.settimeout(CERTIFICATE_PROBE_READ_S)
            try:
                return tls.recv(1) != b""  # an MQTT broker says nothing before our CONNECT
            except (TimeoutError, socket.timeout):  # the same class only from 3.10
                return True
    except ssl.SSLError:
        return False  # an alert: our certificate refused
    except OSError:
        return None  # reset or timed out mid-handshake: the network


def _refusal_hint(error: BaseException, settings: MqttSettings) -> str | None:
    """A clear sentence when the error means our identity was refused, else None (worth retrying)."""
    name = getattr(error, "name", "")
    if name in TRANSIENT_TLS_ERRORS:
        return None
    if name.startswith("AWS_IO_TLS") or name.startswith("AWS_IO_FILE") or "CERT" in name or "PEM" in name:
        # Our files loaded (checked before connecting), so either the broker's certificate does not
        # verify against our CA (the first probe tells at once), or the broker refused our certificate,
        # or the network failed mid-handshake: a handshake with our own certificate tells these apart.
        verdict, reason = probe_server(settings)
        if verdict == UNTRUSTED:
            return str(_untrusted_server(settings, reason or "unverified"))
        if verdict == UNREACHABLE or client_certificate_accepted(settings) is not False:
            return None
        return (
            f"TLS with {settings.endpoint}:{settings.port} failed ({name}): the broker does not trust the client "
            f"certificate {settings.cert} (not registered, inactive or from another CA)"
        )
    if name.startswith("AWS_ERROR_MQTT_CONNECTION_REFUSED"):
        return (
            f"the broker at {settings.endpoint}:{settings.port} refused client id {settings.client_id!r} ({name}): "
            "check that its policy allows this client id"
        )
    return None


class MqttLink:
    def __init__(
        self,
        settings: MqttSettings,
        on_message: MessageHandler | None = None,
        on_event: EventHandler | None = None,
    ) -> None:
        self.settings = settings
        self._on_message = on_message
        self._on_event = on_event or (lambda name, details: None)
        self._filters: list[str] = []
        self._pending: Future[Any] | None = None  # a connect() still in flight after its timeout
        check_credential_files(settings)
        try:
            self._connection = self._build()
        except (crt_exceptions.AwsCrtError, RuntimeError):  # awscrt raises both for unusable PEMs
            if not _ca_loads(settings.ca):
                raise ConnectionRefused(f"the CA certificate file {settings.ca} is not a usable PEM file") from None
            raise ConnectionRefused(
                f"the private key {settings.key} does not belong to the client certificate {settings.cert} "
                "(or one of them is corrupt)"
            ) from None
        # One handler for every message, not one per subscription: with a kept session the broker
        # may deliver before subscribe() has run again, and the CRT would call both kinds.
        self._connection.on_message(self._message)

    def _build(self) -> mqtt.Connection:
        settings = self.settings
        return mqtt_connection_builder.mtls_from_path(
            endpoint=settings.endpoint,
            port=settings.port,
            cert_filepath=str(settings.cert),
            pri_key_filepath=str(settings.key),
            ca_filepath=str(settings.ca),
            client_id=settings.client_id,
            clean_session=False,
            keep_alive_secs=settings.keep_alive_s,
            reconnect_min_timeout_secs=settings.reconnect_min_s,
            reconnect_max_timeout_secs=settings.reconnect_max_s,
            on_connection_interrupted=self._interrupted,
            on_connection_resumed=self._resumed,
            enable_metrics_collection=False,  # it sets an MQTT username a plain broker would misread
        )

    def connect(self) -> bool:
        """Connect once; returns whether the broker kept our session. Raises ConnectionRefused/BrokerUnreachable.

        An attempt that timed out is still in flight in the CRT: the next call waits for it
        instead of starting another.
        """
        if self._pending is None:
            self._pending = self._connection.connect()
        try:
            result = self._pending.result(self.settings.connect_timeout_s)
        except (TimeoutError, concurrent.futures.TimeoutError) as error:  # the same class only from 3.11
            reason = server_verification_failure(self.settings)
            if reason is not None:
                raise _untrusted_server(self.settings, reason) from None
            seconds = self.settings.connect_timeout_s
            raise BrokerUnreachable(
                f"{self.settings.endpoint}:{self.settings.port}: no answer within {seconds:.0f} s"
            ) from error
        except crt_exceptions.AwsCrtError as error:
            self._pending = None
            hint = _refusal_hint(error, self.settings)
            if hint is not None:
                raise ConnectionRefused(hint) from None
            raise BrokerUnreachable(f"{self.settings.endpoint}:{self.settings.port}: {error.name}") from error
        self._pending = None
        session_present = bool(result["session_present"])
        self._on_event("connected", {"session_present": session_present})
        return session_present

    def subscribe(self, filters: Sequence[str]) -> None:
        """Subscribe at QoS 1; messages arrive at the connection-wide handler set in __init__."""
        for topic_filter in filters:
            future, _packet_id = self._connection.subscribe(topic_filter, mqtt.QoS.AT_LEAST_ONCE)
            granted = future.result(self.settings.connect_timeout_s)
            if granted.get("qos") is None:
                raise ConnectionRefused(f"the broker refused the subscription to {topic_filter!r} (policy?)")
            if topic_filter not in self._filters:
                self._filters.append(topic_filter)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> Future[Any]:
        """Publish at QoS 1; the future completes when the broker acknowledges (PUBACK)."""
        future: Future[Any]
        future, _packet_id = self._connection.publish(topic, payload, mqtt.QoS.AT_LEAST_ONCE, retain=retain)
        return future

    def disconnect(self, timeout: float = 5.0) -> None:
        try:
            self._connection.disconnect().result(timeout)
        except Exception as error:  # shutting down: a dead link is not worth a traceback
            log.debug("disconnect: %s", error)

    # CRT callbacks run on its event-loop thread: keep them short and never raise.
    def _message(self, topic: str, payload: bytes, **_kwargs: Any) -> None:
        if self._on_message is not None:
            self._on_message(topic, bytes(payload))

    def _interrupted(self, connection: mqtt.Connection, error: Exception, **_kwargs: Any) -> None:
        self._on_event("interrupted", {"error": getattr(error, "name", str(error))})

    def _resumed(self, connection: mqtt.Connection, return_code: Any, session_present: bool, **_kwargs: Any) -> None:
        self._on_event("resumed", {"session_present": bool(session_present), "return_code": int(return_code)})
        if return_code == mqtt.ConnectReturnCode.ACCEPTED and not session_present and self._filters:
            # The broker lost our session (restarted without persistence): subscribe again.
            future, _ = connection.resubscribe_existing_topics()
            future.add_done_callback(lambda done: self._on_event("resubscribed", {"ok": done.exception() is None}))


def connect_with_backoff(
    link: MqttLink,
    stop: threading.Event | Callable[[], bool],
    first_delay_s: float = 1.0,
    max_delay_s: float = 60.0,
) -> bool | None:
    """Retry the first connection with doubling delays; returns session_present, or None if stopped.

    ConnectionRefused propagates: a certificate the broker does not trust will not become trusted.
    """
    should_stop = stop.is_set if isinstance(stop, threading.Event) else stop
    for delay in doubling_delays(first_delay_s, max_delay_s):
        if should_stop():
            break
        try:
            return link.connect()
        except BrokerUnreachable as error:
            log.warning("broker unreachable (%s); retrying in %.0f s", error, delay)
        sleep_unless_stopped(delay, should_stop)  # short naps: a SIGTERM during backoff ends the wait promptly
    return None
