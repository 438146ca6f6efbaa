"""The prediction and status messages (JSON, versioned) every edge target publishes.

Prediction: {"v": 1, "device", "seq", "ts", "label", "confidence", "top": [[label, prob], ...],
"model"}; label is a class id or "unsure". Status: {"v": 1, "device", "ts", "state", "detail"}.
Consumers ignore what they cannot parse: parse_* raises MessageError with a kind they can count.
"""

import json
import math
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from .classes import UNSURE

SCHEMA_VERSION = 1
# A prediction is ~200 bytes; anything far larger is not ours and is refused before parsing.
MAX_MESSAGE_BYTES = 4096
STATUS_STATES = ("starting", "model-loaded", "running", "error", "stopping")


class MessageError(ValueError):
    """A payload that is not a valid message; kind is one of the KIND_* strings."""

    KIND_OVERSIZED = "oversized"
    KIND_MALFORMED = "malformed"
    KIND_VERSION = "unsupported-version"
    KIND_UNKNOWN_LABEL = "unknown-label"

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class Prediction(NamedTuple):
    device: str
    seq: int
    ts: float
    label: str
    confidence: float
    top: List[Tuple[str, float]]
    model: str


class Status(NamedTuple):
    device: str
    ts: float
    state: str
    detail: str


def prediction_dict(
    device: str,
    seq: int,
    ts: float,
    label: str,
    confidence: float,
    top: Sequence[Tuple[str, float]],
    model: str,
) -> Dict[str, Any]:
    return {
        "v": SCHEMA_VERSION,
        "device": device,
        "seq": int(seq),
        "ts": round(float(ts), 3),
        "label": label,
        "confidence": round(float(confidence), 4),
        "top": [[str(name), round(float(prob), 4)] for name, prob in top],
        "model": model,
    }


def status_dict(device: str, ts: float, state: str, detail: str = "") -> Dict[str, Any]:
    if state not in STATUS_STATES:
        raise ValueError(f"status state {state!r} is not one of {STATUS_STATES}")
    return {"v": SCHEMA_VERSION, "device": device, "ts": round(float(ts), 3), "state": state, "detail": detail}


def encode(message: Dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _load(payload: bytes, version: int = SCHEMA_VERSION) -> Dict[str, Any]:
    if len(payload) > MAX_MESSAGE_BYTES:
        raise MessageError(MessageError.KIND_OVERSIZED, f"{len(payload)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        data = json.loads(payload.decode("utf-8"))
    except RecursionError:
        # A few thousand bytes of nested arrays exhaust the parser's recursion limit.
        raise MessageError(MessageError.KIND_MALFORMED, "JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise MessageError(MessageError.KIND_MALFORMED, f"not JSON ({error})") from None
    if not isinstance(data, dict):
        raise MessageError(MessageError.KIND_MALFORMED, "not a JSON object")
    if data.get("v") != version:
        raise MessageError(MessageError.KIND_VERSION, "v={!r}, expected {}".format(data.get("v"), version))
    return data


def _field(data: Dict[str, Any], name: str, kind: Any) -> Any:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise MessageError(MessageError.KIND_MALFORMED, f"field {name!r} missing or of the wrong type")
    if isinstance(value, float) and not math.isfinite(value):
        raise MessageError(MessageError.KIND_MALFORMED, f"field {name!r} is not a finite number")
    return value


def _number(data: Dict[str, Any], name: str) -> float:
    value = _field(data, name, (int, float))
    try:
        number = float(value)
    except OverflowError:  # an integer of thousands of digits
        raise MessageError(MessageError.KIND_MALFORMED, f"field {name!r} is out of range") from None
    if not math.isfinite(number):
        raise MessageError(MessageError.KIND_MALFORMED, f"field {name!r} is not a finite number")
    return number


def parse_prediction(payload: bytes, classes: Optional[Sequence[str]] = None) -> Prediction:
    """Validate a prediction payload; with classes given, an unknown label is refused too."""
    data = _load(payload)
    label = _field(data, "label", str)
    confidence = _number(data, "confidence")
    if not 0.0 <= confidence <= 1.0:
        raise MessageError(MessageError.KIND_MALFORMED, f"confidence {confidence} outside 0..1")
    raw_top = _field(data, "top", list)
    top = []  # type: List[Tuple[str, float]]
    for entry in raw_top:
        if not (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], str)
            and isinstance(entry[1], (int, float))
            and not isinstance(entry[1], bool)
        ):
            raise MessageError(MessageError.KIND_MALFORMED, "'top' entries must be [label, probability]")
        top.append((entry[0], _number({"top": entry[1]}, "top")))
    if classes is not None and label != UNSURE and label not in classes:
        raise MessageError(MessageError.KIND_UNKNOWN_LABEL, f"label {label!r} is not one of {list(classes)}")
    seq = _field(data, "seq", int)
    if seq < 0:
        raise MessageError(MessageError.KIND_MALFORMED, f"seq {seq} is negative")
    return Prediction(
        device=_field(data, "device", str),
        seq=seq,
        ts=_number(data, "ts"),
        label=label,
        confidence=confidence,
        top=top,
        model=_field(data, "model", str),
    )


def parse_status(payload: bytes) -> Status:
    data = _load(payload)
    state = _field(data, "state", str)
    if state not in STATUS_STATES:
        raise MessageError(MessageError.KIND_MALFORMED, f"status state {state!r} is unknown")
    detail = data.get("detail", "")
    return Status(
        device=_field(data, "device", str),
        ts=_number(data, "ts"),
        state=state,
        detail=detail if isinstance(detail, str) else "",
    )
