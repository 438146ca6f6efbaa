"""Doubling waits between retries, capped: the one backoff every retry loop in the project uses.

A camera that will not open, a model that is not there yet, a broker that is away, a certificate
still attached: each is retried after 1, 2, 4, ... seconds up to a cap, so a short outage costs
little and a long one does not spin. Python 3.7 syntax: the DeepLens function bundles it.
"""

from __future__ import annotations

import time
from typing import Callable, Iterator


def doubling_delays(first_s: float, max_s: float) -> Iterator[float]:
    """first_s, 2*first_s, 4*first_s, ... never above max_s, without end; start a new one to reset."""
    delay = min(first_s, max_s)
    while True:
        yield delay
        delay = min(delay * 2, max_s)


def sleep_unless_stopped(seconds: float, should_stop: Callable[[], bool], nap_s: float = 0.1) -> bool:
    """Sleep up to seconds in short naps, so a stop request (a SIGTERM's flag) ends the wait promptly.

    Returns whether the wait was cut short by should_stop. With a threading.Event, use its wait().
    """
    deadline = time.monotonic() + seconds
    while not should_stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(nap_s, left))
    return True
