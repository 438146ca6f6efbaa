"""Runs every benchmark, prints one table and writes bench/results.json.

python -m bench                 # all of them
python -m bench synth training  # only these
python -m bench local-path      # the local path alone (issue 16)
python -m bench models          # the architecture x precision table (bench/models_table.md, README)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"
# Module -> what it measures; each has run() -> {"name": {"value", "unit", "goal"}}.
BENCHMARKS = {
    "synth": "bench.synth_bench",
    "training": "bench.training_bench",
    "subscriber": "bench.subscriber_bench",
    "local-path": "bench.local_path_bench",
    "inference": "bench.inference_bench",
    "component": "bench.component_bench",
    "rehearsal": "bench.rehearsal_bench",
    "camera": "bench.camera_bench",
    "models": "bench.models_bench",
}


def format_table(results: dict[str, dict[str, Any]]) -> str:
    rows = [("figure", "value", "unit", "goal")]
    rows += [(name, f"{item['value']:g}", item.get("unit", ""), item.get("goal", "")) for name, item in results.items()]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def run_isolated(module: str) -> dict[str, dict[str, Any]]:
    """Each benchmark in a process of its own, so none runs in a process grown by another one
    (a training run leaves hundreds of MB of MXNet behind)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        code = (
            "import importlib, json, sys; json.dump(importlib.import_module(sys.argv[1]).run(), open(sys.argv[2], 'w'))"
        )
        subprocess.run([sys.executable, "-c", code, module, result.name], check=True)
        figures: dict[str, dict[str, Any]] = json.loads(Path(result.name).read_text())
    return figures


def main(selected: list[str]) -> int:
    unknown = [name for name in selected if name not in BENCHMARKS]
    if unknown:
        print(f"bench error: unknown benchmark {unknown}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    results: dict[str, dict[str, Any]] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in selected or list(BENCHMARKS):
        print(f"==> benchmark: {name}", flush=True)
        started = time.perf_counter()
        results.update(run_isolated(BENCHMARKS[name]))
        print(f"    done in {time.perf_counter() - started:.0f} s", flush=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
