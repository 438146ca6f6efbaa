"""The harnesses' reading of the subscriber's event log: complete lines only, each event once."""

from __future__ import annotations

from pathlib import Path

from testbed.subscriber import EventTail


def test_a_line_still_being_written_waits_and_each_event_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.poll() == []  # the subscriber has not opened it yet
    path.write_bytes(b'{"event": "subscribed"}\n{"event": "sho')
    assert tail.poll() == [{"event": "subscribed"}]
    with open(path, "ab") as log:
        log.write(b'wn", "seq": 1}\n')
    assert tail.poll() == [{"event": "shown", "seq": 1}]
    assert tail.poll() == []
    assert tail.events == [{"event": "subscribed"}, {"event": "shown", "seq": 1}]


def test_waiting_stops_at_the_timeout_or_when_the_process_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"event": "subscribed"}\n')
    tail = EventTail(path)
    assert tail.wait_until(lambda events: any(e["event"] == "subscribed" for e in events), 1.0)
    assert not tail.wait_until(lambda events: any(e["event"] == "shown" for e in events), 0.05)
    assert not tail.wait_until(lambda events: False, 60.0, gone=lambda: True)
