"""Score what reached the display against the truth, draw the LED pictures, print the summary table.

Definitions used in the table and summary.json:
- a decision is one prediction the edge published (the demo has it publish every frame, so each
  frame's decision can be scored); "shown" means the Pi subscriber drew it;
- frame accuracy: shown decisions whose label is the class of the item in front of the camera;
- settled accuracy: the same, counting only frames where the smoothing window lies entirely
  within one item (the first frames of an item still average in the previous one);
- item accuracy: the label on the display at each item's last frame;
- latency: from the message's ts (set by the edge just before publishing) to the subscriber's
  "shown" event, written right after the frame is on the matrix.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from device.pi_subscriber.config import DEFAULT_BINS
from device.pi_subscriber.patterns import decision_frame
from edge_core.settings import default
from sorter_common.classes import UNSURE
from testbed.emu_screen import as_rgb565

from . import led
from .display_watch import ScreenRead
from .stream import Frame

Event = dict[str, Any]
SUMMARY_FILE = "summary.json"


def percentile(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def shown_by_seq(events: Sequence[Event]) -> dict[int, Event]:
    shown: dict[int, Event] = {}
    for event in events:
        if event.get("event") == "shown":
            shown.setdefault(int(event["seq"]), event)
    return shown


def score(
    frames: Sequence[Frame], shown: Mapping[int, Event], published: Mapping[int, Mapping[str, Any]],
    window: int = default("window"),
) -> dict[str, Any]:
    """Counts, accuracies and latencies; seq n is frame n-1 (one message per frame, in order)."""
    per_bin = Counter(str(event["label"]) for event in shown.values())
    first_of_item: dict[int, int] = {}
    last_of_item: dict[int, int] = {}
    for frame in frames:
        first_of_item.setdefault(frame.item, frame.index)
        last_of_item[frame.item] = frame.index
    correct = settled = settled_correct = 0
    for seq, event in shown.items():
        if not 1 <= seq <= len(frames):
            continue
        frame = frames[seq - 1]
        hit = event["label"] == frame.truth
        correct += hit
        if frame.index - first_of_item[frame.item] >= window - 1:
            settled += 1
            settled_correct += hit
    items_correct = sum(
        1 for item, index in last_of_item.items()
        if index + 1 in shown and shown[index + 1]["label"] == frames[index].truth
    )
    latencies = [
        (float(event["t"]) - float(published[seq]["ts"])) * 1000.0 for seq, event in shown.items() if seq in published
    ]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    return {
        "frames": len(frames),
        "items": len(last_of_item),
        "published": len(published),
        "shown": len(shown),
        "decisions_per_bin": {label: per_bin[label] for label in sorted(per_bin, key=lambda x: (x == UNSURE, x))},
        "frame_accuracy": _ratio(correct, len(shown)),
        "settled_accuracy": _ratio(settled_correct, settled),
        "item_accuracy": _ratio(items_correct, len(last_of_item)),
        "latency_ms": {
            "p50": None if p50 is None else round(p50, 2),
            "p99": None if p99 is None else round(p99, 2),
            "max": round(max(latencies), 2) if latencies else None,
            "count": len(latencies),
        },
    }


def expected_screen(label: str) -> tuple[tuple[int, int, int], ...]:
    """What the matrix holds for a decision with the subscriber's default bins, as sense_emu stores it."""
    return as_rgb565(decision_frame(label, DEFAULT_BINS))


def write_led_pictures(
    frames: Sequence[Frame], shown: Mapping[int, Event], reads: Sequence[ScreenRead], folder: Path
) -> list[dict[str, Any]]:
    """One PNG per display change (a decision that changed the bin shown), plus led_strip.png.

    The picture is a screen read made while that decision was on the display and matching it;
    when every read of it came too late (already the next decision), the first one is used and
    the entry says matched: false.
    """
    reads_by_seq: dict[int, list[ScreenRead]] = {}
    for read in reads:
        reads_by_seq.setdefault(int(read.event["seq"]), []).append(read)
    changes: list[list[int]] = []
    previous: str | None = None
    for seq in sorted(shown):
        label = str(shown[seq]["label"])
        if label != previous:
            changes.append([])
            previous = label
        changes[-1].append(seq)
    folder.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    for number, run in enumerate(changes):
        label = str(shown[run[0]]["label"])
        candidates = [read for seq in run for read in reads_by_seq.get(seq, [])]
        if not candidates:
            continue
        expected = expected_screen(label)
        matching = [read for read in candidates if tuple(read.frame) == expected]
        chosen = (matching or candidates)[0]
        truth = frames[run[0] - 1].truth if 1 <= run[0] <= len(frames) else "?"
        mark = "ok" if label == truth else "wrong"
        path = led.save(
            chosen.frame,
            folder / f"{number:03d}-seq{run[0]:04d}-{label}.png",
            (f"#{number} seq {run[0]}: {label}", f"truth {truth} ({mark})"),
        )
        entries.append({
            "png": path.name, "seq": run[0], "frames": len(run), "label": label, "truth": truth,
            "matched": bool(matching), "lit_pixels": led.lit_pixels(chosen.frame),
        })
    led.save_strip([folder / entry["png"] for entry in entries], folder.parent / "led_strip.png")
    return entries


def write_summary(path: Path, document: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2%}" if unit == "%" else f"{value:.1f}{unit}"
    return f"{value}{unit}"


def table(document: Mapping[str, Any]) -> str:
    """The summary as a two-column text table."""
    result = document.get("results") or {}
    rows: list[tuple[str, str]] = []
    if result:
        latency = result["latency_ms"]
        rows += [
            ("frames (held-out images as camera)", f"{result['frames']} in {result['items']} items"),
            ("decisions published / shown", f"{result['published']} / {result['shown']}"),
        ]
        rows += [(f"  shown: {label}", str(count)) for label, count in result["decisions_per_bin"].items()]
        rows += [
            ("frame accuracy vs truth", _fmt(result["frame_accuracy"], "%")),
            ("settled accuracy (full window in item)", _fmt(result["settled_accuracy"], "%")),
            ("item accuracy (display at item end)", _fmt(result["item_accuracy"], "%")),
            ("publish-to-display latency p50", _fmt(latency["p50"], " ms")),
            ("publish-to-display latency p99", _fmt(latency["p99"], " ms")),
            ("display changes (LED PNGs)", "{} ({} read back exactly)".format(
                len(result["display_changes"]), sum(1 for d in result["display_changes"] if d["matched"]))),
        ]
    fix = document.get("correction")
    if fix:
        rows += [
            ("wrong bin? shown -> corrected to", f"{fix['shown']} -> {fix['truth']} (stick: {fix['pressed']})"),
            ("corrected frames in the bucket stand-in", "{} at {}".format(fix["uploaded"], fix["key"])),
        ]
    evaluation = document.get("evaluation")
    if evaluation:
        rows.append(("test split accuracy (evaluate)", _fmt(evaluation["accuracy"], "%")))
    for stage, seconds in (document.get("stage_seconds") or {}).items():
        rows.append((f"stage {stage}", f"{seconds:.1f} s"))
    rows.append(("total", f"{document.get('total_seconds', 0.0):.1f} s"))
    width = max(len(name) for name, _ in rows)
    line = "-" * (width + 2 + max(len(value) for _, value in rows))
    return "\n".join([line, *(f"{name:<{width}}  {value}" for name, value in rows), line])
