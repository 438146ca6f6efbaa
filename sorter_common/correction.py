"""The correction message (JSON, versioned): the person at the bin says which bin a decision belonged in.

{"v": 1, "camera", "seq", "label", "shown", "ts", "by"}: `camera` and `seq` name the decision
(the camera's thing name and the prediction's seq), `label` is the true class, `shown` the label
the display showed (a class id or "unsure"), `ts` when the person pressed (seconds since the
epoch), `by` the display's client id. label == shown is a confirmation: the decision was right.
The Pi publishes it on `<prefix>/<camera>/corrections` (sorter_common.topics); the camera's
component, the IoT rule and the metrics read it. Consumers ignore what they cannot parse:
parse_correction raises message.MessageError with a kind they can count.
"""

from typing import Any, Dict, NamedTuple, Optional, Sequence

from .classes import UNSURE
from .message import MessageError, _field, _load, _number, encode
from .topics import topic_level_problem

# CloudWatch metric names the corrections rule counts into (namespace iot_identity.METRICS_NAMESPACE),
# read back by `python -m training pipeline status`: by true class, by shown label, and per pair.
CORRECTED_TO_METRIC = "CorrectedTo/"
CORRECTED_FROM_METRIC = "CorrectedFrom/"
FIELD_PAIR_METRIC = "Field/"


def pair_metric_name(shown, truth):  # type: (str, str) -> str
    """The metric of one cell of the field confusion matrix: shown as `shown`, truly `truth`."""
    return FIELD_PAIR_METRIC + shown + "/" + truth


# Versioned on its own: a change here does not bump the prediction's "v", nor the other way round.
CORRECTION_VERSION = 1


class Correction(NamedTuple):
    camera: str
    seq: int
    label: str
    shown: str
    ts: float
    by: str

    @property
    def confirms(self) -> bool:
        """The person pressed the middle: the decision shown was right."""
        return self.label == self.shown


def correction_dict(camera: str, seq: int, label: str, shown: str, ts: float, by: str) -> Dict[str, Any]:
    return {
        "v": CORRECTION_VERSION,
        "camera": camera,
        "seq": int(seq),
        "label": label,
        "shown": shown,
        "ts": round(float(ts), 3),
        "by": by,
    }


def encode_correction(correction: Correction) -> bytes:
    return encode(correction_dict(*correction))


def parse_correction(payload: bytes, classes: Optional[Sequence[str]] = None) -> Correction:
    """Validate a correction payload; with classes given, a true class outside them is refused too.

    `shown` may also be "unsure"; the true class never is (an unsure decision is corrected to a bin).
    """
    data = _load(payload, CORRECTION_VERSION)
    camera = _field(data, "camera", str)
    problem = topic_level_problem(camera)
    if problem:
        raise MessageError(MessageError.KIND_MALFORMED, f"camera {camera!r}: {problem}")
    seq = _field(data, "seq", int)
    if seq < 1:
        raise MessageError(MessageError.KIND_MALFORMED, f"seq {seq} is not a decision's (they start at 1)")
    label = _field(data, "label", str)
    shown = _field(data, "shown", str)
    if label == UNSURE:
        raise MessageError(MessageError.KIND_UNKNOWN_LABEL, f"the true class cannot be {UNSURE!r}")
    if classes is not None:
        if label not in classes:
            raise MessageError(MessageError.KIND_UNKNOWN_LABEL, f"label {label!r} is not one of {list(classes)}")
        if shown != UNSURE and shown not in classes:
            raise MessageError(MessageError.KIND_UNKNOWN_LABEL, f"shown {shown!r} is not one of {list(classes)}")
    return Correction(
        camera=camera,
        seq=seq,
        label=label,
        shown=shown,
        ts=_number(data, "ts"),
        by=_field(data, "by", str),
    )
