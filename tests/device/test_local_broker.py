"""The local mutual-TLS kit itself: certificates that chain correctly, a broker that starts, dies and
comes back on the same port, and the MQTT link's first-connection behaviour."""

from __future__ import annotations

import ipaddress
import os
import pwd
import socket
import stat
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from device.mqtt_link import ConnectionRefused, MqttLink, MqttSettings, connect_with_backoff
from testbed.local_broker import BrokerError, LocalBroker, free_port
from testbed.local_pki import LocalPki, issue_client, make_untrusted_client


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_certificates_chain_to_the_ca_and_keys_are_private(pki: LocalPki, tmp_path: Path) -> None:
    ca = load(pki.ca_path)
    server = load(pki.server.cert_path)
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    client = issue_client(pki, "pi-1")
    load(client.cert_path).verify_directly_issued_by(ca)
    usage = load(client.cert_path).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert stat.S_IMODE(os.stat(client.key_path).st_mode) == 0o600
    rogue = make_untrusted_client(tmp_path, "rogue")
    with pytest.raises(ValueError):
        load(rogue.cert_path).verify_directly_issued_by(ca)


def test_broker_runs_as_its_own_user_and_restarts_on_the_same_port(pki: LocalPki) -> None:
    broker = LocalBroker(pki)
    try:
        broker.start()
        assert broker.running
        if os.geteuid() == 0:  # the trap: mosquitto drops root and must still read its key
            folder = broker.config_path.parent
            assert folder.stat().st_uid == pwd.getpwnam("mosquitto").pw_uid
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        port = broker.port
        broker.kill()
        assert not broker.running
        with pytest.raises(OSError):
            socket.create_connection((broker.host, port), timeout=0.5).close()
        broker.start()
        assert broker.port == port
        socket.create_connection((broker.host, port), timeout=0.5).close()
        assert "running" in broker.log_text()
    finally:
        broker.cleanup()
    assert not broker.config_path.parent.exists()


def test_broker_start_fails_clearly_when_its_port_is_taken(pki: LocalPki) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        broker = LocalBroker(pki, port=squatter.getsockname()[1])
        try:
            with pytest.raises(BrokerError, match="mosquitto exited"):
                broker.start(timeout=5)
        finally:
            broker.cleanup()


def settings(pki: LocalPki, port: int, name: str) -> MqttSettings:
    client = issue_client(pki, name)
    return MqttSettings("127.0.0.1", port, client.cert_path, client.key_path, pki.ca_path, name, connect_timeout_s=3)


def test_first_connection_retries_with_backoff_until_the_broker_is_up(pki: LocalPki) -> None:
    broker = LocalBroker(pki, port=free_port())
    events: list[str] = []
    link = MqttLink(settings(pki, broker.port, "late-pi"), on_event=lambda name, _details: events.append(name))
    starter = threading.Timer(1.5, broker.start)  # the Pi boots faster than the network/broker
    began = time.monotonic()
    starter.start()
    try:
        assert connect_with_backoff(link, threading.Event(), first_delay_s=0.5) is False
        assert time.monotonic() - began >= 1.5
        assert events == ["connected"]
        link.disconnect()
    finally:
        starter.join()
        broker.cleanup()


def test_a_stop_request_ends_the_backoff_and_missing_credentials_are_refused(pki: LocalPki, tmp_path: Path) -> None:
    link = MqttLink(settings(pki, free_port(), "lonely-pi"))
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    began = time.monotonic()
    assert connect_with_backoff(link, stop, first_delay_s=5) is None
    assert time.monotonic() - began < 3
    missing = MqttSettings("127.0.0.1", 1, tmp_path / "nope.pem", tmp_path / "nope.key", pki.ca_path, "x")
    with pytest.raises(ConnectionRefused, match=r"nope\.pem does not exist"):
        MqttLink(missing)
