"""A Greengrass discovery endpoint on 127.0.0.1, for the local-path tests, the benchmark and the demo.

Written from the documentation, since the service itself is not open source: AWS IoT Greengrass V2
developer guide, "Greengrass discovery RESTful API"
(https://docs.aws.amazon.com/greengrass/v2/developerguide/greengrass-discover-api.html):
- GET /greengrass/discover/thing/<thing-name> over HTTPS with TLS mutual authentication (the
  client device's X.509 certificate); port 8443, or 443 with the ALPN protocol `x-amzn-http-ca`;
- 200 with the discover response document: GGGroups (in V2 one group per core device,
  "greengrassV2-coreDevice-<core thing name>"), each with Cores (thingArn, Connectivity: Id,
  HostAddress, PortNumber, Metadata) and CAs (the core device's CA certificates, PEM);
  the spelling of the keys is that of the page's cURL example, which awsiotsdk's parser reads;
- a client device discovers only the core devices it is associated with
  (BatchAssociateClientDeviceWithCoreDevice); here anything else answers 404.

    with DiscoveryServer(cloud_pki) as discovery:   # the server certificate stands for Amazon's
        discovery.associate("trash-sorter-pi", core_thing="trash-sorter-cam-1", core_ca=core_pki.ca_path,
                            addresses=[("127.0.0.1", core_broker.port)])
        ...subscriber with discovery_endpoint = f"127.0.0.1:{discovery.port}"...
        discovery.stop(); discovery.start()          # the internet going away and coming back
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from .local_broker import LOOPBACK, free_port
from .local_pki import LocalPki

ALPN_PROTOCOL = "x-amzn-http-ca"
PATH_PREFIX = "/greengrass/discover/thing/"
ARN_PREFIX = "arn:aws:iot:us-east-1:123456789012:thing/"


def discover_document(cores: Sequence[tuple[str, Path, Sequence[tuple[str, int]]]]) -> dict[str, Any]:
    """The documented response for a client device associated with these (core thing, CA file, addresses)."""
    return {
        "GGGroups": [
            {
                "GGGroupId": f"greengrassV2-coreDevice-{core}",
                "Cores": [
                    {
                        "thingArn": ARN_PREFIX + core,
                        "Connectivity": [
                            {"Id": f"AUTOIP_{host}_{index}", "HostAddress": host, "PortNumber": port, "Metadata": ""}
                            for index, (host, port) in enumerate(addresses)
                        ],
                    }
                ],
                "CAs": [ca.read_text()],
            }
            for core, ca, addresses in cores
        ]
    }


class DiscoveryServer:
    """The discovery endpoint; start() and stop() may be called repeatedly on the same port."""

    def __init__(self, pki: LocalPki, *, port: int | None = None) -> None:
        self.pki = pki
        self.host = LOOPBACK
        self.port = port if port is not None else free_port()
        self.associations: dict[str, list[tuple[str, Path, list[tuple[str, int]]]]] = {}
        self.requests: list[str] = []  # the thing names asked about, in order
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def associate(self, thing: str, *, core_thing: str, core_ca: Path, addresses: Sequence[tuple[str, int]]) -> None:
        self.associations.setdefault(thing, []).append((core_thing, core_ca, list(addresses)))

    def _context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.server.cert_path, self.pki.server.key_path)
        context.load_verify_locations(self.pki.ca_path)
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the client device's certificate
        context.set_alpn_protocols([ALPN_PROTOCOL])
        return context

    def start(self) -> None:
        if self._server is not None:
            return
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                thing = self.path[len(PATH_PREFIX):] if self.path.startswith(PATH_PREFIX) else ""
                server.requests.append(thing)
                cores = server.associations.get(thing)
                status, body = (200, json.dumps(discover_document(cores)).encode()) if cores else (404, b"{}")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the tests read `requests`

        http = ThreadingHTTPServer((self.host, self.port), Handler)
        http.socket = self._context().wrap_socket(http.socket, server_side=True)
        http.daemon_threads = True
        self._server = http
        self._thread = threading.Thread(target=http.serve_forever, name="discovery-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> DiscoveryServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
