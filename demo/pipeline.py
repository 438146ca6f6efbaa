"""The demo's stages in order: a banner and a timer for each, one line naming the stage that failed.

Whatever happens (a failure, Ctrl-C, SIGTERM), the supervisor stops every process the demo
started and frees the broker's port before run_demo returns or raises, and summary.json says
how far the run got.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from . import correction, stages, summary
from .options import DemoOptions
from .processes import Supervisor
from .stages import RunState

STAGES: tuple[tuple[str, str, Callable[[RunState], None]], ...] = (
    ("sample", "generated sample images (procedurally drawn trash, one folder per class)", stages.sample),
    ("prepare", "validate, split 70/20/10, write the im2rec lists", stages.prepare),
    ("train", "short CPU training (ResNet-18 from scratch, 56 px inside the 224x224 contract)", stages.train),
    ("export", "model.tar.gz contents; MXNet and ONNX Runtime give the same top-1", stages.export_check),
    ("evaluate", "accuracy on the held-out test split, confusion matrix PNG", stages.evaluate),
    ("broker", "mosquitto with mutual TLS on a free 127.0.0.1 port, certificates made for this run", stages.broker),
    ("subscriber", "the Pi subscriber on the sense_emu Sense HAT", stages.subscriber),
    ("edge", "the Greengrass V2 component over MQTT, held-out images as its camera", stages.edge),
    ("correction", "wrong bin? the emulated joystick corrects a decision; its frame lands in the bucket stand-in",
     correction.correction),
)
REPORT = ("report", "stop everything, read back the LED matrix, score against the truth")
STAGE_NAMES = (*(name for name, _, _ in STAGES), REPORT[0])


class StageFailed(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def run_demo(options: DemoOptions) -> dict[str, Any]:
    """Run every stage; returns the summary document (also written to OUT/summary.json)."""
    console = sys.stdout
    document: dict[str, Any] = {
        "status": "running", "options": _options_dict(options), "stage_seconds": {}, "stages_completed": [],
    }
    started = time.monotonic()
    current = ""
    stages.clear_outputs(options.out)
    supervisor = Supervisor()
    state = RunState(options=options, supervisor=supervisor, console=console)
    try:
        for number, (name, what, action) in enumerate(STAGES, start=1):
            current = name
            _banner(console, number, name, what)
            began = time.monotonic()
            try:
                action(state)
                document["stages_completed"].append(name)
            except Exception as error:
                raise StageFailed(name, _one_line(error)) from error
            finally:
                document["stage_seconds"][name] = round(time.monotonic() - began, 2)
        current = REPORT[0]
        _banner(console, len(STAGES) + 1, *REPORT)
        began = time.monotonic()
        try:
            supervisor.close()  # stops the edge, the subscriber (it clears the matrix), the broker
            _report(state, document)
            document["stages_completed"].append(REPORT[0])
        except Exception as error:
            raise StageFailed(REPORT[0], _one_line(error)) from error
        finally:
            document["stage_seconds"][REPORT[0]] = round(time.monotonic() - began, 2)
        document["status"] = "ok"
    except StageFailed as failure:
        document.update(status="failed", failed_stage=failure.stage, error=failure.reason)
        # The one-line reason is for the console; the traceback is kept for whoever digs deeper.
        logs = options.out / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        cause = failure.__cause__ or failure
        (logs / "failure.txt").write_text("".join(traceback.format_exception(cause)), encoding="utf-8")
        raise
    except BaseException as stop:  # Ctrl-C, SIGTERM
        document.update(status="interrupted", failed_stage=current, error=type(stop).__name__)
        raise
    finally:
        supervisor.close()
        document["total_seconds"] = round(time.monotonic() - started, 2)
        document["processes"] = [
            {"name": child.name, "pid": child.pid, "returncode": child.process.returncode}
            for child in supervisor.children
        ]
        if state.broker is not None:
            document["broker"] = {"host": state.broker.host, "port": state.broker.port}
        summary.write_summary(options.out / summary.SUMMARY_FILE, document)
    print(summary.table(document), file=console, flush=True)
    print(f"outputs in {options.out}: led_strip.png, led/, confusion_matrix.png, summary.json", file=console)
    return document


def _report(state: RunState, document: dict[str, Any]) -> None:
    assert state.watcher is not None and state.monitor is not None
    # The first camera's decisions only: the correction stage's camera counts its seq from 1 too.
    first_camera = [e for e in state.watcher.snapshot() if e.get("device") in (None, stages.THING_NAME)]
    shown = summary.shown_by_seq(first_camera)
    results = summary.score(state.frames, shown, state.monitor.snapshot())
    reads = [read for read in state.watcher.reads if read.event.get("device") in (None, stages.THING_NAME)]
    results["display_changes"] = summary.write_led_pictures(state.frames, shown, reads, state.path("led"))
    results["ignored_by_subscriber"] = sum(1 for e in state.watcher.snapshot() if e.get("event") == "ignored")
    document["results"] = results
    document["evaluation"] = state.evaluation
    document["correction"] = state.correction
    document["export_check"] = state.export_check
    document["model"] = {"path": str(state.model), "version": state.model_info.get("version")}
    state.say("{} LED pictures in {}, strip {}".format(
        len(results["display_changes"]), state.path("led"), state.path("led_strip.png")))


def _banner(console: Any, number: int, name: str, what: str) -> None:
    print(f"\n==> [{number}/{len(STAGE_NAMES)}] {name}: {what}", file=console, flush=True)


def _options_dict(options: DemoOptions) -> dict[str, Any]:
    return {key: (str(value) if value is not None and not isinstance(value, (int, bool)) else value)
            for key, value in vars(options).items()}
