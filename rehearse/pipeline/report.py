"""Each rehearsal step's name, time and, when it fails, the job's last log lines."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG_TAIL_LINES = 25


class StepFailed(RuntimeError):
    """A step of the rehearsal failed: its name, why, and the job's last log lines."""

    def __init__(self, step: str, reason: str, log: Path | None = None) -> None:
        self.step, self.reason, self.log = step, reason, log
        super().__init__(f"{step}: {reason}")

    def tail(self) -> str:
        if self.log is None or not self.log.is_file():
            return ""
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:])


@dataclass
class Timings:
    steps: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"==> {name}", flush=True)
        start = time.monotonic()
        try:
            yield
        finally:
            seconds = time.monotonic() - start
            self.steps.append((name, seconds))
            print(f"    {name}: {seconds:.1f} s", flush=True)

    def total(self) -> float:
        """Wall-clock seconds since the start (a condition step's time includes its inner steps')."""
        return time.monotonic() - self.started

    def table(self) -> str:
        width = max(len(name) for name, _ in self.steps) if self.steps else 0
        rows = [f"  {name.ljust(width)}  {seconds:7.1f} s" for name, seconds in self.steps]
        rows.append(f"  {'total'.ljust(width)}  {self.total():7.1f} s")
        return "\n".join(rows)


# model.json's "int8" keys the rehearsal prints (training_job/quantize.py writes them).
INT8_FIGURES = (
    ("onnxruntime", "onnxruntime"),
    ("onnxruntime from", "onnxruntime_from"),
    ("fp32 ms/frame", "fp32_ms_per_frame"),
    ("int8 ms/frame", "int8_ms_per_frame"),
    ("speedup", "speedup"),
    ("fp32 test accuracy", "fp32_test_accuracy"),
    ("int8 test accuracy", "int8_test_accuracy"),
    ("int8 preferred", "preferred"),
    ("why", "reason"),
)


def int8_report(record: dict[str, Any]) -> str:
    """The Train step's int8 measurement and decision, one figure a line."""
    width = max(len(label) for label, _ in INT8_FIGURES)
    return "\n".join(f"    {label.ljust(width)}  {record[key]}" for label, key in INT8_FIGURES if key in record)


def int8_problem(record: dict[str, Any]) -> str:
    """Why the Train step measured no int8 model ("" when it did): onnxruntime missing, or the quantization failed."""
    if "onnxruntime" not in record:
        return f"the Train step had no onnxruntime to quantize with: {record.get('reason', 'no reason recorded')}"
    if "int8_ms_per_frame" not in record:
        return f"the Train step measured no int8 model: {record.get('reason', 'no reason recorded')}"
    return ""
