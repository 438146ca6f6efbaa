"""What each stage does; the pipeline runs them in order, with banners, timing and clean-up.

Each function takes the run's shared state, does one job with the project's own code and
raises on failure (the pipeline turns that into one line naming the stage).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from sorter_common.artifact import ARTIFACT_FILES, MODEL_INFO_FILE, ONNX_FILE, OPTIONAL_ARTIFACT_FILES
from sorter_common.classes import DEFAULT_CLASSES
from sorter_common.model_input import to_model_input
from sorter_common.topics import predictions_topic
from testbed.emu_screen import EMU_SCREEN_LOCK, try_lock_emu_screen
from testbed.local_broker import LocalBroker
from testbed.local_pki import KeyPair, LocalPki, issue_client, make_pki
from testbed.subscriber import subscriber_command

from .display_watch import DisplayWatcher
from .monitor import TopicMonitor
from .options import DemoOptions
from .processes import Child, Supervisor, wait_until
from .stream import Frame, arrange, write_camera_folder

THING_NAME = "demo-camera"
# The sense_emu screen is one file per machine; the device tests and the subscriber benchmark
# take this lock before drawing on it, and so does the demo.
EMU_LOCK_WAIT_S = 120.0
EXPORT_CHECK_FRAMES = 6
SUBSCRIBER_READY_S = 30.0


@dataclass
class RunState:
    """What the stages hand to each other."""

    options: DemoOptions
    supervisor: Supervisor
    console: TextIO = sys.stdout
    model: Path | None = None
    model_info: dict[str, Any] = field(default_factory=dict)
    export_check: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    pki: LocalPki | None = None
    broker: LocalBroker | None = None
    monitor: TopicMonitor | None = None
    watcher: DisplayWatcher | None = None
    subscriber: Child | None = None
    edge: Child | None = None
    frames: list[Frame] = field(default_factory=list)
    correction: dict[str, Any] = field(default_factory=dict)

    @property
    def out(self) -> Path:
        return self.options.out

    def path(self, *parts: str) -> Path:
        return self.out.joinpath(*parts)

    def say(self, text: str) -> None:
        print(f"    {text}", file=self.console, flush=True)


# Everything a previous run wrote; cleared at the start so no old picture passes for a new one.
OUTPUTS = ("sample", "data", "model", "camera", "led", "logs", "work", "stream.json", "led_strip.png",
           "summary.json", "evaluation.json", "confusion_matrix.png", "field-camera", "bucket")


def clear_outputs(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def sample(state: RunState) -> None:
    from training.sample import write_sample

    counts = write_sample(state.path("sample"), DEFAULT_CLASSES, state.options.per_class, seed=state.options.seed,
                          progress=state.options.progress)
    state.say("{} images drawn into {}".format(sum(counts.values()), state.path("sample")))


def prepare(state: RunState) -> None:
    from training_job.prepare import prepare_dataset

    result = prepare_dataset(state.path("sample"), state.path("data"), DEFAULT_CLASSES, seed=state.options.seed,
                             progress=state.options.progress)
    totals = result.manifest["totals"]
    state.say("split {train} train / {validation} validation / {test} held-out test images".format(**totals))


def train(state: RunState) -> None:
    if state.options.model is not None:
        if not state.options.model.is_file():
            raise FileNotFoundError(f"--model {state.options.model} does not exist")
        state.model = state.options.model
        state.say(f"using {state.model} (--model): no training")
        return
    from testbed.demo_model import DEMO_DOWNSCALE, DEMO_TRAINING
    from training_job.train import train as run_training
    from training_job.train_config import TrainConfig

    epochs = state.options.epochs
    result = run_training(
        TrainConfig(
            data_dir=state.path("data"), model_dir=state.path("model"), pretrained=False, epochs=epochs,
            batch_size=int(str(DEMO_TRAINING["batch_size"])), optimizer=str(DEMO_TRAINING["optimizer"]),
            learning_rate=float(str(DEMO_TRAINING["learning_rate"])), patience=epochs, downscale=DEMO_DOWNSCALE,
            seed=state.options.seed, archive=True, progress=state.options.progress,
        )
    )
    if result.archive is None:
        raise RuntimeError("training wrote no model.tar.gz")
    state.model = result.archive
    state.say(f"best epoch {result.best_epoch}, {result.images_per_second:.0f} images/s -> {state.model}")


def export_check(state: RunState) -> None:
    """model.tar.gz holds the contract's files, and MXNet and ONNX Runtime agree on held-out frames."""
    from edge_core.backends import MxnetBackend, OnnxBackend
    from training_job import archive
    from training_job.data import read_bgr
    from training_job.split import read_lst

    assert state.model is not None
    folder = state.path("model", "unpacked")
    info = archive.unpack(state.model, folder)  # checks the files are there and labels.txt agrees
    state.model_info = info
    files = [name for name in (*ARTIFACT_FILES, *OPTIONAL_ARTIFACT_FILES) if (folder / name).is_file()]
    for name in files:
        state.say(f"{name:<36} {(folder / name).stat().st_size:>10,} bytes")
    state.say(f"int8: {info.get('int8', {}).get('reason', 'not measured')}")
    state.say("classes {}, input {}x{} BGR, version {}".format(
        ",".join(info["classes"]), info["input_size"], info["input_size"], info["version"]))
    test_rows = read_lst(state.path("data", "test.lst"))
    rows = test_rows[:: max(1, len(test_rows) // EXPORT_CHECK_FRAMES)][:EXPORT_CHECK_FRAMES]  # across classes
    batch = np.concatenate([to_model_input(read_bgr(state.path("data", relative))) for _, relative in rows])
    mxnet_p = MxnetBackend(str(folder)).infer_batch(batch)
    onnx_p = OnnxBackend(str(folder), onnx_file=ONNX_FILE).infer_batch(batch)  # fp32: the same network as MXNet
    agree = int((mxnet_p.argmax(axis=1) == onnx_p.argmax(axis=1)).sum())
    difference = float(np.abs(mxnet_p - onnx_p).max())
    state.export_check = {"frames": len(rows), "top1_agree": agree, "max_abs_difference": difference,
                          "files": files}
    state.say(f"MXNet vs ONNX Runtime on {len(rows)} held-out frames: same top-1 on {agree}, "
              f"largest probability difference {difference:.1e}")
    if agree != len(rows):
        raise RuntimeError(f"MXNet and ONNX Runtime disagree on {len(rows) - agree} of {len(rows)} frames")
    if (folder / MODEL_INFO_FILE).stat().st_size == 0:
        raise RuntimeError(f"{MODEL_INFO_FILE} is empty")


def evaluate(state: RunState) -> None:
    from training_job.evaluate import evaluate as run_evaluation

    assert state.model is not None
    # ONNX Runtime: the runtime and the model file the edge uses (int8 where the export preferred it;
    # the export check tied the fp32 file to MXNet).
    document = run_evaluation(state.model, state.path("data"), state.out, split="test", runtime_name="onnx",
                              progress=state.options.progress)
    accuracy = document["multiclass_classification_metrics"]["accuracy"]["value"]
    state.evaluation = {"accuracy": accuracy, "count": document["count"], "runtime": "onnx"}
    state.say(f"test split accuracy {accuracy:.3f} on {document['count']} images")
    state.say(f"confusion matrix: {state.path('confusion_matrix.png')}")


def broker(state: RunState) -> None:
    """Certificates made for this run, mosquitto with mutual TLS on a free port, and a topic monitor."""
    pki_dir = Path(tempfile.mkdtemp(prefix="trash-sorter-demo-pki-"))
    state.supervisor.add_cleanup("remove the run's certificates", lambda: shutil.rmtree(pki_dir, ignore_errors=True))
    state.pki = make_pki(pki_dir / "pki")
    running = LocalBroker(state.pki)
    state.broker = running

    def stop_broker() -> None:
        logs = state.path("logs")
        logs.mkdir(parents=True, exist_ok=True)
        running.stop()
        (logs / "mosquitto.log").write_text(running.log_text(), encoding="utf-8")
        running.cleanup()

    state.supervisor.add_cleanup("stop mosquitto", stop_broker)
    running.start()
    state.say(f"mosquitto (pid {running.pid}) on {running.host}:{running.port}, client certificates required")
    monitor_keys = issue_client(state.pki, "demo-monitor")
    state.monitor = TopicMonitor(running.host, running.port, monitor_keys.cert_path, monitor_keys.key_path,
                                 state.pki.ca_path, "demo-monitor")
    state.supervisor.add_cleanup("disconnect the topic monitor", state.monitor.stop)
    state.monitor.start(predictions_topic(THING_NAME))
    state.say(f"topic monitor subscribed to {predictions_topic(THING_NAME)}")


def _emu_lock(state: RunState) -> None:
    handle = open(EMU_SCREEN_LOCK, "w")  # noqa: SIM115 - held until the clean-up below closes it
    state.supervisor.add_cleanup("release the sense_emu lock", handle.close)
    if not try_lock_emu_screen(handle):
        state.say(f"waiting for the sense_emu screen ({EMU_SCREEN_LOCK} is held by a test or benchmark run)...")
        if not wait_until(lambda: try_lock_emu_screen(handle), EMU_LOCK_WAIT_S, 0.2):
            raise TimeoutError(f"the sense_emu screen stayed busy for {EMU_LOCK_WAIT_S:.0f} s (lock {EMU_SCREEN_LOCK})")


def _mqtt_args(state: RunState, keys: KeyPair, client_id: str) -> list[str]:
    assert state.broker is not None and state.pki is not None
    return ["--endpoint", state.broker.host, "--port", str(state.broker.port), "--cert", str(keys.cert_path),
            "--key", str(keys.key_path), "--ca", str(state.pki.ca_path), "--client-id", client_id]


def subscriber(state: RunState) -> None:
    """The Pi subscriber on sense_emu, exactly as systemd runs it on the Pi, ready when subscribed."""
    assert state.pki is not None
    _emu_lock(state)
    keys = issue_client(state.pki, "demo-pi")
    events = state.path("logs", "subscriber-events.jsonl")
    assert state.broker is not None
    # No subscriber.toml from /etc/trash-sorter: everything comes from these flags.
    args = subscriber_command(state.broker, keys, state.pki.ca_path, "demo-pi", config_dir=state.pki.folder,
                              events_path=events, extra=("--idle-after", "600", "--log-level", "INFO"))
    state.watcher = DisplayWatcher(events).start()
    state.supervisor.add_cleanup("stop the display watcher", state.watcher.stop)
    state.subscriber = state.supervisor.start("pi-subscriber", args, state.path("logs", "subscriber.log"))
    child, watcher = state.subscriber, state.watcher
    ready = wait_until(lambda: watcher.count("subscribed") > 0 or child.poll() is not None, SUBSCRIBER_READY_S)
    if child.poll() is not None:
        raise RuntimeError(f"the subscriber exited with {child.poll()}: {child.log_tail(2)}")
    if not ready:
        raise TimeoutError(f"the subscriber did not subscribe within {SUBSCRIBER_READY_S:.0f} s")
    state.say(f"pi subscriber (pid {child.pid}) subscribed, drawing on sense_emu")


def edge(state: RunState) -> None:
    """The Greengrass V2 component in local MQTT mode, held-out items as its camera, to the end of the stream."""
    assert state.pki is not None and state.monitor is not None and state.watcher is not None
    assert state.model is not None
    classes = list(state.model_info.get("classes") or DEFAULT_CLASSES)
    state.frames = arrange(state.path("data"), classes, state.options.seed, state.options.frames_per_item)
    camera = write_camera_folder(state.frames, state.path("data"), state.path("camera"))
    items = state.frames[-1].item + 1
    state.say(f"camera: {len(state.frames)} frames, {items} items of {state.options.frames_per_item} frames "
              f"({camera})")
    keys = issue_client(state.pki, THING_NAME)
    model = state.options.edge_model or state.model
    args = [
        sys.executable, "-m", "device.greengrass_component", "--source", str(camera), "--model", str(model),
        "--work-dir", str(state.path("work")), "--thing-name", THING_NAME, "--transport", "mqtt",
        *_mqtt_args(state, keys, THING_NAME),
        # Publish every frame (the product publishes on a change plus a 30 s heartbeat), so each
        # frame's decision reaches the display and can be scored against the truth.
        "--min-interval", "0", "--heartbeat", "0.000001",
    ]
    state.edge = state.supervisor.start("edge-component", args, state.path("logs", "edge.log"))
    child, monitor, watcher = state.edge, state.monitor, state.watcher
    timeout = 90.0 + 0.5 * len(state.frames)
    deadline = time.monotonic() + timeout
    with _progress(state, len(state.frames)) as bar:
        while child.poll() is None and time.monotonic() < deadline:
            bar(watcher.count("shown"))
            time.sleep(0.1)
        if child.poll() is None:
            raise TimeoutError(f"the edge component did not finish its {len(state.frames)} frames in {timeout:.0f} s")
        if child.poll() != 0:
            raise RuntimeError(f"the edge component exited with {child.poll()}: {_last_error(child)}")
        # QoS 1 on loopback: what was published reaches the display within moments.
        wait_until(lambda: watcher.count("shown") >= monitor.count(), 20.0)
        bar(watcher.count("shown"))
    state.say(f"edge published {monitor.count()} decisions; the display showed {watcher.count('shown')}")


def _last_error(child: Child) -> str:
    lines = child.log_tail(40).splitlines()
    errors = [line.split("status error", 1)[1].strip() for line in lines if "status error" in line]
    return errors[-1] if errors else (lines[-1] if lines else "no output")


@contextlib.contextmanager
def _progress(state: RunState, total: int) -> Any:
    from tqdm import tqdm

    with tqdm(total=total, desc="frames shown", unit="frame", disable=not state.options.progress) as bar:

        def update(done: int) -> None:
            bar.update(max(0, min(done, total) - bar.n))

        yield update
