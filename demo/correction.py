"""The demo's "wrong bin?" round trip: the emulated joystick corrects a decision on the display, the
camera uploads that frame into the local stand-in for the bucket under the true class.

A second camera (FIELD_CAMERA) runs the Greengrass component with correction capture on, its
frames one held-out image the first camera got wrong (or, if it got none wrong, one it got right,
which the person then confirms with the middle of the stick). The bucket is moto's S3 server on
127.0.0.1, reached by the component's own boto3 through AWS_ENDPOINT_URL. The stick is driven
the way sense_emu's GUI drives it (sense_emu.stick.StickServer, one evdev record per press).
"""

from __future__ import annotations

import contextlib
import shutil
import struct
import sys
import time
from typing import Any

from device.pi_subscriber.config import DEFAULT_BINS
from sorter_common.bucket_layout import FIELD_IMAGE_PREFIX, class_folder
from sorter_common.classes import UNSURE
from sorter_common.training_pipeline import DEFAULT_DATASET
from testbed.local_pki import issue_client

from .processes import wait_until
from .stages import THING_NAME, RunState, _mqtt_args

FIELD_CAMERA = "demo-camera-field"
DEMO_BUCKET = "deeplens-demo-local-bucket"
PRESS_RETRIES = 10  # sense_emu's stick client says hello once a second; a press before that is lost
UPLOAD_WAIT_S = 60.0


def _press(server: Any, direction: str) -> None:
    from sense_emu.stick import SenseStick

    key = {"up": SenseStick.KEY_UP, "down": SenseStick.KEY_DOWN, "left": SenseStick.KEY_LEFT,
           "right": SenseStick.KEY_RIGHT, "middle": SenseStick.KEY_ENTER}[direction]
    for state in (SenseStick.STATE_PRESS, SenseStick.STATE_RELEASE):
        now = time.time()
        server.send(struct.pack(SenseStick.EVENT_FORMAT, int(now), int(now % 1 * 1e6), SenseStick.EV_KEY, key, state))


def _frame_to_correct(state: RunState) -> tuple[Any, str]:
    """(frame, label the first camera showed for it): a wrong decision if there was one."""
    shown = {int(e["seq"]): e["label"] for e in state.watcher.snapshot() if e.get("event") == "shown"
             and e.get("device") == THING_NAME} if state.watcher else {}
    candidates = [(state.frames[seq - 1], label) for seq, label in sorted(shown.items())
                  if 1 <= seq <= len(state.frames) and label != UNSURE]
    wrong = [(frame, label) for frame, label in candidates if label != frame.truth]
    if not (wrong or candidates):
        raise RuntimeError("the first camera showed no decision to correct")
    return (wrong or candidates)[-1]


def correction(state: RunState) -> None:
    from sense_emu.stick import StickServer

    from rehearse.pipeline.aws import client, client_environment, moto_server

    assert state.pki is not None and state.watcher is not None and state.model is not None
    frame, first_label = _frame_to_correct(state)
    folder = state.path("field-camera")
    folder.mkdir(parents=True, exist_ok=True)
    source = state.path("data", frame.source)
    shutil.copyfile(source, folder / f"item-{frame.truth}{source.suffix}")

    stack = contextlib.ExitStack()
    state.supervisor.add_cleanup("stop the bucket stand-in and the emulated stick", stack.close)
    endpoint = stack.enter_context(moto_server())
    s3 = client("s3", endpoint)
    s3.create_bucket(Bucket=DEMO_BUCKET)
    stick = StickServer()  # what sense_emu_gui runs; the subscriber's sense_emu client finds it
    stack.callback(stick.close)
    state.say(f"bucket stand-in: moto S3 at {endpoint}, bucket {DEMO_BUCKET}; emulated joystick ready")

    keys = issue_client(state.pki, FIELD_CAMERA)
    args = [
        sys.executable, "-m", "device.greengrass_component", "--source", str(folder), "--loop",
        "--model", str(state.options.edge_model or state.model), "--work-dir", str(state.path("work")),
        "--thing-name", FIELD_CAMERA, "--transport", "mqtt", *_mqtt_args(state, keys, FIELD_CAMERA),
        "--min-interval", "1", "--heartbeat", "1",
        "--correction-capture", "true", "--bucket", DEMO_BUCKET, "--dataset", DEFAULT_DATASET,
    ]
    child = state.supervisor.start("field-camera", args, state.path("logs", "field-camera.log"),
                                   env=client_environment(endpoint))
    watcher = state.watcher

    def field_events(name: str) -> list[dict[str, Any]]:
        return [e for e in watcher.snapshot() if e.get("event") == name and e.get("camera", e.get("device"))
                == FIELD_CAMERA]

    if not wait_until(lambda: bool(field_events("shown")) or child.poll() is not None, 60.0):
        raise TimeoutError("the field camera's decisions did not reach the display within 60 s")
    if child.poll() is not None:
        raise RuntimeError(f"the field camera exited with {child.poll()}: {child.log_tail(3)}")
    shown = str(field_events("shown")[-1]["label"])
    truth = frame.truth
    direction = "middle" if shown == truth else DEFAULT_BINS[truth].direction
    what = "confirms" if shown == truth else f"pushes {direction}, toward the {truth} bin"
    state.say(f"the display shows {shown} for an item that is {truth}; the person at the bin {what}")
    for _ in range(PRESS_RETRIES):
        _press(stick, direction)
        if wait_until(lambda: bool(field_events("corrected")), 1.0):
            break
    else:
        raise TimeoutError("the subscriber never heard the emulated joystick")
    corrected = field_events("corrected")[0]
    prefix = f"{class_folder(DEFAULT_DATASET, truth)}{FIELD_IMAGE_PREFIX}{FIELD_CAMERA}-"

    def uploaded() -> list[str]:
        listing = s3.list_objects_v2(Bucket=DEMO_BUCKET, Prefix=prefix)
        return [item["Key"] for item in listing.get("Contents", [])]

    if not wait_until(lambda: bool(uploaded()), UPLOAD_WAIT_S, 0.2):
        raise TimeoutError(f"no frame reached s3://{DEMO_BUCKET}/{prefix}* within {UPLOAD_WAIT_S:.0f} s: "
                           f"{child.log_tail(3)}")
    child.stop()
    [key] = uploaded()
    local = state.path("bucket", key)
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(s3.get_object(Bucket=DEMO_BUCKET, Key=key)["Body"].read())
    state.correction = {
        "camera": FIELD_CAMERA, "seq": corrected["seq"], "shown": shown, "truth": truth, "pressed": direction,
        "first_camera_showed": first_label, "key": key, "copy": str(local), "uploaded": len(uploaded()),
    }
    state.say(f"the frame landed at s3://{DEMO_BUCKET}/{key} (a copy: {local})")
