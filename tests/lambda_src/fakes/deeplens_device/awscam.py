"""A fake of the DeepLens device library's `awscam` module (Python 3.7 syntax: it runs where the function runs).

Written from the archived AWS DeepLens Developer Guide, and nothing else:
- awscam.getLastFrame() -> (ret, video_frame): ret a bool, video_frame a numpy.ndarray
  https://docs.aws.amazon.com/deeplens/latest/dg/deeplens-device-library-awscam-model-get-last-frame.html
  The page gives no size: the frame is the camera's 1080p stream, 1920x1080 BGR (the guide's
  project-stream sample draws on it with cv2 and scales boxes by frame.shape:
  https://docs.aws.amazon.com/deeplens/latest/dg/deeplens-viewing-output-custom-lambda.html).
- awscam.Model(model_topology_file, loading_config, runtime=0): with runtime=0 the topology file is
  the .xml mo.optimize returned; loading_config is {"GPU": 1} (GPU) or {"GPU": 0} (CPU), nothing else
  https://docs.aws.amazon.com/deeplens/latest/dg/deeplens-device-library-awscam-model-constructor.html
- model.doInference(video_frame) -> {output layer name (from the model's .json): probabilities}
  https://docs.aws.amazon.com/deeplens/latest/dg/deeplens-device-library-awscam-model-doinference.html

The device's inference engine is replaced by ONNX Runtime on the ONNX twin that travels in the same
model.tar.gz, so the function sees the real model's probabilities. The camera plays the images of
the folder FAKE_DEEPLENS_FRAMES in name order, then has no frame ((False, None)); in-process
tests may set `CAMERA.frames` directly (None for a failed read).
"""

import json
import os
import threading
import xml.etree.ElementTree as ElementTree
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

FRAME_WIDTH = 1920
FRAME_HEIGHT = 1080
LOADING_CONFIGS = ({"GPU": 1}, {"GPU": 0})
ONNX_TWIN = "model.onnx"


class _Camera:
    def __init__(self) -> None:
        self.frames: List[Optional[Any]] = []
        self.served = 0
        self.lock = threading.Lock()

    def load(self, folder: str) -> None:
        import cv2

        names = sorted(name for name in os.listdir(folder) if not name.startswith("."))
        self.frames = [to_camera_frame(cv2.imread(os.path.join(folder, name))) for name in names]

    def next_frame(self) -> Optional[Any]:
        with self.lock:
            if not self.frames:
                return None
            self.served += 1
            return self.frames.pop(0)


def to_camera_frame(image: Any) -> Any:
    """Any BGR image as the DeepLens camera delivers it: 1920x1080x3 uint8 BGR."""
    import cv2

    return np.ascontiguousarray(cv2.resize(image, (FRAME_WIDTH, FRAME_HEIGHT), interpolation=cv2.INTER_LINEAR))


CAMERA = _Camera()
if os.environ.get("FAKE_DEEPLENS_FRAMES"):
    CAMERA.load(os.environ["FAKE_DEEPLENS_FRAMES"])


def getLastFrame() -> Tuple[bool, Optional[Any]]:
    frame = CAMERA.next_frame()
    if frame is None:
        return False, None
    assert frame.shape == (FRAME_HEIGHT, FRAME_WIDTH, 3) and frame.dtype == np.uint8, frame.shape
    return True, frame


class Model:
    def __init__(self, model_topology_file: str, loading_config: Dict[str, int], runtime: int = 0) -> None:
        if runtime != 0:
            raise ValueError(f"runtime={runtime!r}: only the Intel DLDT runtime (0) is faked")
        if loading_config not in LOADING_CONFIGS:
            raise ValueError("loading_config must be {\"GPU\": 1} or {\"GPU\": 0}, not " + repr(loading_config))
        if not model_topology_file.endswith(".xml") or not os.path.isfile(model_topology_file):
            raise ValueError("not an optimized model from mo.optimize: " + model_topology_file)
        network = ElementTree.parse(model_topology_file).getroot()
        self.output_name = network.attrib["output"]
        self.input_width = int(network.attrib["width"])
        self.input_height = int(network.attrib["height"])
        self.loading_config = dict(loading_config)
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        onnx_file = os.path.join(os.path.dirname(model_topology_file), ONNX_TWIN)
        self._session = onnxruntime.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"])

    def doInference(self, video_frame: Any) -> Dict[str, Any]:
        expected = (self.input_height, self.input_width, 3)
        if tuple(video_frame.shape) != expected:
            # The optimized model has a fixed input size: the one given to mo.optimize.
            raise ValueError(f"frame shape {video_frame.shape} is not the model's {expected}")
        batch = np.ascontiguousarray(np.asarray(video_frame).transpose(2, 0, 1)[np.newaxis], dtype=np.float32)
        output = self._session.run(None, {self._session.get_inputs()[0].name: batch})[0]
        return {self.output_name: np.asarray(output[0], dtype=np.float32)}


def output_layer_name(symbol_file: str) -> str:
    """The name of the model's output layer as its MXNet .json names it."""
    with open(symbol_file) as handle:
        graph = json.load(handle)
    head = graph["heads"][0][0]
    return str(graph["nodes"][head]["name"])
