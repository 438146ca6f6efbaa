"""The trained network as the edge runs it: MXNet symbol + params at 224x224, and ONNX.

Exported files take a 224x224 BGR frame as float32 NCHW 0..255 and give class probabilities.
The MXNet graph uses only layers the DeepLens model optimizer lists as supported (the export
refuses any other), so mo.optimize on the device can convert it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mxnet as mx
import numpy as np

from sorter_common.artifact import MODEL_PREFIX, ONNX_FILE, PARAMS_FILE, SYMBOL_FILE
from sorter_common.model_input import INPUT_SIZE
from training_job.network import EdgeClassifier, WithSoftmax

# "Supporting MXNet Layers", AWS DeepLens Developer Guide (archived):
# https://docs.aws.amazon.com/deeplens/latest/dg/deeplens-supported-frameworks-mxnet-layers.html
# ("null" is how the symbol file spells inputs and weights, the guide's InputLayer.)
DEEPLENS_MXNET_LAYERS = frozenset(
    {
        "null",
        "Activation",
        "BatchNorm",
        "Concat",
        "_contrib_MultiBoxDetection",
        "_contrib_MultiBoxPrior",
        "Convolution",
        "Deconvolution",
        "elemwise_add",
        "Flatten",
        "FullyConnected",
        "InputLayer",
        "L2Norm",
        "LRN",
        "Pooling",
        "Reshape",
        "ScaleShift",
        "SoftmaxActivation",
        "SoftmaxOutput",
        "transpose",
        "UpSampling",
        "_mul",
        "_Plus",
    }
)


class UnsupportedLayerError(ValueError):
    """The graph has a layer the DeepLens model optimizer does not list."""


def graph_layers(symbol_file: Path) -> list[str]:
    """The op of every node in an MXNet symbol file, in graph order."""
    nodes = json.loads(symbol_file.read_text())["nodes"]
    return [str(node["op"]) for node in nodes]


def check_deeplens_layers(symbol_file: Path) -> None:
    unsupported = sorted(set(graph_layers(symbol_file)) - DEEPLENS_MXNET_LAYERS)
    if unsupported:
        raise UnsupportedLayerError(
            f"{symbol_file.name} uses {', '.join(unsupported)}, which the DeepLens model optimizer does not "
            "list as supported; express them with listed layers (see DEEPLENS_MXNET_LAYERS)"
        )


def export_mxnet(
    net: EdgeClassifier, out_dir: Path, size: int = INPUT_SIZE, deeplens: bool = True
) -> tuple[Path, Path]:
    """Write image-classification-symbol.json and -0000.params (the names DeepLens mo expects).

    With deeplens, refuse a graph the DeepLens model optimizer cannot convert; without it (a
    network the optimizer cannot take, sorter_common.training_pipeline.DEEPLENS_ARCHITECTURES)
    the files are for MXNet itself (the evaluation's backend and the ONNX export)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    context = net.output.weight.list_ctx()[0]
    exported = WithSoftmax(net, prefix="")
    exported.hybridize()
    exported(mx.nd.zeros((1, 3, size, size), ctx=context)).wait_to_read()  # builds the graph at the edge size
    exported.export(str(out_dir / MODEL_PREFIX), epoch=0)
    if deeplens:
        check_deeplens_layers(out_dir / SYMBOL_FILE)
    return out_dir / SYMBOL_FILE, out_dir / PARAMS_FILE


def export_onnx(symbol_file: Path, params_file: Path, onnx_file: Path, size: int = INPUT_SIZE) -> Path:
    """Convert the exported MXNet model to ONNX; the batch dimension stays dynamic."""
    _register_softmax_activation()
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


def _register_softmax_activation() -> None:
    """MXNet 1.9's ONNX exporter has no SoftmaxActivation: map it to ONNX Softmax over axis 1.

    The graph applies it, in its default "instance" mode, to the (batch, classes) scores, where
    that is a softmax over the classes of each row: the same in every opset the exporter uses.
    """
    from mxnet.onnx.mx2onnx._export_onnx import MXNetGraph  # the exporter's own operator registry

    def convert(node: dict[str, Any], **kwargs: Any) -> list[Any]:
        from onnx.helper import make_node

        attrs = node.get("attrs", {})
        if attrs.get("mode", "instance") != "instance":
            raise NotImplementedError("only SoftmaxActivation mode=instance is exported")
        source, index = node["inputs"][0][0], node["inputs"][0][1]
        data = kwargs["outputs_lookup"][source][index].name
        return [make_node("Softmax", [data], [node["name"]], axis=1, name=node["name"])]

    for opset in list(MXNetGraph.registry_):
        MXNetGraph.registry_[opset].setdefault("SoftmaxActivation", convert)


# The exporter builds every node with its opset-13 translations but stamps the file with the
# newest opset the installed onnx knows (19) and IR version 9. The file says what it holds
# instead: opset 13 and IR 7, the pair onnx 1.8 introduced. IR 7 is the newest the training
# image's onnx 1.8.1 can check (make rehearse-pipeline failed on IR 8), and older runtimes
# (onnxruntime 1.14, the last for Python 3.7) read it too.
ONNX_OPSET = 13
ONNX_IR_VERSION = 7


def _make_weights_constant(onnx_file: Path) -> None:
    """Drop weights from the graph inputs and unused initializers; declare the opset the nodes use.

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
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = ONNX_OPSET
    model.ir_version = ONNX_IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(onnx_file))


def export_all(
    net: EdgeClassifier, out_dir: Path, size: int = INPUT_SIZE, deeplens: bool = True
) -> tuple[Path, Path, Path]:
    symbol_file, params_file = export_mxnet(net, out_dir, size, deeplens)
    onnx_file = export_onnx(symbol_file, params_file, out_dir / ONNX_FILE, size)
    return symbol_file, params_file, onnx_file
