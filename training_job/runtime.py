"""Run an exported model: MXNet (the SageMaker side) or ONNX Runtime (the edge side).

Both take a batch of 224x224 BGR float32 NCHW 0..255 frames and return class probabilities.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from sorter_common.artifact import ONNX_FILE, PARAMS_FILE, SYMBOL_FILE
from sorter_common.model_input import INPUT_NAME

if TYPE_CHECKING:  # numpy.typing needs numpy 1.20+, which the MXNet container may not have
    from numpy.typing import NDArray

RUNTIMES = ("mxnet", "onnx")


class Predictor(Protocol):
    name: str

    def predict(self, batch: NDArray[Any]) -> NDArray[Any]: ...


class MxnetPredictor:
    name = "mxnet"

    def __init__(self, model_dir: Path) -> None:
        import mxnet as mx

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Cannot decide type for ... data": the input is float32
            self._block = mx.gluon.SymbolBlock.imports(
                str(model_dir / SYMBOL_FILE), [INPUT_NAME], str(model_dir / PARAMS_FILE), ctx=mx.cpu()
            )
        self._block.hybridize(static_alloc=True)
        self._mx = mx

    def predict(self, batch: NDArray[Any]) -> NDArray[Any]:
        return self._block(self._mx.nd.array(batch, dtype="float32")).asnumpy()  # type: ignore[no-any-return]


class OnnxPredictor:
    name = "onnx"

    def __init__(self, model_dir: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about the exporter's leftovers are not actionable here
        # No busy-waiting between operators: on a small edge CPU shared with the camera loop
        # (or a busy build machine) spinning threads steal the cores the next operator needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(model_dir / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def predict(self, batch: NDArray[Any]) -> NDArray[Any]:
        return self._session.run(None, {self._input: np.ascontiguousarray(batch, dtype=np.float32)})[0]  # type: ignore[no-any-return]


def load_predictor(model_dir: Path, runtime: str) -> Predictor:
    if runtime == "mxnet":
        return MxnetPredictor(model_dir)
    if runtime == "onnx":
        return OnnxPredictor(model_dir)
    raise ValueError(f"runtime {runtime!r} is not one of {RUNTIMES}")
