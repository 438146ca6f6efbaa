"""A fake of the DeepLens model optimizer module `mo` (Python 3.7 syntax: it runs where the function runs).

Written from the archived AWS DeepLens Developer Guide:
- mo.optimize(model_name, input_width, input_height, platform, aux_inputs) -> (error, model_path)
  https://docs.aws.amazon.com/deeplens/latest/dg/deeplens-model-optimizer-api-methods.html
  error 0: success; 1: platform not supported (only mxNet); 2: the model optimizer failed.
  Width and height: non-negative integers up to 1024. It reads <model_name>-symbol.json and
  <model_name>-0000.params from /opt/awscam/artifacts (the SageMaker names the guide's
  inference function template uses) and writes the optimized model (.xml and .bin) there.
- The supported MXNet layers: https://docs.aws.amazon.com/deeplens/latest/dg/deeplens-supported-frameworks-mxnet-layers.html
  and the troubleshooting page (https://docs.aws.amazon.com/deeplens/latest/dg/deeplens-model-optimizer-api-errors.html):
  a layer the optimizer does not support fails the conversion.

The folder stands in for /opt/awscam/artifacts through FAKE_DEEPLENS_ARTIFACTS (tests cannot
write to /opt). `CALLS` records every call, for in-process tests.
"""

import json
import os
import struct
import sys
import xml.etree.ElementTree as ElementTree
from typing import Any, Dict, List, Optional, Tuple

ARTIFACTS_DIR = os.environ.get("FAKE_DEEPLENS_ARTIFACTS", "/opt/awscam/artifacts")
MAX_INPUT = 1024
# "Supporting MXNet Layers" as the guide lists them; "null" is how a symbol file spells its
# inputs and weights (the guide's InputLayer).
SUPPORTED_MXNET_LAYERS = frozenset(
    [
        "null", "Activation", "BatchNorm", "Concat", "_contrib_MultiBoxDetection", "_contrib_MultiBoxPrior",
        "Convolution", "Deconvolution", "elemwise_add", "Flatten", "FullyConnected", "InputLayer", "L2Norm",
        "LRN", "Pooling", "Reshape", "ScaleShift", "SoftmaxActivation", "SoftmaxOutput", "transpose",
        "UpSampling", "_mul", "_Plus",
    ]
)
# The image input of the guide's MXNet image-classification models.
INPUT_NAME = "data"
# An MXNet .params file (an NDArray list) starts with this magic number.
_NDARRAY_LIST_MAGIC = 0x112
CALLS: List[Tuple[str, int, int]] = []


def optimize(
    model_name: str,
    input_width: int,
    input_height: int,
    platform: str = "mxNet",
    aux_inputs: Optional[Dict[str, Any]] = None,
) -> Tuple[int, str]:
    result = _optimize(model_name, input_width, input_height, platform)
    print(f"mo.optimize({model_name!r}, {input_width!r}, {input_height!r}) -> {result!r}", file=sys.stderr)
    return result


def _optimize(
    model_name: str,
    input_width: int,
    input_height: int,
    platform: str,
) -> Tuple[int, str]:
    CALLS.append((model_name, input_width, input_height))
    if platform != "mxNet":
        return 1, ""
    for value in (input_width, input_height):
        if not isinstance(value, int) or not 0 <= value <= MAX_INPUT:
            return _failed(f"input size {value!r} is not an integer from 0 to {MAX_INPUT}")
    symbol_file = os.path.join(ARTIFACTS_DIR, model_name + "-symbol.json")
    params_file = os.path.join(ARTIFACTS_DIR, model_name + "-0000.params")
    try:
        with open(symbol_file) as handle:
            graph = json.load(handle)
        nodes = graph["nodes"]
        with open(params_file, "rb") as handle:
            params = handle.read()
    except (OSError, ValueError, KeyError) as error:
        return _failed(f"The following error happened while loading mxnet model {model_name}: {error}")
    if len(params) < 8 or struct.unpack("<Q", params[:8])[0] != _NDARRAY_LIST_MAGIC:
        return _failed(f"The following error happened while loading mxnet model {model_name}: not a params file")
    unsupported = sorted({node["op"] for node in nodes} - SUPPORTED_MXNET_LAYERS)
    if unsupported:
        return _failed("Unable to create ports for node with id: unsupported layers {}".format(", ".join(unsupported)))
    # Every weight the graph names (every input but the image) must be in the params file.
    weights = [node["name"] for node in nodes if node["op"] == "null" and node["name"] != INPUT_NAME]
    missing = [name for name in weights if not any((kind + name).encode() in params for kind in ("arg:", "aux:"))]
    if missing:
        return _failed("Discovered data node without inputs and value: {}".format(", ".join(missing[:3])))
    head = graph["heads"][0][0]
    model_path = os.path.join(ARTIFACTS_DIR, model_name + ".xml")
    network = ElementTree.Element(
        "net", name=model_name, output=nodes[head]["name"], width=str(input_width), height=str(input_height)
    )
    ElementTree.ElementTree(network).write(model_path)
    with open(os.path.join(ARTIFACTS_DIR, model_name + ".bin"), "wb") as handle:
        handle.write(params)
    return 0, model_path


def _failed(message: str) -> Tuple[int, str]:
    print("[ ERROR ] " + message, file=sys.stderr)
    return 2, ""
