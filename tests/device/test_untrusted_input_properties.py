"""Property-based tests (hypothesis) for the parsers that take untrusted input on the Pi.

The message parser and filter read whatever anyone with publish rights sends; the config loader
reads a file a person edits by hand. Whatever they get, they answer with a result or their own
one-line error, never another exception: cases no one listed are tried here.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.pi_subscriber.config import SETTING_HELP, SubscriberConfigError, load_config
from device.pi_subscriber.message_filter import Heartbeat, Ignored, MessageFilter, PredictionToShow
from sorter_common.message import MessageError, Prediction, parse_prediction, parse_status

CLASSES = ("compost", "landfill", "recycling")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)
# Objects shaped like a message, so the checks past "is it a JSON object" are reached too.
message_like = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, "1", None]) | st.integers(),
        "device": st.text(max_size=10) | json_values,
        "seq": st.integers() | json_values,
        "ts": st.floats() | st.integers(min_value=-(10**400), max_value=10**400) | json_values,
        "label": st.sampled_from([*CLASSES, "unsure", "glass"]) | json_values,
        "confidence": st.floats() | st.integers(min_value=-(10**400), max_value=10**400) | json_values,
        "top": st.lists(st.tuples(st.text(max_size=5), st.floats() | st.integers()).map(list), max_size=3)
        | json_values,
        "model": st.text(max_size=5) | json_values,
        "state": st.sampled_from(["running", "stopping", "bogus"]),
    },
)


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@given(st.binary(max_size=5000) | json_values.map(_encode) | message_like.map(_encode))
@settings(max_examples=400, deadline=None)
def test_the_message_parsers_return_a_message_or_a_message_error(payload: bytes) -> None:
    for parse in (lambda data: parse_prediction(data, CLASSES), parse_status):
        try:
            parsed = parse(payload)
        except MessageError as error:
            assert error.kind in ("oversized", "malformed", "unsupported-version", "unknown-label")
            continue
        if isinstance(parsed, Prediction):
            assert parsed.label in (*CLASSES, "unsure")
            assert 0.0 <= parsed.confidence <= 1.0 and math.isfinite(parsed.ts) and parsed.seq >= 0


topics = st.one_of(
    st.text(max_size=40),
    st.builds(lambda name, kind: f"trash-sorter/{name}/{kind}", st.text(max_size=12),
              st.sampled_from(["predictions", "status", "other"])),
)


@given(st.lists(st.tuples(topics, message_like.map(_encode) | st.binary(max_size=200)), max_size=30))
@settings(max_examples=200, deadline=None)
def test_the_filter_never_raises_and_keeps_a_bounded_memory(messages: list[tuple[str, bytes]]) -> None:
    checked = MessageFilter(CLASSES, stale_after_s=10.0, clock=time.time, max_cameras=4)
    for topic, payload in messages:
        outcome = checked.check(topic, payload)
        assert isinstance(outcome, PredictionToShow | Heartbeat | Ignored)
        if isinstance(outcome, PredictionToShow):
            # The camera is who the topic says, never the payload's "device".
            assert topic.split("/")[-2] == outcome.prediction.device
    assert checked.cameras_remembered <= 4


def test_the_filter_forgets_the_least_recent_of_many_made_up_cameras() -> None:
    checked = MessageFilter(CLASSES, stale_after_s=10.0)
    now = time.time()
    for number in range(10_000):
        payload = _encode({"v": 1, "device": "x", "seq": 1, "ts": now, "label": "compost", "confidence": 0.9,
                           "top": [], "model": "m"})
        assert isinstance(checked.check(f"trash-sorter/cam-{number}/predictions", payload), PredictionToShow)
    assert checked.cameras_remembered == 64


def toml_value(value: Any) -> str:
    """A TOML inline value: JSON's strings, numbers and arrays are TOML too; tables go inline."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)} = {toml_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


toml_values = st.recursive(
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30) | st.sampled_from(["#00ff00", "up", "21:30-07:00", "compost", "trash-sorter/+/status"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
config_keys = st.sampled_from([*SETTING_HELP, "topics", "bins", "classes", "unknown"])
bins_tables = st.dictionaries(
    st.sampled_from([*CLASSES, "glass"]),
    st.fixed_dictionaries({}, optional={"colour": toml_values, "direction": toml_values}),
    max_size=4,
)


@given(st.dictionaries(config_keys, toml_values, max_size=6), bins_tables)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_config_loader_returns_a_config_or_one_line(tmp_path: Path, top: dict[str, Any],
                                                        bins: dict[str, Any]) -> None:
    top.pop("bins", None)
    lines = [f"{key} = {toml_value(value)}" for key, value in top.items()]
    lines += [f"[bins.{name}]\n" + "\n".join(f"{k} = {toml_value(v)}" for k, v in style.items())
              for name, style in bins.items()]
    (tmp_path / "subscriber.toml").write_text("\n".join(lines) + "\n")
    try:
        config = load_config(["--config-dir", str(tmp_path)], environ={})
    except SubscriberConfigError as error:
        assert "\n" not in str(error) and str(error)
        return
    assert set(config.bins) == set(config.classes) and config.endpoint


@given(st.binary(max_size=300))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_bytes_as_the_config_file_give_a_config_or_one_line(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "subscriber.toml").write_bytes(data)
    try:
        load_config(["--config-dir", str(tmp_path), "--endpoint", "h"], environ={})
    except SubscriberConfigError as error:
        assert "\n" not in str(error)
