"""The subscriber's main loop: MQTT messages in, screens out, until SIGTERM.

Two paths bring the cameras' messages (README "When the internet is down"): the cloud path (AWS
IoT Core) and, with local_path on, the local one (the camera core's own broker on the LAN, found
by Greengrass discovery or its cache). Each path connects and subscribes on its own thread, so a
path that is down never holds up the other; both deliver every decision and the message filter
shows each once.

MQTT callbacks run on the CRT's thread and only enqueue; everything else (filtering, drawing)
happens on the main thread, so the display is never drawn from two threads at once.
Exit codes: 0 stopped by SIGTERM/SIGINT, 2 bad configuration or credentials refused, 3 no display.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import datetime
import json
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from awscrt.exceptions import AwsCrtError

from device.mqtt_link import BrokerUnreachable, ConnectionRefused, MqttLink, MqttSettings, connect_with_backoff
from sorter_common.backoff import doubling_delays, sleep_unless_stopped
from sorter_common.correction import encode_correction
from sorter_common.topics import corrections_topic

from . import discovery, patterns
from .config import SubscriberConfig, SubscriberConfigError, load_config
from .display import DisplayError, Renderer, make_renderer
from .joystick import Corrected, CorrectionDesk, StickPoller
from .message_filter import FirstOfKind, Heartbeat, Ignored, MessageFilter, PredictionToShow
from .paths import CLOUD, LOCAL, PathState
from .screen_state import Screen, ScreenState

log = logging.getLogger("device.pi_subscriber")

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_DISPLAY = 3
TICK_S = 0.2  # how often idle/offline/dim transitions and a pending SIGTERM are noticed
QUEUE_LIMIT = 10_000  # messages waiting to be drawn; beyond this a flood is dropped and counted
SUBSCRIBE_FIRST_DELAY_S = 1.0  # a subscription that failed on a dropped link or a timeout: retry after this,
SUBSCRIBE_MAX_DELAY_S = 30.0  # doubling up to this, while the CRT reconnects the link on its own
KIND_INTERNAL = "unparseable"  # a message the filter itself failed on; counted and logged like any refusal
LOCAL_RETRY_FIRST_S = 2.0  # no local broker reachable (or no discovery answer yet): try again after this,
LOCAL_RETRY_MAX_S = 300.0  # doubling up to this
THREAD_JOIN_S = 2.0


class EventLog:
    """Optional JSON-lines trace of what happened, for tests, the benchmark and troubleshooting."""

    def __init__(self, path: Path | None) -> None:
        self._handle: TextIO | None = path.open("a", buffering=1) if path is not None else None

    def write(self, event: str, **details: Any) -> None:
        if self._handle is not None:
            self._handle.write(json.dumps({"t": time.time(), "event": event, **details}) + "\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class Subscriber:
    def __init__(self, config: SubscriberConfig, renderer: Renderer, events: EventLog) -> None:
        self.config = config
        self._renderer = renderer
        self._events = events
        # (kind, name, details, path): ("message", topic, payload, path) or ("event", name, details, path).
        self._inbox: queue.Queue[tuple[str, Any, Any, str]] = queue.Queue(QUEUE_LIMIT)
        # Connection events never wait behind a flood, nor get dropped by one: their own (small) queue.
        self._event_inbox: queue.SimpleQueue[tuple[str, Any, Any, str]] = queue.SimpleQueue()
        self._filter = MessageFilter(config.classes, config.stale_after_s)
        self._first = FirstOfKind()
        self._state = ScreenState(config, time.monotonic())
        self._shown: Screen | None = None
        self._stopping = False
        self._stick = StickPoller.of(renderer) if config.joystick else StickPoller(None)
        self._corrections = CorrectionDesk(config.bins, config.rotation, config.idle_after_s, config.client_id)
        # Messages dropped on the CRT thread because the inbox was full. Only that thread writes it
        # (under the lock); the main thread folds it into the filter's counts, which only it touches.
        self._dropped = 0
        self._dropped_folded = 0
        self._dropped_lock = threading.Lock()
        self._paths = PathState()
        self._link = MqttLink(
            MqttSettings(
                endpoint=config.endpoint, port=config.port, cert=config.cert, key=config.key, ca=config.ca,
                client_id=config.client_id,
            ),
            on_message=lambda topic, payload: self._enqueue_message(topic, payload, CLOUD),
            on_event=lambda name, details: self._enqueue_event(name, details, CLOUD),
        )
        self._local_link: MqttLink | None = None  # set by the local path's thread once a core answers
        # Messages of a path that arrive before its "subscribed" (a kept session delivers at once) wait for
        # it, so the event log tells the story in order, as the single-threaded subscriber did.
        self._held: dict[str, list[tuple[str, Any]]] = {CLOUD: [], LOCAL: []}
        self._subscribed: set[str] = set()
        self._threads: list[threading.Thread] = []

    def request_stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        # Only a flag: a signal handler must not take locks the interrupted code may hold.
        self._stopping = True

    def _enqueue_message(self, topic: str, payload: bytes, path: str = CLOUD) -> None:
        try:
            self._inbox.put_nowait(("message", topic, payload, path))
        except queue.Full:
            with self._dropped_lock:
                self._dropped += 1

    def _fold_dropped(self) -> None:
        """Main thread: add the messages the CRT thread dropped since last time to the counts."""
        with self._dropped_lock:
            dropped = self._dropped
        new = dropped - self._dropped_folded
        if new:
            self._dropped_folded = dropped
            self._filter.counts["overloaded"] += new
            if self._first.first("overloaded"):
                log.warning("message flood: %d messages dropped; further drops are only counted", new)

    def _enqueue_event(self, name: str, details: dict[str, Any], path: str = CLOUD) -> None:
        self._event_inbox.put(("event", name, details, path))
        with contextlib.suppress(queue.Full):  # wakes the main loop; in a flood it is awake anyway
            self._inbox.put_nowait(("wake", "", None, path))

    def run(self) -> int:
        try:
            self._refresh()
            self._start(self._run_cloud, "cloud-path")
            if self.config.local_path:
                self._start(self._run_local, "local-path")
            while not self._stopping:
                try:
                    item = self._event_inbox.get_nowait()
                except queue.Empty:
                    try:
                        item = self._inbox.get(timeout=TICK_S)
                    except queue.Empty:
                        item = None
                if item is not None and item[0] != "wake":
                    exit_code = self._handle(*item)
                    if exit_code is not None:
                        return exit_code
                for direction in self._stick.presses():
                    self._press(direction)
                self._fold_dropped()
                self._refresh()
            return EXIT_OK
        finally:
            self._stopping = True  # the path threads end their waits
            self._shutdown()

    def _start(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _run_cloud(self) -> None:
        """Connect to AWS IoT Core and subscribe; a refusal ends the cloud path, as retrying cannot help (and the
        subscriber with exit 2, unless the local path is up: see _path_event)."""
        log.info("connecting to %s:%d as %s", self.config.endpoint, self.config.port, self.config.client_id)
        stage = "connect"
        try:
            session_present = connect_with_backoff(self._link, lambda: self._stopping)
            if session_present is None:
                return  # stopped while still trying to connect
            stage = "subscribe"
            if not self._subscribe(self._link, CLOUD):
                return  # stopped while still trying to subscribe
        except ConnectionRefused as error:
            if stage == "subscribe":
                self._link.disconnect()  # connected, but refused a topic: the CRT would keep it reconnecting
            self._enqueue_event("refused", {"error": str(error), "stage": stage}, CLOUD)
            return
        self._enqueue_event("subscribed", {"topics": list(self.config.topics), "session_present": session_present},
                            CLOUD)

    def _run_local(self) -> None:
        """Find the camera core's broker (discovery, else its cache), connect and subscribe; retry until one answers."""
        cache = self.config.discovery_cache
        for delay in doubling_delays(LOCAL_RETRY_FIRST_S, LOCAL_RETRY_MAX_S):
            if self._stopping:
                return
            cores = self._local_cores(cache)
            if not cores and self.config.discovery_host is None:
                return  # nothing to discover with and nothing cached: said once, the cloud path goes on alone
            for core in cores:
                if self._stopping:
                    return
                if self._connect_local(core, cache):
                    return
            sleep_unless_stopped(delay, lambda: self._stopping, nap_s=TICK_S)

    def _local_cores(self, cache: Path) -> list[discovery.LocalCore]:
        config = self.config
        payload = None
        if config.discovery_host is not None:
            try:
                payload = discovery.discover(
                    config.client_id, host=config.discovery_host, port=config.discovery_port, cert=config.cert,
                    key=config.key, ca=config.ca,
                )
            except discovery.DiscoveryFailed as error:
                self._enqueue_event("discovery-failed", {"error": str(error)}, LOCAL)
            else:
                cores = discovery.cores_of(payload)
                if cores:
                    try:
                        discovery.save(cache, payload)
                    except OSError as error:
                        self._enqueue_event("discovery-cache-failed", {"error": f"{cache}: {error.strerror}"},
                                            LOCAL)
                    self._enqueue_event("discovered", {"cores": discovery.describe(cores), "cached": False}, LOCAL)
                    return cores
                # An answer naming no core (the Pi not associated yet, or no longer): never over a good cache.
                self._enqueue_event("discovery-empty", {
                    "error": f"discovery named no camera core (is this Pi associated? run device.provision); "
                    f"ignored, {cache} kept"}, LOCAL)
        payload = discovery.load(cache)
        if payload is None:
            if config.discovery_host is None:
                self._enqueue_event("discovery-failed", {
                    "error": f"no discovery endpoint (endpoint {config.endpoint} is not an AWS IoT endpoint; set "
                    "discovery_endpoint) and no cached answer"}, LOCAL)
            return []
        cores = discovery.cores_of(payload)
        self._enqueue_event("discovered", {"cores": discovery.describe(cores), "cached": True}, LOCAL)
        return cores

    def _connect_local(self, core: discovery.LocalCore, cache: Path) -> bool:
        """One try at one address of one core: connected and subscribed, or False (said in the log)."""
        link: MqttLink | None = None
        try:
            link = MqttLink(
                MqttSettings(endpoint=core.host, port=core.port, cert=self.config.cert, key=self.config.key,
                             ca=discovery.ca_file(cache, core), client_id=self.config.client_id),
                on_message=lambda topic, payload: self._enqueue_message(topic, payload, LOCAL),
                on_event=lambda name, details: self._enqueue_event(name, details, LOCAL),
            )
            link.connect()
        except (ConnectionRefused, BrokerUnreachable, OSError) as error:
            if link is not None:
                # A timed-out connect is still in flight in the CRT: left alone it could connect later with
                # our client id, and the broker would drop the two connections in turn. The next try builds
                # a new link (the next address, or this one after the pause), so this one is ended here.
                link.disconnect()
            self._enqueue_event("local-unreachable", {"core": core.name, "address": f"{core.host}:{core.port}",
                                                      "error": str(error)}, LOCAL)
            return False
        try:
            if not self._subscribe(link, LOCAL):
                link.disconnect()
                return False
        except ConnectionRefused as error:  # the core's client device auth refused a topic: not retried
            self._enqueue_event("refused", {"error": str(error), "stage": "subscribe"}, LOCAL)
            link.disconnect()
            return True  # the core's policy will not change by itself: no more tries until a restart
        self._local_link = link
        self._enqueue_event("subscribed", {"topics": list(self.config.topics), "core": core.name,
                                           "address": f"{core.host}:{core.port}"}, LOCAL)
        return True

    def _subscribe(self, link: Any, path: str) -> bool:
        """Subscribe, retrying with doubling delays after a timeout or a dropped link; False if stopped first.

        ConnectionRefused (the broker's policy refused a topic) propagates: retrying cannot fix it.
        """
        for delay in doubling_delays(SUBSCRIBE_FIRST_DELAY_S, SUBSCRIBE_MAX_DELAY_S):
            if self._stopping:
                break
            try:
                link.subscribe(self.config.topics)
                return True
            except (AwsCrtError, concurrent.futures.TimeoutError, TimeoutError) as error:
                reason = getattr(error, "name", None) or type(error).__name__
                self._enqueue_event("subscribe-retry", {"error": reason, "delay_s": delay}, path)
            sleep_unless_stopped(delay, lambda: self._stopping, nap_s=TICK_S)  # SIGTERM ends the wait promptly
        return False

    def _path_event(self, path: str, name: str, details: dict[str, Any]) -> int | None:
        """A connection event of one path: log it, record it, follow which paths are up."""
        if name == "refused":
            if path == CLOUD and not self._paths.up[LOCAL]:
                # No other path to show from (local_path off, or not up yet): bad credentials end the subscriber.
                log.error("cannot %s: %s", details.get("stage", "connect"), details["error"])
                self._events.write("refused", error=details["error"])
                return EXIT_CONFIG
            if path == CLOUD:
                # The local path is up and keeps the display right: end only the cloud path, say it once.
                log.error("cloud path: cannot %s: %s; the local path goes on alone", details.get("stage", "connect"),
                          details["error"])
            else:
                log.error("local path: cannot %s: %s; the cloud path goes on alone", details.get("stage"),
                          details["error"])
        elif name == "subscribed":
            where = f" on {details['core']} at {details['address']}" if path == LOCAL else ""
            log.info("%s path: subscribed to %s%s", path, ", ".join(self.config.topics), where)
        elif name == "subscribe-retry":
            log.warning("%s path: subscribing failed (%s); retrying in %.0f s", path, details["error"],
                        details["delay_s"])
        elif path == LOCAL and name in ("discovery-failed", "discovery-empty", "discovery-cache-failed",
                                        "local-unreachable"):
            if self._first.first("local:" + name):  # every retry would say the same: once, then only the event log
                log.warning("local path: %s", details.get("error"))
        elif name == "discovered":
            log.info("local path: %s%s", details["cores"], " (from the cache)" if details["cached"] else "")
        else:
            log.info("%s path: connection %s %s", path, name, details)
        self._events.write(name, path=path, **details)
        if self._paths.on_event(path, name, details):
            summary = self._paths.summary()
            log.info("paths to the cameras: %s", summary)
            self._events.write("paths", summary=summary)
            self._refresh()
        return None

    def _handle(self, kind: str, name: str, details: Any, path: str = CLOUD) -> int | None:
        if kind == "event":
            exit_code = self._path_event(path, name, details)
            if name == "subscribed":
                self._subscribed.add(path)
                held, self._held[path] = self._held[path], []
                for topic, payload in held:
                    self._handle("message", topic, payload, path)
            return exit_code
        if path not in self._subscribed:
            if len(self._held[path]) < QUEUE_LIMIT:
                self._held[path].append((name, details))
            else:  # a flood before the subscription completed: counted like any other overload
                with self._dropped_lock:
                    self._dropped += 1
            return None
        now = time.monotonic()
        try:
            outcome = self._filter.check(name, details)
        except Exception as error:  # no payload may stop the display: a parser bug is one more refusal
            outcome = Ignored(KIND_INTERNAL, f"{type(error).__name__}: {error}")
            self._filter.counts[KIND_INTERNAL] += 1
        if isinstance(outcome, PredictionToShow):
            prediction = outcome.prediction
            self._state.on_decision(prediction.label, now)
            self._corrections.on_decision(prediction.device, prediction.seq, prediction.label, now)
            self._refresh()
            self._events.write("shown", device=prediction.device, seq=prediction.seq, label=prediction.label,
                               path=path)
        elif isinstance(outcome, Heartbeat):
            self._state.on_heartbeat(now, outcome.status.state)
            self._events.write("heartbeat", device=outcome.status.device, state=outcome.status.state, path=path)
        elif isinstance(outcome, Ignored):
            self._ignored(outcome, path)
        return None

    def _press(self, direction: str) -> None:
        """A joystick press: correct (or confirm) the decision on the screen, and say so on the matrix."""
        outcome = self._corrections.on_press(direction, time.monotonic(), time.time())
        if not isinstance(outcome, Corrected):
            self._events.write("nothing-to-correct", direction=direction, reason=outcome.reason)
            self._refresh()
            return
        correction = outcome.correction
        topic = corrections_topic(correction.camera, self.config.topic_prefix)
        details = {"camera": correction.camera, "seq": correction.seq, "label": correction.label,
                   "shown": correction.shown}
        log.info("correction: %s seq %d was %s, is %s", correction.camera, correction.seq, correction.shown,
                 correction.label)
        self._events.write("corrected", direction=direction, **details)
        self._refresh()
        try:
            future = self._link.publish(topic, encode_correction(correction))
        except Exception as error:  # the CRT refuses at once only when the connection object is unusable
            self._events.write("correction-failed", error=str(error), **details)
            return
        # QoS 1: the CRT resends after a reconnect; the answer (PUBACK or failure) arrives on its thread.
        future.add_done_callback(
            lambda done: self._enqueue_event(
                "correction-published" if done.exception() is None else "correction-failed",
                {**details, **({"error": str(done.exception())} if done.exception() is not None else {})},
            )
        )

    def _ignored(self, outcome: Ignored, path: str = CLOUD) -> None:
        count = self._filter.counts[outcome.kind]
        if outcome.kind == "duplicate" and self._paths.local_in_use:
            # Both paths deliver every decision: the second copy is the normal case, not worth a warning.
            self._events.write("ignored", kind=outcome.kind, count=count, device=outcome.device, path=path)
            return
        if self._first.first(outcome.kind):
            # Once per kind: QoS 1 duplicates or a misbehaving publisher must not flood the journal.
            log.warning("ignoring %s message (%s); further ones are only counted", outcome.kind, outcome.detail)
        self._events.write("ignored", kind=outcome.kind, count=count, device=outcome.device, path=path)

    def _refresh(self) -> None:
        now = time.monotonic()
        state = self._with_path_mark(self._state.screen(now, datetime.datetime.now().time()))
        screen = self._corrections.overlay(state, now)
        if screen == self._shown:
            return
        if self._shown is None or screen.low_light != self._shown.low_light:
            self._renderer.set_low_light(screen.low_light)
        if self._shown is None or screen.frame != self._shown.frame:
            self._renderer.show(screen.frame, screen.caption)
            if self._shown is None or screen.caption != self._shown.caption:
                self._events.write("screen", caption=screen.caption, low_light=screen.low_light)
        self._shown = screen

    def _with_path_mark(self, screen: Screen) -> Screen:
        path = self._paths.mark()
        if path is None:
            return screen
        return dataclasses.replace(screen, frame=patterns.with_path_mark(screen.frame, path),
                                   caption=f"{screen.caption}, {path} path only")

    def _shutdown(self) -> None:
        try:
            self._renderer.clear()
        finally:
            self._renderer.close()
            for thread in self._threads:
                thread.join(THREAD_JOIN_S)
            self._link.disconnect()
            if self._local_link is not None:
                self._local_link.disconnect()
            self._fold_dropped()
            counts = dict(sorted(self._filter.counts.items()))
            log.info("stopped; messages by outcome: %s", counts or "none")
            self._events.write("stopped", counts=counts)
            self._events.close()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(argv)
    except SubscriberConfigError as error:
        log.error("%s", error)
        return EXIT_CONFIG
    logging.getLogger().setLevel(config.log_level)
    try:
        renderer = make_renderer(config.display, config.rotation)
    except DisplayError as error:
        log.error("%s", error)
        return EXIT_DISPLAY
    try:
        events = EventLog(config.events_path)
    except OSError as error:
        log.error("cannot open the events file %s: %s", config.events_path, error.strerror)
        renderer.close()
        return EXIT_CONFIG
    try:
        subscriber = Subscriber(config, renderer, events)
    except ConnectionRefused as error:
        log.error("cannot connect: %s", error)
        renderer.clear()
        renderer.close()
        events.close()
        return EXIT_CONFIG
    # systemd stops the service with SIGTERM; Ctrl+C in a terminal sends SIGINT: same clean exit.
    signal.signal(signal.SIGTERM, subscriber.request_stop)
    signal.signal(signal.SIGINT, subscriber.request_stop)
    return subscriber.run()
