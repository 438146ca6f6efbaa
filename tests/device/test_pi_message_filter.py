"""Which messages get shown: stale, duplicate, out-of-order and bad ones never are."""

from __future__ import annotations

from device.pi_subscriber.message_filter import FirstOfKind, Heartbeat, Ignored, MessageFilter, PredictionToShow
from sorter_common.classes import DEFAULT_CLASSES
from sorter_common.message import encode, prediction_dict, status_dict

NOW = 1_800_000_000.0
TOPIC = "trash-sorter/cam-1/predictions"


def make_filter(stale_after_s: float = 10.0) -> MessageFilter:
    return MessageFilter(DEFAULT_CLASSES, stale_after_s, clock=lambda: NOW)


def payload(seq: int, label: str = "compost", ts: float = NOW - 0.1, device: str = "cam-1") -> bytes:
    return encode(prediction_dict(device, seq, ts, label, 0.8, [(label, 0.8)], "m-1"))


def kind(outcome: object) -> str:
    return outcome.kind if isinstance(outcome, Ignored) else type(outcome).__name__


def test_new_decisions_pass_in_sequence_order() -> None:
    checker = make_filter()
    outcomes = [checker.check(TOPIC, payload(seq, ts=NOW - 1 + seq / 10)) for seq in (1, 2, 5)]
    assert [kind(o) for o in outcomes] == ["PredictionToShow"] * 3
    first = outcomes[0]
    assert isinstance(first, PredictionToShow) and first.prediction.seq == 1 and first.prediction.label == "compost"


def test_a_redelivered_message_is_a_duplicate_and_an_older_one_is_out_of_order() -> None:
    checker = make_filter()
    checker.check(TOPIC, payload(4, ts=NOW - 2))
    checker.check(TOPIC, payload(7, ts=NOW - 1))
    assert kind(checker.check(TOPIC, payload(7, ts=NOW - 1))) == "duplicate"
    assert kind(checker.check(TOPIC, payload(4, ts=NOW - 2))) == "duplicate"  # seen before, late redelivery
    assert kind(checker.check(TOPIC, payload(6, ts=NOW - 1.5))) == "out-of-order"  # never seen, but older
    assert checker.counts == {"decision": 2, "duplicate": 2, "out-of-order": 1}


def test_a_restarted_camera_counting_from_zero_again_is_shown() -> None:
    checker = make_filter()
    checker.check(TOPIC, payload(500, ts=NOW - 5))
    assert kind(checker.check(TOPIC, payload(0, ts=NOW - 1))) == "PredictionToShow"
    assert kind(checker.check(TOPIC, payload(1, ts=NOW - 0.5))) == "PredictionToShow"


def test_each_camera_has_its_own_sequence() -> None:
    checker = make_filter()
    assert kind(checker.check(TOPIC, payload(9, device="cam-1"))) == "PredictionToShow"
    assert kind(checker.check("trash-sorter/cam-2/predictions", payload(1, device="cam-2"))) == "PredictionToShow"


def test_stale_messages_are_refused_but_do_not_block_newer_ones() -> None:
    checker = make_filter(stale_after_s=10)
    stale = checker.check(TOPIC, payload(10, ts=NOW - 10.5))
    assert kind(stale) == "stale" and isinstance(stale, Ignored) and stale.device == "cam-1"
    assert kind(checker.check(TOPIC, payload(3, ts=NOW - 9.5))) == "PredictionToShow"


def test_bad_payloads_are_refused_by_kind() -> None:
    checker = make_filter()
    wrong_version = prediction_dict("cam-1", 1, NOW, "compost", 0.5, [], "m")
    wrong_version["v"] = 3
    cases = {
        b"\xff\xfe": "malformed",
        b"[1, 2]": "malformed",
        b"x" * 5000: "oversized",
        encode(wrong_version): "unsupported-version",
        payload(1, label="glass"): "unknown-label",
    }
    for raw, expected in cases.items():
        assert kind(checker.check(TOPIC, raw)) == expected, raw[:20]
    assert kind(checker.check("trash-sorter/cam-1/other", payload(1))) == "unknown-topic"
    assert kind(checker.check(TOPIC, payload(1, label="unsure"))) == "PredictionToShow"


def test_status_messages_are_heartbeats() -> None:
    checker = make_filter()
    outcome = checker.check("trash-sorter/cam-1/status", encode(status_dict("cam-1", NOW, "running")))
    assert isinstance(outcome, Heartbeat) and outcome.status.state == "running"
    assert kind(checker.check("trash-sorter/cam-1/status", b'{"v": 1, "state": "dancing"}')) == "malformed"


def test_first_of_kind_answers_true_once_per_kind() -> None:
    first = FirstOfKind()
    assert [first.first(k) for k in ("stale", "stale", "malformed", "stale")] == [True, False, True, False]
