"""The classifier: in-graph preprocessing, a Gluon ResNet backbone and a new output layer.

The network takes BGR float32 NCHW 0..255 (what every edge runtime feeds it) and does the
BGR->RGB swap and the ImageNet mean/std normalization itself, so the exported graph carries
them and no runtime can drift from training. For quick CPU runs (tests, the demo) the
graph can average-pool the frame down by a fixed factor first (`downscale`): the network then
computes at 112 or 56 pixels, and training and the export still share the very same graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import mxnet as mx
from mxnet import gluon
from mxnet.gluon import nn
from mxnet.gluon.model_zoo import vision

from sorter_common.model_input import MEAN_RGB, STD_RGB
from training.train_config import ARCHITECTURES, DEFAULT_ARCHITECTURE, DOWNSCALES

__all__ = ["ARCHITECTURES", "DEFAULT_ARCHITECTURE", "DOWNSCALES", "EdgeClassifier", "WithSoftmax", "build_network"]


class EdgeClassifier(gluon.HybridBlock):  # type: ignore[misc]
    """BGR 0..255 in, class scores (logits) out."""

    def __init__(self, features: gluon.HybridBlock, num_classes: int, downscale: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.downscale = downscale
        with self.name_scope():
            # Constants, not trainable: stored in the params file and exported as ONNX initializers.
            self.mean = self.params.get_constant("mean", mx.nd.array(MEAN_RGB).reshape((1, 3, 1, 1)))
            self.inv_std = self.params.get_constant("inv_std", (1.0 / mx.nd.array(STD_RGB)).reshape((1, 3, 1, 1)))
            self.features = features
            self.output = nn.Dense(num_classes)

    def hybrid_forward(self, F: Any, x: Any, mean: Any, inv_std: Any) -> Any:
        # slice + concat rather than reverse: every exporter (ONNX, DeepLens mo) knows these ops.
        rgb = F.concat(
            F.slice_axis(x, axis=1, begin=2, end=3),
            F.slice_axis(x, axis=1, begin=1, end=2),
            F.slice_axis(x, axis=1, begin=0, end=1),
            dim=1,
        )
        normalized = F.broadcast_mul(F.broadcast_sub(rgb, mean), inv_std)
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
        return F.softmax(self.classifier(x), axis=1)


def build_network(
    architecture: str,
    num_classes: int,
    pretrained: Path | bool | None,
    contexts: Sequence[mx.Context],
    downscale: int = 1,
) -> EdgeClassifier:
    """A ResNet with the ImageNet weights of the file `pretrained` (Gluon zoo layout, see
    training.pretrained), or random initial weights when it is None or False. Nothing is
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
        from training.pretrained import load_backbone

        backbone = load_backbone(architecture, Path(pretrained), contexts)
    else:
        backbone = vision.get_model(zoo_name, pretrained=False, prefix=zoo_name + "_")
        backbone.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2), ctx=list(contexts))
    net = EdgeClassifier(backbone.features, num_classes, downscale=downscale, prefix="trashsorter_")
    net.output.initialize(mx.init.Xavier(), ctx=list(contexts))
    for constant in (net.mean, net.inv_std):
        constant.initialize(ctx=list(contexts))
    return net


def set_backbone_trainable(net: EdgeClassifier, trainable: bool) -> None:
    """Freeze (no gradients, no updates) or unfreeze the pretrained feature extractor."""
    net.features.collect_params().setattr("grad_req", "write" if trainable else "null")


def contexts_available() -> list[mx.Context]:
    """Every GPU present, else the CPU."""
    gpus = mx.context.num_gpus()
    return [mx.gpu(i) for i in range(gpus)] if gpus else [mx.cpu()]
