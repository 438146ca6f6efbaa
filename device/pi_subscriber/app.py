"""The subscriber's main loop: MQTT messages in, screens out, until SIGTERM.

MQTT callbacks run on the CRT's thread and only enqueue; everything else (filtering, drawing)
happens on the main thread, so the display is never drawn from two threads at once.
Exit codes: 0 stopped by SIGTERM/SIGINT, 2 bad configuration or credentials refused, 3 no display.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
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

from device.mqtt_link import ConnectionRefused, MqttLink, MqttSettings, connect_with_backoff
from sorter_common.backoff import doubling_delays, sleep_unless_stopped
from sorter_common.correction import encode_correction
from sorter_common.topics import corrections_topic

from .config import SubscriberConfig, SubscriberConfigError, load_config
from .display import DisplayError, Renderer, make_renderer
from .joystick import Corrected, CorrectionDesk, StickPoller
from .message_filter import FirstOfKind, Heartbeat, Ignored, MessageFilter, PredictionToShow
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
        self._inbox: queue.Queue[tuple[str, Any, Any]] = queue.Queue(QUEUE_LIMIT)
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
        self._link = MqttLink(
            MqttSettings(
                endpoint=config.endpoint, port=config.port, cert=config.cert, key=config.key, ca=config.ca,
                client_id=config.client_id,
            ),
            on_message=self._enqueue_message,
            on_event=self._enqueue_event,
        )

    def request_stop(self, signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        # Only a flag: a signal handler must not take locks the interrupted code may hold.
        self._stopping = True

    def _enqueue_message(self, topic: str, payload: bytes) -> None:
        try:
            self._inbox.put_nowait(("message", topic, payload))
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

    def _enqueue_event(self, name: str, details: dict[str, Any]) -> None:
        with contextlib.suppress(queue.Full):  # a flood of messages: events are the least important
            self._inbox.put_nowait(("event", name, details))

    def run(self) -> int:
        try:
            self._refresh()
            log.info("connecting to %s:%d as %s", self.config.endpoint, self.config.port, self.config.client_id)
            try:
                session_present = connect_with_backoff(self._link, lambda: self._stopping)
            except ConnectionRefused as error:
                log.error("cannot connect: %s", error)
                self._events.write("refused", error=str(error))
                return EXIT_CONFIG
            if session_present is None:
                return EXIT_OK  # stopped while still trying to connect
            try:
                if not self._subscribe():
                    return EXIT_OK  # stopped while still trying to subscribe
            except ConnectionRefused as error:
                log.error("cannot subscribe: %s", error)
                self._events.write("refused", error=str(error))
                return EXIT_CONFIG
            log.info("subscribed to %s (session kept: %s)", ", ".join(self.config.topics), session_present)
            self._events.write("subscribed", topics=list(self.config.topics), session_present=session_present)
            while not self._stopping:
                try:
                    item = self._inbox.get(timeout=TICK_S)
                except queue.Empty:
                    item = None
                if item is not None:
                    self._handle(*item)
                for direction in self._stick.presses():
                    self._press(direction)
                self._fold_dropped()
                self._refresh()
            return EXIT_OK
        finally:
            self._shutdown()

    def _subscribe(self) -> bool:
        """Subscribe, retrying with doubling delays after a timeout or a dropped link; False if stopped first.

        ConnectionRefused (the broker's policy refused a topic) propagates: retrying cannot fix it.
        """
        for delay in doubling_delays(SUBSCRIBE_FIRST_DELAY_S, SUBSCRIBE_MAX_DELAY_S):
            if self._stopping:
                break
            try:
                self._link.subscribe(self.config.topics)
                return True
            except (AwsCrtError, concurrent.futures.TimeoutError, TimeoutError) as error:
                reason = getattr(error, "name", None) or type(error).__name__
                log.warning("subscribing failed (%s); retrying in %.0f s", reason, delay)
                self._events.write("subscribe-retry", error=reason, delay_s=delay)
            sleep_unless_stopped(delay, lambda: self._stopping, nap_s=TICK_S)  # SIGTERM ends the wait promptly
        return False

    def _handle(self, kind: str, name: str, details: Any) -> None:
        if kind == "event":
            log.info("connection %s %s", name, details)
            self._events.write(name, **details)
            return
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
            self._events.write("shown", device=prediction.device, seq=prediction.seq, label=prediction.label)
        elif isinstance(outcome, Heartbeat):
            self._state.on_heartbeat(now, outcome.status.state)
            self._events.write("heartbeat", device=outcome.status.device, state=outcome.status.state)
        elif isinstance(outcome, Ignored):
            self._ignored(outcome)

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

    def _ignored(self, outcome: Ignored) -> None:
        count = self._filter.counts[outcome.kind]
        if self._first.first(outcome.kind):
            # Once per kind: QoS 1 duplicates or a misbehaving publisher must not flood the journal.
            log.warning("ignoring %s message (%s); further ones are only counted", outcome.kind, outcome.detail)
        self._events.write("ignored", kind=outcome.kind, count=count, device=outcome.device)

    def _refresh(self) -> None:
        now = time.monotonic()
        screen = self._corrections.overlay(self._state.screen(now, datetime.datetime.now().time()), now)
        if screen == self._shown:
            return
        if self._shown is None or screen.low_light != self._shown.low_light:
            self._renderer.set_low_light(screen.low_light)
        if self._shown is None or screen.frame != self._shown.frame:
            self._renderer.show(screen.frame, screen.caption)
            if self._shown is None or screen.caption != self._shown.caption:
                self._events.write("screen", caption=screen.caption, low_light=screen.low_light)
        self._shown = screen

    def _shutdown(self) -> None:
        try:
            self._renderer.clear()
        finally:
            self._renderer.close()
            self._link.disconnect()
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
