"""Model backends: each turns one BGR frame into a 1-D vector of class scores.

ONNX Runtime (the Greengrass V2 component and the demo), MXNet (the training side, and a
DeepLens fallback) and DeepLens's own awscam.Model behind mo.optimize. Every runtime is
imported inside its backend, so a device only needs the one it uses. The ONNX Runtime and MXNet
backends also take a batch of model inputs: the evaluation (training/evaluate.py) measures the
model through these same backends.
"""

from __future__ import annotations

import abc
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

from sorter_common.artifact import MODEL_PREFIX, PARAMS_FILE, SYMBOL_FILE
from sorter_common.model_input import INPUT_NAME, INPUT_SIZE, to_model_input

from .model_files import PRECISION_AUTO, ModelFilesError, onnx_model_file, require_file


def device_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers narrow), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def session_options(threads: int = 0) -> Any:
    """ONNX Runtime options for a camera: `threads` intra-op threads (0: one per core of the device),
    one inter-op thread, and no busy-waiting.

    ONNX Runtime's own default spins its idle threads; on a small edge CPU shared with the
    capture thread (or a busy build machine) spinning threads steal the cores the next operator
    (and the camera) need. Its default thread count is the physical cores it detects, which in a
    container can be more than the process may use: the count here comes from the CPU affinity.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the exporter's leftover-initializer warnings are not actionable
    options.intra_op_num_threads = threads or device_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


class Backend(abc.ABC):
    name = "backend"

    def describe(self) -> str:
        """What the model-loaded status says about how this backend runs ("" for nothing)."""
        return ""

    @abc.abstractmethod
    def infer(self, frame: NDArray[Any]) -> NDArray[Any]:
        """Scores for one HxWx3 uint8 BGR frame of any size."""


class BatchBackend(Backend):
    """A backend that also runs a batch of model inputs (Nx3x224x224 float32 BGR 0..255)."""

    @abc.abstractmethod
    def infer_batch(self, batch: NDArray[Any]) -> NDArray[Any]:
        """Scores, one row per input."""

    def infer(self, frame: NDArray[Any]) -> NDArray[Any]:
        first: NDArray[Any] = self.infer_batch(to_model_input(frame))[0]
        return first


class OnnxBackend(BatchBackend):
    name = "onnxruntime"

    def __init__(
        self, model_dir: str, threads: int = 0, onnx_file: Optional[str] = None, precision: str = PRECISION_AUTO
    ) -> None:
        """The model folder's ONNX file for `precision` (edge_core.model_files.onnx_model_file: "auto" the
        one model.json prefers, "fp32" model.onnx), or `onnx_file` in it; `threads` intra-op threads, 0
        for one per core of the device."""
        import onnxruntime as ort

        path = require_file(model_dir, onnx_file) if onnx_file else onnx_model_file(model_dir, precision)
        self.model_file = path
        self.options = session_options(threads)
        try:
            self.session = ort.InferenceSession(path, self.options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for a broken file
            raise ModelFilesError(f"cannot load {os.path.basename(path)}: {error}") from None
        self._input = self.session.get_inputs()[0].name

    def describe(self) -> str:
        return f"file={os.path.basename(self.model_file)} threads={self.options.intra_op_num_threads}"

    def infer_batch(self, batch: NDArray[Any]) -> NDArray[Any]:
        outputs = self.session.run(None, {self._input: np.ascontiguousarray(batch, dtype=np.float32)})
        scores: NDArray[Any] = np.asarray(outputs[0])
        return scores


class MxnetBackend(BatchBackend):
    name = "mxnet"

    def __init__(self, model_dir: str) -> None:
        import warnings

        import mxnet as mx

        symbol = require_file(model_dir, SYMBOL_FILE)
        params = require_file(model_dir, PARAMS_FILE)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "Cannot decide type for ... data": the input is float32
                self._block = mx.gluon.SymbolBlock.imports(symbol, [INPUT_NAME], params, ctx=mx.cpu())
        except Exception as error:  # MXNetError and friends for a broken file
            raise ModelFilesError(f"cannot load {MODEL_PREFIX}: {error}") from None
        self._block.hybridize(static_alloc=True)
        self._nd = mx.nd

    def infer_batch(self, batch: NDArray[Any]) -> NDArray[Any]:
        scores: NDArray[Any] = np.asarray(self._block(self._nd.array(batch, dtype="float32")).asnumpy())
        return scores


class DeepLensBackend(Backend):
    """awscam.Model on the DeepLens GPU, from the MXNet files mo.optimize converts.

    mo.optimize(name, width, height) looks for <name>-symbol.json and <name>-0000.params in
    /opt/awscam/artifacts and returns (error, path of the optimized model). The optimized model
    takes the resized HxWx3 frame; the normalization stays inside the graph.
    """

    name = "awscam"

    def __init__(self, artifacts_dir: str, device: str = "GPU") -> None:
        import awscam
        import mo

        require_file(artifacts_dir, SYMBOL_FILE)
        require_file(artifacts_dir, PARAMS_FILE)
        error, model_path = mo.optimize(MODEL_PREFIX, INPUT_SIZE, INPUT_SIZE)
        if error or not model_path or not os.path.exists(model_path):
            raise ModelFilesError(f"mo.optimize({MODEL_PREFIX!r}) failed with error {error!r}")
        try:
            self._model = awscam.Model(model_path, {device: 1})
        except Exception as error:  # awscam documents no exception type
            raise ModelFilesError(f"awscam.Model({model_path}) failed: {error}") from None

    def infer(self, frame: NDArray[Any]) -> NDArray[Any]:
        # HxWx3, the layout awscam.Model.doInference takes; same resize as every other backend.
        resized = to_model_input(frame)[0].transpose(1, 2, 0)
        outputs = self._model.doInference(resized)
        if not outputs:
            raise RuntimeError("doInference returned no output")
        # One output layer: the softmax; its name depends on the converter, so take the only one.
        return np.asarray(next(iter(outputs.values()))).ravel()


BACKENDS: Dict[str, Callable[[str], Backend]] = {
    "onnxruntime": OnnxBackend,
    "mxnet": MxnetBackend,
    "awscam": DeepLensBackend,
}


BATCH_BACKENDS: Dict[str, Callable[[str], BatchBackend]] = {"onnxruntime": OnnxBackend, "mxnet": MxnetBackend}


def load_backend(name: str, model_dir: str) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"backend {name!r} is not one of {sorted(BACKENDS)}")
    return BACKENDS[name](model_dir)


def load_batch_backend(name: str, model_dir: str) -> BatchBackend:
    if name not in BATCH_BACKENDS:
        raise ValueError(f"backend {name!r} is not one of {sorted(BATCH_BACKENDS)}")
    return BATCH_BACKENDS[name](model_dir)
