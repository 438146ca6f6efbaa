"""Greengrass discovery for the local path: where the camera's own MQTT broker is, and the CA it presents.

The Pi is a Greengrass client device of the camera's core (device.provision associates them). The
discovery API answers, over mutual TLS with the Pi's own certificate, the core's addresses (the IP
detector keeps them current) and the core's CA (Greengrass V2 developer guide, "Greengrass discovery
RESTful API"). The request and the parsing are awsiotsdk's own DiscoveryClient and DiscoverResponse.

Discovery itself needs the internet, so its answer is cached (written atomically) and read back
when the next start finds no internet: the camera's broker is still on the LAN.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from awscrt import io as crt_io
from awsiot.greengrass_discovery import DiscoverResponse, DiscoveryClient

from sorter_common.atomic_build import replace_file

log = logging.getLogger(__name__)

DISCOVERY_TIMEOUT_S = 10.0
CA_SUFFIX = ".ca.pem"  # the core's CA, next to the cache: the MQTT connection reads it from a file


class DiscoveryFailed(RuntimeError):
    """No answer from the discovery endpoint (no internet, refused, not associated); one line."""


@dataclass(frozen=True)
class LocalCore:
    """One way to reach one core device's broker."""

    thing_arn: str
    host: str
    port: int
    ca_pem: str  # the core device's CA certificates (PEM), which signed its broker's certificate

    @property
    def name(self) -> str:
        return self.thing_arn.rsplit("/", 1)[-1]


def discover(
    thing_name: str, *, host: str, port: int | None, cert: Path, key: Path, ca: Path,
    timeout_s: float = DISCOVERY_TIMEOUT_S,
) -> dict[str, Any]:
    """The discovery answer for thing_name, as the JSON document the API returns."""
    try:
        options = crt_io.TlsContextOptions.create_client_with_mtls_from_path(str(cert), str(key))
        options.override_default_trust_store_from_path(None, str(ca))
        socket_options = crt_io.SocketOptions()
        socket_options.connect_timeout_ms = int(timeout_s * 1000)
        client = DiscoveryClient(
            crt_io.ClientBootstrap.get_or_create_static_default(), socket_options, crt_io.ClientTlsContext(options),
            region="", gg_server_name=host,
        )
        if port is not None:
            client.port = port  # the SDK picks 443 (ALPN x-amzn-http-ca) or 8443; a setting overrides it
        response: DiscoverResponse = client.discover(thing_name).result(timeout_s)
    except Exception as error:  # DiscoveryException (HTTP status), AwsCrtError (TLS, DNS), a timeout
        code = getattr(error, "http_response_code", None)
        reason = f"HTTP {code}" if code is not None else getattr(error, "name", None) or type(error).__name__
        raise DiscoveryFailed(f"Greengrass discovery at {host} failed ({reason})") from None
    return to_payload(response)


def to_payload(response: DiscoverResponse) -> dict[str, Any]:
    """The SDK's parsed answer back as the API's JSON document (the cache stores this)."""
    return {
        "GGGroups": [
            {
                "GGGroupId": group.gg_group_id,
                "Cores": [
                    {
                        "thingArn": core.thing_arn,
                        "Connectivity": [
                            {"Id": c.id, "HostAddress": c.host_address, "PortNumber": c.port, "Metadata": c.metadata}
                            for c in core.connectivity or []
                        ],
                    }
                    for core in group.cores or []
                ],
                "CAs": list(group.certificate_authorities or []),
            }
            for group in response.gg_groups or []
        ]
    }


def cores_of(payload: dict[str, Any]) -> list[LocalCore]:
    """Every (core, address) of the answer, in its order: the order the core listed its addresses."""
    response = DiscoverResponse.from_payload(payload)
    found = []
    for group in response.gg_groups or []:
        ca_pem = "".join(pem if pem.endswith("\n") else pem + "\n" for pem in group.certificate_authorities or [])
        for core in group.cores or []:
            for connectivity in core.connectivity or []:
                if connectivity.host_address and connectivity.port:
                    found.append(LocalCore(str(core.thing_arn), str(connectivity.host_address),
                                           int(connectivity.port), ca_pem))
    return found


def save(cache: Path, payload: dict[str, Any]) -> None:
    replace_file(cache, json.dumps(payload, indent=1, sort_keys=True) + "\n")


def load(cache: Path) -> dict[str, Any] | None:
    """The cached answer, or None when there is none or it cannot be read (said once in the log)."""
    try:
        payload = json.loads(cache.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("local path: ignoring the discovery cache %s (%s)", cache, error)
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("GGGroups"), list):
        log.warning("local path: ignoring the discovery cache %s (not a discovery answer)", cache)
        return None
    return payload


def ca_file(cache: Path, core: LocalCore) -> Path:
    """The core's CA as a file (the MQTT connection reads one), written beside the cache."""
    path = cache.with_name(cache.name + CA_SUFFIX)
    if not path.exists() or path.read_text() != core.ca_pem:
        replace_file(path, core.ca_pem)
    return path


def describe(cores: Sequence[LocalCore]) -> str:
    return ", ".join(f"{core.name} at {core.host}:{core.port}" for core in cores) or "no core"
