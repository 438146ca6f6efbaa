"""The exported MXNet graph is one the DeepLens model optimizer can convert: listed layers only."""

from __future__ import annotations

import json
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest

from sorter_common.artifact import SYMBOL_FILE
from sorter_common.model_input import MEAN_RGB, STD_RGB
from training_job.export import DEEPLENS_MXNET_LAYERS, UnsupportedLayerError, check_deeplens_layers, graph_layers
from training_job.network import colour_transform

# MXNet writes the version that saved a symbol file into it: 1.9.1 -> 10901. The README's
# DeepLens section names this version for the device (mo.optimize needs the same MXNet).
SAVED_BY_MXNET = 10901


def test_the_exported_graph_uses_only_listed_layers_and_ends_with_softmax_activation(demo_model_dir: Path) -> None:
    symbol_file = demo_model_dir / SYMBOL_FILE
    layers = graph_layers(symbol_file)
    assert set(layers) <= DEEPLENS_MXNET_LAYERS
    graph = json.loads(symbol_file.read_text())
    assert graph["nodes"][graph["heads"][0][0]]["op"] == "SoftmaxActivation"
    assert not {"slice_axis", "broadcast_sub", "broadcast_mul", "softmax"} & set(layers)
    # The first layer after the input is the colour swap and normalization: one 1x1 convolution.
    first = next(node for node in graph["nodes"] if node["op"] != "null")
    assert first["op"] == "Convolution" and first["attrs"]["kernel"] == "(1, 1)"
    assert graph["attrs"]["mxnet_version"] == ["int", SAVED_BY_MXNET]
    check_deeplens_layers(symbol_file)  # raises on anything else


def test_the_export_refuses_a_layer_the_optimizer_does_not_list(demo_model_dir: Path, tmp_path: Path) -> None:
    graph = json.loads((demo_model_dir / SYMBOL_FILE).read_text())
    head = graph["heads"][0][0]
    graph["nodes"][head]["op"] = "softmax"  # what the graph used to end with
    symbol_file = tmp_path / SYMBOL_FILE
    symbol_file.write_text(json.dumps(graph))
    with pytest.raises(UnsupportedLayerError, match="uses softmax, which the DeepLens model optimizer does not list"):
        check_deeplens_layers(symbol_file)


def test_the_colour_convolution_is_the_bgr_to_rgb_swap_and_the_imagenet_normalization() -> None:
    bgr = np.random.RandomState(1).uniform(0, 255, (2, 3, 5, 7)).astype(np.float32)
    weight, bias = colour_transform()
    converted = mx.nd.Convolution(
        mx.nd.array(bgr), mx.nd.array(weight), mx.nd.array(bias), kernel=(1, 1), num_filter=3
    ).asnumpy()
    expected = (bgr[:, ::-1] - np.array(MEAN_RGB).reshape(1, 3, 1, 1)) / np.array(STD_RGB).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(converted, expected, rtol=1e-5, atol=1e-5)
