"""The trained network as the edge runs it: MXNet symbol + params at 224x224, and ONNX.

Exported files take a 224x224 BGR frame as float32 NCHW 0..255 and give class probabilities.
"""

from __future__ import annotations

from pathlib import Path

import mxnet as mx
import numpy as np

from sorter_common.artifact import MODEL_PREFIX, ONNX_FILE, PARAMS_FILE, SYMBOL_FILE
from sorter_common.model_input import INPUT_SIZE
from training.network import EdgeClassifier, WithSoftmax


def export_mxnet(net: EdgeClassifier, out_dir: Path, size: int = INPUT_SIZE) -> tuple[Path, Path]:
    """Write image-classification-symbol.json and -0000.params (the names DeepLens mo expects)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    context = net.output.weight.list_ctx()[0]
    exported = WithSoftmax(net, prefix="")
    exported.hybridize()
    exported(mx.nd.zeros((1, 3, size, size), ctx=context)).wait_to_read()  # builds the graph at the edge size
    exported.export(str(out_dir / MODEL_PREFIX), epoch=0)
    return out_dir / SYMBOL_FILE, out_dir / PARAMS_FILE


def export_onnx(symbol_file: Path, params_file: Path, onnx_file: Path, size: int = INPUT_SIZE) -> Path:
    """Convert the exported MXNet model to ONNX; the batch dimension stays dynamic."""
    mx.onnx.export_model(
        str(symbol_file),
        str(params_file),
        in_shapes=[(1, 3, size, size)],
        in_types=[np.float32],
        onnx_file_path=str(onnx_file),
        dynamic=True,
        dynamic_input_shapes=[(None, 3, size, size)],
    )
    _make_weights_constant(onnx_file)
    return onnx_file


def _make_weights_constant(onnx_file: Path) -> None:
    """Drop weights from the graph inputs and unused initializers.

    The MXNet exporter lists every weight as a graph input too, which tells ONNX Runtime they
    may be overridden and so stops it folding constants and fusing BatchNorm into convolutions.
    """
    import onnx  # imported late: only the export needs it

    model = onnx.load(str(onnx_file))
    used = {name for node in model.graph.node for name in node.input}
    kept = [init for init in model.graph.initializer if init.name in used]
    weights = {init.name for init in kept}
    inputs = [value for value in model.graph.input if value.name not in weights]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    onnx.checker.check_model(model)
    onnx.save(model, str(onnx_file))


def export_all(net: EdgeClassifier, out_dir: Path, size: int = INPUT_SIZE) -> tuple[Path, Path, Path]:
    symbol_file, params_file = export_mxnet(net, out_dir, size)
    onnx_file = export_onnx(symbol_file, params_file, out_dir / ONNX_FILE, size)
    return symbol_file, params_file, onnx_file
