"""The correction contract (sorter_common.correction): what the Pi sends and the camera accepts."""

from __future__ import annotations

import json

import pytest

from sorter_common.correction import Correction, encode_correction, parse_correction
from sorter_common.message import MAX_MESSAGE_BYTES, MessageError
from sorter_common.topics import all_corrections_filter, corrections_topic

CLASSES = ("compost", "landfill", "recycling")


def good(**changes: object) -> bytes:
    fields = {"v": 1, "camera": "cam-1", "seq": 7, "label": "recycling", "shown": "landfill", "ts": 1.5, "by": "pi"}
    fields.update(changes)
    return json.dumps(fields).encode()


def test_round_trip_and_confirmation() -> None:
    sent = Correction("cam-1", 7, "recycling", "landfill", 1700000000.25, "trash-sorter-pi")
    assert parse_correction(encode_correction(sent), CLASSES) == sent
    assert not sent.confirms
    assert sent._replace(shown="recycling").confirms


def test_topics_sit_under_the_prefix_of_that_camera() -> None:
    assert corrections_topic("cam-1") == "trash-sorter/cam-1/corrections"
    assert corrections_topic("cam-1", "shop/a") == "shop/a/cam-1/corrections"
    assert all_corrections_filter("shop/a") == "shop/a/+/corrections"


def test_an_unsure_decision_may_be_corrected_but_the_truth_is_a_class() -> None:
    assert parse_correction(good(shown="unsure"), CLASSES).shown == "unsure"
    with pytest.raises(MessageError) as error:
        parse_correction(good(label="unsure"), CLASSES)
    assert error.value.kind == MessageError.KIND_UNKNOWN_LABEL


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (good(label="glass"), MessageError.KIND_UNKNOWN_LABEL),
        (good(shown="glass"), MessageError.KIND_UNKNOWN_LABEL),
        (good(v=2), MessageError.KIND_VERSION),
        (good(seq=0), MessageError.KIND_MALFORMED),
        (good(seq=True), MessageError.KIND_MALFORMED),
        (good(seq="7"), MessageError.KIND_MALFORMED),
        (good(camera="a/b"), MessageError.KIND_MALFORMED),
        (good(camera="#"), MessageError.KIND_MALFORMED),
        (good(ts=float("nan")), MessageError.KIND_MALFORMED),
        (good(by=None), MessageError.KIND_MALFORMED),
        (b"[1]", MessageError.KIND_MALFORMED),
        (b"\xff", MessageError.KIND_MALFORMED),
        (b"[" * 5000, MessageError.KIND_OVERSIZED),
        (b" " * (MAX_MESSAGE_BYTES + 1), MessageError.KIND_OVERSIZED),
    ],
)
def test_bad_corrections_are_refused_with_a_countable_kind(payload: bytes, kind: str) -> None:
    with pytest.raises(MessageError) as error:
        parse_correction(payload, CLASSES)
    assert error.value.kind == kind


def test_a_prediction_is_not_a_correction() -> None:
    prediction = {"v": 1, "device": "cam-1", "seq": 1, "ts": 1.0, "label": "compost", "confidence": 0.9,
                  "top": [], "model": "m"}
    with pytest.raises(MessageError):
        parse_correction(json.dumps(prediction).encode(), CLASSES)
