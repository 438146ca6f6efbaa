"""A fake DeepLens: camera frames, model optimizer and GPU model, and the Greengrass SDK.

The fake awscam.Model runs the real exported network (ONNX Runtime on the MXNet files'
ONNX twin in the same artifacts folder), so the Lambda sees real probabilities.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sorter_common.artifact import ONNX_FILE, PARAMS_FILE, SYMBOL_FILE

OUTPUT_NAME = "softmax0_output"  # what the DeepLens converter names the softmax layer


@dataclass
class FakeDevice:
    artifacts_dir: str
    # Each call to getLastFrame() takes the next item: a frame, or None for a failed read.
    frames: list[NDArray[Any] | None] = field(default_factory=list)
    published: list[tuple[str, bytes]] = field(default_factory=list)
    optimize_calls: list[tuple[str, int, int]] = field(default_factory=list)
    frames_served: int = 0
    exhausted: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- awscam ---
    def get_last_frame(self) -> tuple[bool, NDArray[Any] | None]:
        with self.lock:
            if not self.frames:
                self.exhausted.set()
                return False, None
            frame = self.frames.pop(0)
            self.frames_served += 1
        return (frame is not None), frame

    # --- mo ---
    def optimize(self, model_name: str, input_width: int, input_height: int, *_: Any, **__: Any) -> tuple[int, str]:
        self.optimize_calls.append((model_name, input_width, input_height))
        symbol = os.path.join(self.artifacts_dir, model_name + "-symbol.json")
        params = os.path.join(self.artifacts_dir, model_name + "-0000.params")
        if not (os.path.isfile(symbol) and os.path.isfile(params)):
            return 1, ""
        # The real optimizer writes <name>.xml/.bin next to the inputs and returns the .xml path.
        model_path = os.path.join(self.artifacts_dir, model_name + ".xml")
        with open(model_path, "w") as handle:
            handle.write("<net/>")
        return 0, model_path

    # --- greengrasssdk ---
    def publish(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.published.append((topic, bytes(payload)))


class FakeModel:
    """awscam.Model: doInference(HxWx3 frame) -> {output name: probabilities}."""

    def __init__(self, model_path: str, loading_config: dict[str, int]) -> None:
        import onnxruntime as ort

        assert model_path.endswith(".xml") and os.path.isfile(model_path), model_path
        assert loading_config in ({"GPU": 1}, {"CPU": 1}), loading_config
        folder = os.path.dirname(model_path)
        for name in (SYMBOL_FILE, PARAMS_FILE):
            assert os.path.isfile(os.path.join(folder, name))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        onnx_file = os.path.join(folder, ONNX_FILE)
        self._session = ort.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"])

    def doInference(self, frame: NDArray[Any]) -> dict[str, NDArray[Any]]:
        assert frame.ndim == 3 and frame.shape[2] == 3, frame.shape
        batch = np.ascontiguousarray(frame.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)
        return {OUTPUT_NAME: self._session.run(None, {self._session.get_inputs()[0].name: batch})[0]}


class _Client:
    def __init__(self, device: FakeDevice) -> None:
        self._device = device

    def publish(self, **kwargs: Any) -> None:
        # The SDK takes keyword arguments only.
        self._device.publish(kwargs["topic"], kwargs["payload"])


def _modules(device: FakeDevice) -> dict[str, types.ModuleType]:
    awscam = types.ModuleType("awscam")
    awscam.getLastFrame = device.get_last_frame  # type: ignore[attr-defined]
    awscam.Model = FakeModel  # type: ignore[attr-defined]
    mo = types.ModuleType("mo")
    mo.optimize = device.optimize  # type: ignore[attr-defined]
    sdk = types.ModuleType("greengrasssdk")

    def client(name: str) -> _Client:
        assert name == "iot-data"
        return _Client(device)

    sdk.client = client  # type: ignore[attr-defined]
    return {"awscam": awscam, "mo": mo, "greengrasssdk": sdk}


@contextlib.contextmanager
def installed(device: FakeDevice) -> Iterator[FakeDevice]:
    """The fakes in sys.modules for the duration; previous entries restored after."""
    fakes = _modules(device)
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        yield device
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    done = threading.Event()
    deadline = timeout
    step = 0.02
    while deadline > 0:
        if condition():
            return True
        done.wait(step)
        deadline -= step
    return condition()
