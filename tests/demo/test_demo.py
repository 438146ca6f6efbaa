"""`python -m demo` at a small size: every stage runs, decisions reach the sense_emu display, and
neither a failed stage nor Ctrl-C leaves a process running or the broker's port held.

The demo runs as a child process, exactly as `make demo` runs it; what it left behind is checked
in /proc (any process whose command line mentions the run's output folder) and on the port.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from demo.pipeline import STAGE_NAMES
from demo.summary import expected_screen

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--per-class", "20", "--epochs", "2", "--frames-per-item", "8", "--no-progress"]
RUN_TIMEOUT_S = 240


@dataclass
class DemoRun:
    out: Path
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.out / "summary.json").read_text())  # type: ignore[no-any-return]


def _run_demo(out: Path, *extra: str) -> DemoRun:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "demo", "--out", str(out), *SMALL, *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )
    return DemoRun(out, done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention text (the demo puts its output folder in each)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
        if text in cmdline:
            found.append(f"{entry.name} [{state.split()[1]}] {cmdline.strip()}")
    return found


def _pid_alive_as(pid: int, name: str) -> bool:
    try:
        return name in (Path(f"/proc/{pid}") / "cmdline").read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return False


def _mosquitto_pid(stdout: str) -> int:
    match = re.search(r"mosquitto \(pid (\d+)\) on 127\.0\.0\.1:(\d+)", stdout)
    assert match, f"no broker line in the output:\n{stdout}"
    return int(match.group(1))


def _assert_port_free(port: int) -> None:
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.settimeout(1.0)
        probe.connect(("127.0.0.1", port))
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))  # nothing holds it (connections in TIME_WAIT aside)


def _assert_nothing_left(run: DemoRun, summary: dict[str, Any]) -> None:
    assert _processes_mentioning(str(run.out)) == []
    for process in summary["processes"]:
        assert process["returncode"] is not None, f"{process['name']} was never reaped"
        assert not _pid_alive_as(process["pid"], "python"), f"{process['name']} still runs"
    assert not _pid_alive_as(_mosquitto_pid(run.stdout), "mosquitto")
    _assert_port_free(summary["broker"]["port"])


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    run = _run_demo(tmp_path_factory.mktemp("demo") / "out")
    assert run.returncode == 0, f"demo failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    yield run


def test_every_stage_runs_and_the_summary_is_complete(small_run: DemoRun) -> None:
    summary = small_run.summary
    assert summary["status"] == "ok"
    assert tuple(summary["stages_completed"]) == STAGE_NAMES
    assert set(summary["stage_seconds"]) == set(STAGE_NAMES)
    assert all(seconds >= 0 for seconds in summary["stage_seconds"].values())
    for name in STAGE_NAMES:
        assert f"] {name}: " in small_run.stdout  # its banner was printed
    export = summary["export_check"]
    assert export["frames"] > 0 and export["top1_agree"] == export["frames"]
    assert 0.0 <= summary["evaluation"]["accuracy"] <= 1.0
    assert (small_run.out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The table is printed at the end.
    for row in ("frame accuracy vs truth", "publish-to-display latency p50", "publish-to-display latency p99",
                "stage train", "total"):
        assert row in small_run.stdout


def test_every_decision_reaches_the_display_and_is_scored(small_run: DemoRun) -> None:
    results = small_run.summary["results"]
    stream = json.loads((small_run.out / "stream.json").read_text())
    assert results["frames"] == len(stream) > 0
    # One decision per frame, each published and drawn by the subscriber.
    assert results["published"] == results["shown"] == results["frames"]
    assert sum(results["decisions_per_bin"].values()) == results["shown"]
    assert set(results["decisions_per_bin"]) <= {"compost", "landfill", "recycling", "unsure"}
    for key in ("frame_accuracy", "settled_accuracy", "item_accuracy"):
        assert isinstance(results[key], float) and 0.0 <= results[key] <= 1.0
    latency = results["latency_ms"]
    assert latency["count"] == results["shown"]
    assert 0.0 <= latency["p50"] <= latency["p99"] <= latency["max"] < 5000.0


def test_led_pictures_show_what_the_matrix_showed(small_run: DemoRun) -> None:
    changes = small_run.summary["results"]["display_changes"]
    assert changes, "no display change was pictured"
    assert any(change["matched"] for change in changes)
    for change in changes:
        path = small_run.out / "led" / change["png"]
        assert path.is_file()
        assert change["lit_pixels"] > 0
        picture = Image.open(path).convert("RGB")
        colours = {tuple(colour) for _count, colour in picture.getcolors(maxcolors=1 << 16) or []
                   if isinstance(colour, tuple)}
        lit = {pixel for pixel in expected_screen(change["label"]) if any(pixel)}
        if change["matched"]:
            assert lit <= colours, f"{path.name} lacks the colours of the {change['label']} screen"
        else:
            assert any(max(colour) >= 100 for colour in colours), f"{path.name} shows no lit LED"
    assert Image.open(small_run.out / "led_strip.png").size[0] > 0


def test_the_joystick_correction_lands_the_frame_in_the_bucket_stand_in_under_the_true_class(
    small_run: DemoRun,
) -> None:
    fix = small_run.summary["correction"]
    assert fix["key"].startswith(f"datasets/default/{fix['truth']}/field-demo-camera-field-")
    assert fix["key"].endswith(f"-{fix['seq']}.jpg") and fix["uploaded"] == 1
    assert fix["pressed"] == ("middle" if fix["shown"] == fix["truth"] else
                              {"recycling": "left", "compost": "down", "landfill": "right"}[fix["truth"]])
    copy = Path(fix["copy"])
    assert copy == small_run.out / "bucket" / fix["key"] and copy.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG
    log = small_run.out / "logs" / "subscriber-events.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    corrected = [e for e in events if e["event"] == "corrected"]
    assert [(e["camera"], e["seq"], e["label"], e["shown"]) for e in corrected] == [
        ("demo-camera-field", fix["seq"], fix["truth"], fix["shown"])
    ]
    assert "uploaded=1" in (small_run.out / "logs" / "field-camera.log").read_text()
    assert "corrected frames in the bucket stand-in" in small_run.stdout


def test_nothing_is_left_running_after_a_run(small_run: DemoRun) -> None:
    summary = small_run.summary
    assert {process["name"] for process in summary["processes"]} == {"pi-subscriber", "edge-component", "field-camera"}
    assert all(process["returncode"] == 0 for process in summary["processes"])  # stopped, not killed
    _assert_nothing_left(small_run, summary)


def test_a_failing_middle_stage_names_itself_and_cleans_up(small_run: DemoRun, tmp_path: Path) -> None:
    model = small_run.out / "model" / "model.tar.gz"
    run = _run_demo(tmp_path / "out", "--model", str(model), "--edge-model", str(tmp_path / "missing.tar.gz"))
    assert run.returncode == 1
    last_line = run.stderr.strip().splitlines()[-1]
    assert last_line.startswith("demo failed at stage 'edge': the edge component exited with 1")
    assert "missing.tar.gz does not exist" in last_line
    summary = run.summary
    assert summary["status"] == "failed" and summary["failed_stage"] == "edge"
    assert tuple(summary["stages_completed"]) == STAGE_NAMES[: STAGE_NAMES.index("edge")]
    assert set(summary["stage_seconds"]) == set(STAGE_NAMES[: STAGE_NAMES.index("edge") + 1])
    _assert_nothing_left(run, summary)


def test_ctrl_c_during_the_edge_stage_cleans_up(small_run: DemoRun, tmp_path: Path) -> None:
    out = tmp_path / "out"
    model = small_run.out / "model" / "model.tar.gz"
    # Its own process group, like a job in a terminal: Ctrl-C sends SIGINT to the whole group.
    demo = subprocess.Popen(
        [sys.executable, "-m", "demo", "--out", str(out), *SMALL, "--model", str(model)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("    camera: "):  # the edge stage is about to start the component
                time.sleep(0.2)  # let it start the component: the child to stop
                os.killpg(demo.pid, signal.SIGINT)
                break
        stdout_rest, stderr = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    run = DemoRun(out, demo.returncode, "".join(lines) + stdout_rest, stderr, 0.0)
    assert run.returncode == 130, run.stdout[-2000:] + run.stderr[-2000:]
    assert "demo interrupted" in run.stderr.strip().splitlines()[-1]
    summary = run.summary
    assert summary["status"] == "interrupted" and summary["failed_stage"] == "edge"
    assert "edge-component" in {process["name"] for process in summary["processes"]}
    _assert_nothing_left(run, summary)
