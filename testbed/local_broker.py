"""A real mosquitto broker on 127.0.0.1 with mutual TLS, for tests, the benchmark and `make demo`.

    pki = make_pki(Path(tmp) / "pki")
    with LocalBroker(pki) as broker:            # starts on a free port, waits until it accepts
        ...connect to broker.host:broker.port with a client from issue_client(pki, "pi")...
        broker.kill(); broker.start()           # a broker outage and its recovery, same port

Only clients with a certificate signed by the PKI's CA get in (require_certificate), and the
certificate's common name is the MQTT identity, as with AWS IoT Core.

A Greengrass core device's local broker presents a certificate from the core's own CA but admits
the client devices AWS IoT registered (client device auth checks them with the cloud): for that,
`client_ca` names the CA that signed the clients, and `pki` is the core's.

    core = LocalBroker(make_pki(tmp / "core", ca_name="core CA"), client_ca=cloud_pki.ca_path)
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from .local_pki import LocalPki

LOOPBACK = "127.0.0.1"
# Debian's mosquitto drops root privileges to this user before it reads certificates.
BROKER_USER = "mosquitto"


class BrokerError(RuntimeError):
    """The broker could not be started (missing binary, bad config, port taken...)."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on right now (the broker binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class LocalBroker:
    """One mosquitto process; start() and kill() may be called repeatedly on the same port."""

    def __init__(
        self, pki: LocalPki, *, host: str = LOOPBACK, port: int | None = None, client_ca: Path | None = None
    ) -> None:
        self.pki = pki
        self.client_ca = client_ca if client_ca is not None else pki.ca_path
        self.host = host
        self.port = port if port is not None else free_port(host)
        self._process: subprocess.Popen[bytes] | None = None
        self._folder = self._prepare_folder()
        self.config_path = self._folder / "mosquitto.conf"
        self.log_path = self._folder / "mosquitto.log"
        self._write_config()

    @property
    def endpoint(self) -> str:
        return self.host

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    def _prepare_folder(self) -> Path:
        # The broker gets its own copies of the CA, server certificate and key in a 0700 folder
        # owned by the user it runs as: readable after mosquitto drops root, private to it.
        mosquitto = shutil.which("mosquitto")
        if mosquitto is None:
            raise BrokerError("mosquitto is not installed: apt-get install mosquitto (Debian package)")
        self._binary = mosquitto
        folder = Path(tempfile.mkdtemp(prefix="trash-sorter-broker-"))
        for source, name in (
            (self.client_ca, "ca.pem"),  # verifies the clients' certificates
            (self.pki.server.cert_path, "server.pem"),
            (self.pki.server.key_path, "server.key"),
        ):
            shutil.copyfile(source, folder / name)
            os.chmod(folder / name, 0o600)
        self._run_as = self._broker_user()
        if self._run_as is not None:
            for path in [folder, *folder.iterdir()]:
                os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)
        return folder

    @staticmethod
    def _broker_user() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None  # mosquitto keeps running as us and reads our files
        try:
            return pwd.getpwnam(BROKER_USER)
        except KeyError as error:
            raise BrokerError(
                f"running as root but user {BROKER_USER!r} does not exist; install the mosquitto package"
            ) from error

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} {self.host}",
            f"cafile {self._folder / 'ca.pem'}",
            f"certfile {self._folder / 'server.pem'}",
            f"keyfile {self._folder / 'server.key'}",
            "require_certificate true",
            "use_identity_as_username true",
            "allow_anonymous false",
            # In-memory sessions only: a killed broker forgets them, the hardest case for the client.
            "persistence false",
            "max_queued_messages 10000",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        if self._run_as is not None:
            lines.append(f"user {self._run_as.pw_name}")
        self.config_path.write_text("\n".join(lines) + "\n")
        if self._run_as is not None:
            os.chown(self.config_path, self._run_as.pw_uid, self._run_as.pw_gid)

    def start(self, timeout: float = 10.0) -> None:
        """Start mosquitto and return once it says it is running and accepts TCP connections."""
        if self.running:
            return
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        # Appending keeps the log of earlier runs (an outage test reads the whole story).
        log = open(self.log_path, "ab")  # noqa: SIM115 - the broker process owns it until stop()
        try:
            self._process = subprocess.Popen(
                [self._binary, "-c", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(f"mosquitto exited with {self._process.returncode}:\n{self.log_text()[-2000:]}")
            # Both: something else listening on the port must not pass for our broker.
            if " running" in self._log_since(log_start) and _accepts(self.host, self.port):
                return
            time.sleep(0.02)
        self.kill()
        raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout}s")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker gracefully (SIGTERM), or kill it if it does not exit in time."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Kill the broker abruptly (SIGKILL): an outage, with every in-memory session lost."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self, timeout: float = 10.0) -> None:
        self.kill()
        self.start(timeout)

    def _log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def cleanup(self) -> None:
        """Stop the broker and delete its folder (with its copy of the server key)."""
        self.stop()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()
