from __future__ import annotations

import itertools
import threading
import time

from sorter_common.backoff import doubling_delays, sleep_unless_stopped


def test_delays_double_up_to_the_cap_and_stay_there() -> None:
    assert list(itertools.islice(doubling_delays(1.0, 10.0), 6)) == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_first_delay_above_the_cap_is_capped() -> None:
    assert next(doubling_delays(5.0, 2.0)) == 2.0


def test_sleep_runs_its_full_time_when_nobody_stops_it() -> None:
    started = time.monotonic()
    assert sleep_unless_stopped(0.3, lambda: False, nap_s=0.05) is False
    assert time.monotonic() - started >= 0.3


def test_a_stop_request_ends_the_sleep_within_a_nap() -> None:
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    started = time.monotonic()
    assert sleep_unless_stopped(30.0, stop.is_set, nap_s=0.05) is True
    assert time.monotonic() - started < 2.0
