"""The local path's pure parts (issue 16): which paths are up and the mark, the discovery answer and its
cache, and the settings; the end-to-end behaviour is in test_local_path.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from awsiot.greengrass_discovery import DiscoverResponse

from device.pi_subscriber import discovery, patterns
from device.pi_subscriber.config import (
    DEFAULT_DISCOVERY_CACHE,
    PATH_MARK_COLOUR,
    SubscriberConfigError,
    load_config,
)
from device.pi_subscriber.paths import CLOUD, LOCAL, PathState
from testbed.discovery_server import discover_document

ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"


def test_the_mark_shows_only_while_the_local_path_is_in_use_and_one_path_is_left() -> None:
    state = PathState()
    assert state.on_event(CLOUD, "subscribed", {}) and state.summary() == "cloud only"
    assert state.mark() is None  # no local path found (yet): today's screen, no mark
    assert state.on_event(LOCAL, "subscribed", {}) and state.summary() == "both" and state.mark() is None
    assert state.on_event(CLOUD, "interrupted", {"error": "AWS_IO_SOCKET_CLOSED"})
    assert (state.summary(), state.mark()) == ("local only", LOCAL)
    assert not state.on_event(CLOUD, "resumed", {"return_code": 5})  # refused on reconnect: still down
    assert state.on_event(CLOUD, "resumed", {"return_code": 0, "session_present": False})
    assert state.on_event(LOCAL, "interrupted", {}) and state.mark() == CLOUD
    assert state.on_event(CLOUD, "interrupted", {}) and (state.summary(), state.mark()) == ("none", None)


def test_the_path_mark_is_one_corner_pixel() -> None:
    frame = patterns.blank()
    local = patterns.with_path_mark(frame, LOCAL)
    cloud = patterns.with_path_mark(frame, CLOUD)
    assert [i for i, pixel in enumerate(local) if pixel != patterns.OFF] == [0]  # top-left
    assert [i for i, pixel in enumerate(cloud) if pixel != patterns.OFF] == [7]  # top-right
    assert local[0] == cloud[7] == PATH_MARK_COLOUR


def test_the_documented_answer_gives_each_address_of_each_core_with_its_ca(tmp_path: Path) -> None:
    (tmp_path / "ca1.pem").write_text("-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n")
    (tmp_path / "ca2.pem").write_text("-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----")
    payload = discover_document([
        ("cam-1", tmp_path / "ca1.pem", [("192.168.1.5", 8883), ("10.0.0.5", 8883)]),
        ("cam-2", tmp_path / "ca2.pem", [("192.168.1.6", 8884)]),
    ])
    cores = discovery.cores_of(payload)
    assert [(c.name, c.host, c.port) for c in cores] == [
        ("cam-1", "192.168.1.5", 8883), ("cam-1", "10.0.0.5", 8883), ("cam-2", "192.168.1.6", 8884)
    ]
    assert cores[2].ca_pem.endswith("-----END CERTIFICATE-----\n")  # a file the CRT can read
    # What the cache stores is what the SDK parsed, and parses back to the same answer.
    assert discovery.to_payload(DiscoverResponse.from_payload(payload)) == payload


def test_the_cache_is_written_whole_and_a_damaged_one_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "state" / "discovery.json"
    payload: dict[str, object] = {"GGGroups": []}
    discovery.save(cache, payload)
    assert discovery.load(cache) == payload
    assert [p.name for p in cache.parent.iterdir()] == ["discovery.json"]  # no temporary file left behind
    cache.write_text('{"GGGroups": [')  # cut short
    assert discovery.load(cache) is None
    cache.write_text(json.dumps(["not", "an", "answer"]))
    assert discovery.load(cache) is None
    assert discovery.load(tmp_path / "none.json") is None


def test_the_discovery_endpoint_comes_from_the_region_of_the_iot_endpoint(tmp_path: Path) -> None:
    config = load_config(["--config-dir", str(tmp_path), "--endpoint", ENDPOINT], environ={})
    assert (config.local_path, config.discovery_host, config.discovery_port) == (
        True, "greengrass-ats.iot.eu-west-1.amazonaws.com", None
    )
    assert config.discovery_cache == DEFAULT_DISCOVERY_CACHE
    local = load_config(["--config-dir", str(tmp_path), "--endpoint", "127.0.0.1"], environ={})
    assert local.discovery_host is None  # not an AWS IoT endpoint: discovery needs discovery_endpoint
    flags = ["--config-dir", str(tmp_path), "--endpoint", "127.0.0.1", "--discovery-endpoint", "127.0.0.1:8443",
             "--local-path", "off"]
    given = load_config(flags, environ={"TRASH_SORTER_DISCOVERY_CACHE": "/x/d.json"})
    assert (given.local_path, given.discovery_host, given.discovery_port) == (False, "127.0.0.1", 8443)
    assert given.discovery_cache == Path("/x/d.json")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--local-path", "maybe"], "setting 'local_path' = 'maybe' is not allowed; expected on or off"),
        (["--discovery-endpoint", "host:99999"], "setting 'discovery_endpoint' = 'host:99999' is not allowed; "
         "the port must be a number in 1..65535"),
        (["--discovery-endpoint", "ht tp://x"], "setting 'discovery_endpoint' = 'ht tp://x' is not allowed; "
         "expected host or host:port, e.g. greengrass-ats.iot.eu-west-1.amazonaws.com"),
    ],
)
def test_a_bad_local_path_setting_is_one_line(tmp_path: Path, flags: list[str], message: str) -> None:
    with pytest.raises(SubscriberConfigError) as error:
        load_config(["--config-dir", str(tmp_path), "--endpoint", ENDPOINT, *flags], environ={})
    assert str(error.value) == message
