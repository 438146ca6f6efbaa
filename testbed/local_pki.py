"""Certificates for a local mutual-TLS MQTT broker: a CA, a server certificate, client certificates.

Used by the device tests, the subscriber benchmark and `make demo`, so that the subscriber
connects to a broker on 127.0.0.1 exactly as it connects to AWS IoT Core: with a client
certificate and key, checking the server against a CA file. Never for production: AWS IoT
issues the real device certificate (see device.provision).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Short-lived on purpose: these certificates exist for one test run or one demo.
VALIDITY = datetime.timedelta(days=2)
DEFAULT_SERVER_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, as PEM files."""

    cert_path: Path
    key_path: Path
    common_name: str


@dataclass(frozen=True)
class LocalPki:
    """A throwaway CA and the broker's server certificate, all in one folder."""

    folder: Path
    ca: KeyPair
    server: KeyPair

    @property
    def ca_path(self) -> Path:
        return self.ca.cert_path


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256 keys are generated in microseconds (RSA 2048 takes ~100 ms) and AWS IoT accepts them too.
    return ec.generate_private_key(ec.SECP256R1())


def _write_private(path: Path, data: bytes) -> None:
    # Private keys are 0600 from the first byte, as device.provision writes the real one.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _save(folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, name: str) -> KeyPair:
    cert_path = folder / f"{stem}.pem"
    key_path = folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    return KeyPair(cert_path=cert_path, key_path=key_path, common_name=name)


def _builder(subject: str, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate a little clock skew
        .not_valid_after(now + VALIDITY)
    )


def make_ca(folder: Path, name: str = "trash-sorter test CA", stem: str = "ca") -> KeyPair:
    """A self-signed CA certificate and key under folder."""
    folder.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        _builder(name, subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _save(folder, stem, cert, key, name)


def _load_ca(ca: KeyPair) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    key = serialization.load_pem_private_key(ca.key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{ca.key_path} is not an EC key made by make_ca")
    return cert, key


def _issue(ca: KeyPair, folder: Path, stem: str, name: str, *, server_hosts: tuple[str, ...] = ()) -> KeyPair:
    ca_cert, ca_key = _load_ca(ca)
    key = _new_key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server_hosts else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(name, ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if server_hosts:
        names: list[x509.GeneralName] = []
        for host in server_hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return _save(folder, stem, cert, key, name)


def make_pki(
    folder: Path, server_hosts: tuple[str, ...] = DEFAULT_SERVER_HOSTS, *, ca_name: str = "trash-sorter test CA"
) -> LocalPki:
    """A CA and a server certificate valid for server_hosts (IP addresses or DNS names).

    Two PKIs in two folders stand for two authorities, e.g. AWS IoT Core's (Amazon Root CA 1, which
    also signs the device certificates) and a Greengrass core device's own CA for its local broker.
    """
    folder = Path(folder)
    ca = make_ca(folder, name=ca_name)
    server = _issue(ca, folder, "server", server_hosts[0], server_hosts=server_hosts)
    return LocalPki(folder=folder, ca=ca, server=server)


def issue_client(pki: LocalPki, name: str) -> KeyPair:
    """A client certificate the broker trusts; name becomes its common name (the MQTT identity)."""
    return _issue(pki.ca, pki.folder, f"client-{name}", name)


def make_untrusted_client(folder: Path, name: str) -> KeyPair:
    """A client certificate signed by a CA the broker has never seen (an unregistered device)."""
    folder = Path(folder)
    rogue_ca = make_ca(folder, name="unknown CA", stem=f"rogue-ca-{name}")
    return _issue(rogue_ca, folder, f"untrusted-{name}", name)
