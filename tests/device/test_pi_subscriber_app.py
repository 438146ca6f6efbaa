"""The subscriber's main loop against a scripted link: subscription failures and flood accounting.

No broker and no sense_emu here: the link is replaced by a fake whose subscribe() fails the way the
CRT does (a refused topic, a future that times out, a link dropped after connect).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from awscrt.exceptions import AwsCrtError

from device.mqtt_link import BrokerUnreachable, ConnectionRefused
from device.pi_subscriber import app, discovery
from device.pi_subscriber.config import load_config
from device.pi_subscriber.display import TerminalRenderer
from device.pi_subscriber.paths import CLOUD, LOCAL, PathState
from testbed.discovery_server import discover_document


class ScriptedLink:
    """Stands in for MqttLink: connect() succeeds, subscribe() raises what it is given, in order."""

    script: ClassVar[list[BaseException]] = []
    during_subscribe: ClassVar[Callable[[ScriptedLink], None] | None] = None
    connect_script: ClassVar[list[BaseException]] = []  # what connect() raises, in order (then it succeeds)
    made: ClassVar[list[ScriptedLink]] = []  # every link the subscriber built, in order

    def __init__(self, settings: Any, on_message: Any = None, on_event: Any = None) -> None:
        self.settings = settings
        self.on_message = on_message
        self.on_event = on_event
        self.subscribe_calls = 0
        self.disconnected = False
        ScriptedLink.made.append(self)

    def connect(self) -> bool:
        if ScriptedLink.connect_script:
            raise ScriptedLink.connect_script.pop(0)
        return False

    def subscribe(self, filters: Any) -> None:
        self.subscribe_calls += 1
        if ScriptedLink.during_subscribe is not None:
            ScriptedLink.during_subscribe(self)
        if ScriptedLink.script:
            raise ScriptedLink.script.pop(0)

    def disconnect(self) -> None:
        self.disconnected = True


@pytest.fixture
def make_subscriber(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., app.Subscriber]:
    monkeypatch.setattr(app, "MqttLink", ScriptedLink)
    monkeypatch.setattr(app, "SUBSCRIBE_FIRST_DELAY_S", 0.05)
    monkeypatch.setattr(ScriptedLink, "script", [])
    monkeypatch.setattr(ScriptedLink, "during_subscribe", None)
    monkeypatch.setattr(ScriptedLink, "connect_script", [])
    monkeypatch.setattr(ScriptedLink, "made", [])

    def make(*flags: str) -> app.Subscriber:
        config = load_config(
            ["--config-dir", str(tmp_path), "--endpoint", "broker.invalid", "--client-id", "pi-test",
             "--display", "terminal", *flags],
            environ={},
        )
        return app.Subscriber(config, TerminalRenderer(), app.EventLog(tmp_path / "events.jsonl"))

    return make


def events(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]


def stop_soon(subscriber: app.Subscriber, after_s: float = 0.3) -> None:
    threading.Timer(after_s, subscriber.request_stop).start()


def test_a_refused_subscription_is_one_clear_error_and_the_config_exit_code(
    make_subscriber: Callable[..., app.Subscriber], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ScriptedLink.script = [ConnectionRefused("the broker refused the subscription to 'trash-sorter/+/x' (policy?)")]
    subscriber = make_subscriber()
    with caplog.at_level(logging.INFO):
        assert subscriber.run() == app.EXIT_CONFIG
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None  # one line, no traceback
    assert "refused the subscription to 'trash-sorter/+/x'" in errors[0].getMessage()
    recorded = events(tmp_path)
    assert [e["event"] for e in recorded] == ["screen", "refused", "stopped"]
    assert "subscribed" not in [e["event"] for e in recorded]


def test_a_timeout_or_a_dropped_link_while_subscribing_is_retried_with_backoff(
    make_subscriber: Callable[..., app.Subscriber], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ScriptedLink.script = [
        TimeoutError(),  # the SUBACK did not come in time
        AwsCrtError(5134, "AWS_ERROR_MQTT_NOT_CONNECTED", "not connected"),  # the link dropped after connect
    ]
    subscriber = make_subscriber()
    ScriptedLink.during_subscribe = lambda link: stop_soon(subscriber) if link.subscribe_calls == 3 else None
    with caplog.at_level(logging.INFO):
        assert subscriber.run() == app.EXIT_OK
    assert subscriber._link.subscribe_calls == 3  # type: ignore[attr-defined]
    recorded = events(tmp_path)
    retries = [e for e in recorded if e["event"] == "subscribe-retry"]
    assert [(e["error"], e["delay_s"]) for e in retries] == [
        ("TimeoutError", 0.05), ("AWS_ERROR_MQTT_NOT_CONNECTED", 0.1),  # doubling delays
    ]
    assert [e["event"] for e in recorded].count("subscribed") == 1
    assert recorded[-1]["event"] == "stopped"
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_sigterm_while_retrying_the_subscription_exits_cleanly(
    make_subscriber: Callable[..., app.Subscriber], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "SUBSCRIBE_FIRST_DELAY_S", 30.0)
    ScriptedLink.script = [TimeoutError()]
    subscriber = make_subscriber()
    stop_soon(subscriber, 0.3)
    assert subscriber.run() == app.EXIT_OK  # not stuck in a 30 s backoff
    assert subscriber._link.disconnected  # type: ignore[attr-defined]


def test_dropped_messages_are_counted_on_the_main_thread_only(
    make_subscriber: Callable[..., app.Subscriber], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "QUEUE_LIMIT", 3)
    subscriber = make_subscriber()
    writers: set[int] = set()

    class WatchedCounter(Counter[str]):
        def __setitem__(self, key: str, value: int) -> None:
            writers.add(threading.get_ident())
            super().__setitem__(key, value)

    subscriber._filter.counts = WatchedCounter()

    def flood(link: ScriptedLink) -> None:  # the CRT thread delivers 8 messages while the inbox holds 3
        crt = threading.Thread(target=lambda: [link.on_message("trash-sorter/cam/predictions", b"{") for _ in range(8)])
        crt.start()
        crt.join()
        stop_soon(subscriber, 0.5)

    ScriptedLink.during_subscribe = flood
    assert subscriber.run() == app.EXIT_OK
    assert writers == {threading.get_ident()}  # the filter's counts were only ever written here
    stopped = events(tmp_path)[-1]
    assert stopped["event"] == "stopped"
    assert stopped["counts"] == {"malformed": 3, "overloaded": 5}


# --- the two paths (issue 16): a refusal of one path, a failed local try, an empty discovery answer ---

CORE = "trash-sorter-cam-1"
CORE_ADDRESS = ("192.0.2.10", 8883)


def cached_discovery(tmp_path: Path) -> Path:
    """A discovery cache naming one camera core, as a previous run left it."""
    ca = tmp_path / "core-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    cache = tmp_path / "discovery.json"
    discovery.save(cache, discover_document([(CORE, ca, [CORE_ADDRESS])]))
    return cache


def test_a_cloud_refusal_while_the_local_path_is_up_ends_only_the_cloud_path(
    make_subscriber: Callable[..., app.Subscriber], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = cached_discovery(tmp_path)
    local_subscribed = threading.Event()
    refusal = ConnectionRefused(f"the broker does not trust the client certificate {tmp_path / 'device.cert.pem'}")

    def subscribe(link: ScriptedLink) -> None:
        if link.settings.endpoint == "broker.invalid":  # the cloud: refused once the local path is up
            assert local_subscribed.wait(10)
            time.sleep(0.3)  # the local path's "subscribed" reaches the main loop first
            raise refusal
        local_subscribed.set()

    ScriptedLink.during_subscribe = subscribe
    subscriber = make_subscriber("--discovery-cache", str(cache))
    finished = threading.Event()

    def stop_after_the_refusal() -> None:
        finished.wait(10)
        stop_soon(subscriber, 0.1)

    threading.Thread(target=stop_after_the_refusal).start()
    with caplog.at_level(logging.INFO):
        recorder = subscriber._events.write

        def write(event: str, **details: Any) -> None:
            recorder(event, **details)
            if event == "refused":
                finished.set()

        subscriber._events.write = write  # type: ignore[method-assign]
        assert subscriber.run() == app.EXIT_OK  # the display goes on through the local path
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and str(tmp_path / "device.cert.pem") in errors[0] and "local path goes on" in errors[0]
    recorded = events(tmp_path)
    assert [(e["event"], e.get("path")) for e in recorded if e["event"] in ("subscribed", "refused")] == [
        ("subscribed", "local"), ("refused", "cloud")]
    assert [e["summary"] for e in recorded if e["event"] == "paths"] == ["local only"]
    cloud = ScriptedLink.made[0]
    assert cloud.settings.endpoint == "broker.invalid"
    assert cloud.disconnected  # connected but refused a topic: not left to the CRT's reconnects


def test_a_local_subscription_refused_leaves_no_local_path_up() -> None:
    state = PathState()
    assert not state.on_event(LOCAL, "connected", {"session_present": False})  # connected carries nothing yet
    state.on_event(LOCAL, "refused", {"error": "policy", "stage": "subscribe"})
    assert state.up[LOCAL] is False and state.summary() == "none" and state.mark() is None
    state.on_event(CLOUD, "subscribed", {})
    assert state.summary() == "cloud only" and state.mark() is None  # never "local only" on a dead path


def test_a_failed_local_try_ends_its_link(make_subscriber: Callable[..., app.Subscriber], tmp_path: Path) -> None:
    cache = cached_discovery(tmp_path)
    subscriber = make_subscriber("--discovery-cache", str(cache))
    ScriptedLink.connect_script = [BrokerUnreachable("192.0.2.10:8883: no answer within 10 s")]
    (core,) = discovery.cores_of(discovery.load(cache) or {})
    assert subscriber._connect_local(core, cache) is False
    (failed,) = [link for link in ScriptedLink.made if link.settings.endpoint == CORE_ADDRESS[0]]
    assert failed.disconnected  # its connect may still be in flight: it must not connect later as us
    assert subscriber._connect_local(core, cache) is True  # the next try, a new link, connects
    assert not ScriptedLink.made[-1].disconnected


def test_a_discovery_answer_naming_no_core_never_replaces_a_good_cache(
    make_subscriber: Callable[..., app.Subscriber], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = cached_discovery(tmp_path)
    before = cache.read_text()
    subscriber = make_subscriber("--discovery-cache", str(cache), "--discovery-endpoint", "greengrass.invalid")
    monkeypatch.setattr(discovery, "discover", lambda *args, **kwargs: {"GGGroups": []})  # a 200, no core
    cores = subscriber._local_cores(cache)
    assert [(core.name, core.host, core.port) for core in cores] == [(CORE, *CORE_ADDRESS)]  # from the cache
    assert cache.read_text() == before
    names = []
    while True:
        try:
            names.append(subscriber._event_inbox.get_nowait()[1])
        except queue.Empty:
            break
    assert names == ["discovery-empty", "discovered"]
