"""The classifier: in-graph preprocessing, a Gluon ResNet or MobileNet V2 backbone and a new output layer.

The network takes BGR float32 NCHW 0..255 (what every edge runtime feeds it) and does the
BGR->RGB swap and the ImageNet mean/std normalization itself, so the exported graph carries
them and no runtime can drift from training. Both are one fixed 1x1 Convolution and the graph
ends with SoftmaxActivation: layers the DeepLens model optimizer lists as supported.
For quick CPU runs (tests, the demo) the graph can average-pool the frame down by a fixed
factor first (`downscale`): the network then computes at 112 or 56 pixels, and training and
the export still share the very same graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import mxnet as mx
import numpy as np
from mxnet import gluon
from mxnet.gluon import nn
from mxnet.gluon.model_zoo import vision

from sorter_common.model_input import MEAN_RGB, STD_RGB
from sorter_common.training_pipeline import ARCHITECTURES, DEFAULT_ARCHITECTURE
from training_job.train_config import DOWNSCALES

if TYPE_CHECKING:  # numpy.typing only for type checking: the MXNet container has an older numpy
    from numpy.typing import NDArray

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_ARCHITECTURE",
    "DOWNSCALES",
    "EdgeClassifier",
    "WithSoftmax",
    "build_network",
    "colour_transform",
]


class EdgeClassifier(gluon.HybridBlock):  # type: ignore[misc]
    """BGR 0..255 in, class scores (logits) out."""

    def __init__(self, features: gluon.HybridBlock, num_classes: int, downscale: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.downscale = downscale
        with self.name_scope():
            # Constants, not trainable: stored in the params file and exported as ONNX initializers.
            weight, bias = colour_transform()
            self.colour_weight = self.params.get_constant("colour_weight", mx.nd.array(weight))
            self.colour_bias = self.params.get_constant("colour_bias", mx.nd.array(bias))
            self.features = features
            self.output = nn.Dense(num_classes)

    def hybrid_forward(self, F: Any, x: Any, colour_weight: Any, colour_bias: Any) -> Any:
        # One 1x1 convolution swaps BGR to RGB and normalizes: (x - mean) / std per channel.
        normalized = F.Convolution(x, colour_weight, colour_bias, kernel=(1, 1), num_filter=3)
        if self.downscale > 1:  # area downsampling, the same in training and on the edge
            k = self.downscale
            normalized = F.Pooling(normalized, kernel=(k, k), stride=(k, k), pool_type="avg")
        return self.output(self.features(normalized))


class WithSoftmax(gluon.HybridBlock):  # type: ignore[misc]
    """The exported form: probabilities, so every edge runtime reads the same numbers."""

    def __init__(self, classifier: EdgeClassifier, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.classifier = classifier

    def hybrid_forward(self, F: Any, x: Any) -> Any:
        # SoftmaxActivation (mode "instance"): softmax over the classes of each frame.
        return F.SoftmaxActivation(self.classifier(x))


def colour_transform() -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The 1x1 convolution's weight (3, 3, 1, 1) and bias (3,): BGR 0..255 in, normalized RGB out.

    Output channel c (R, G, B) reads input channel 2 - c (BGR order), scaled by 1/std[c], then
    shifted by -mean[c]/std[c].
    """
    weight = np.zeros((3, 3, 1, 1), dtype=np.float32)
    bias = np.zeros(3, dtype=np.float32)
    for channel in range(3):
        weight[channel, 2 - channel, 0, 0] = 1.0 / STD_RGB[channel]
        bias[channel] = -MEAN_RGB[channel] / STD_RGB[channel]
    return weight, bias


def build_network(
    architecture: str,
    num_classes: int,
    pretrained: Path | bool | None,
    contexts: Sequence[mx.Context],
    downscale: int = 1,
) -> EdgeClassifier:
    """A ResNet with the ImageNet weights of the file `pretrained` (Gluon zoo layout, see
    training_job.pretrained), or random initial weights when it is None or False. Nothing is
    downloaded: the zoo's host is retired."""
    if downscale not in DOWNSCALES:
        raise ValueError(f"downscale {downscale} is not one of {DOWNSCALES}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture {architecture!r} is not one of {sorted(ARCHITECTURES)}")
    zoo_name = ARCHITECTURES[architecture]
    # A fixed prefix keeps parameter names (and so the params file and the model version hash)
    # the same however many networks a process builds; the zoo loads weights by structure.
    if pretrained is True:
        raise ValueError("pretrained weights come from a file: pass its path (python -m training weights)")
    if pretrained:
        from training_job.pretrained import load_backbone

        backbone = load_backbone(architecture, Path(pretrained), contexts)
    else:
        backbone = vision.get_model(zoo_name, pretrained=False, prefix=zoo_name + "_")
        backbone.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2), ctx=list(contexts))
    net = EdgeClassifier(backbone.features, num_classes, downscale=downscale, prefix="trashsorter_")
    net.output.initialize(mx.init.Xavier(), ctx=list(contexts))
    for constant in (net.colour_weight, net.colour_bias):
        constant.initialize(ctx=list(contexts))
    return net


def set_backbone_trainable(net: EdgeClassifier, trainable: bool) -> None:
    """Freeze (no gradients, no updates) or unfreeze the pretrained feature extractor."""
    net.features.collect_params().setattr("grad_req", "write" if trainable else "null")


def contexts_available() -> list[mx.Context]:
    """Every GPU present, else the CPU."""
    gpus = mx.context.num_gpus()
    return [mx.gpu(i) for i in range(gpus)] if gpus else [mx.cpu()]
