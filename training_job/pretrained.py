"""ImageNet-pretrained backbones without the retired Gluon model zoo host.

The weights travel as one file per architecture in the Gluon model zoo's own layout (what
`vision.get_model(name).save_parameters()` writes: `features.0.weight`, ..., `output.bias`),
so a file from an old `~/.mxnet/models` cache imports as it is. The Train step gets it through
its `pretrained` channel (the bucket's pretrained/ prefix) and checks it against the sha256
pinned in the config before loading it.

`python -m training weights` fetches torchvision's ImageNet weights for ResNet-18/34 as timm
re-publishes them on the Hugging Face Hub (safetensors, so no PyTorch is needed to read them),
maps their names onto the Gluon ResNet v1 (the same network: stride in the first 3x3 conv of a
block, 1x1 projection shortcuts) and checks the result loads into the Gluon network.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

from sorter_common.training_pipeline import ARCHITECTURES, pretrained_weights_file
from training_job.errors import UsageError
from training_job.files import sha256_of

WEIGHTS_COMMAND = "python -m training weights s3://deeplens-<your-bucket>"
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
# The maintained source of each architecture `weights` can fetch: torchvision's own ImageNet
# weights (BSD-3-Clause), re-published by timm in safetensors. ResNet-50 is left out: torchvision's
# is v1.5 (stride in the 3x3 conv), which does not map exactly onto Gluon's resnet50_v1.
HUB_SOURCES = {
    "resnet18": "https://huggingface.co/timm/resnet18.tv_in1k/resolve/main/model.safetensors",
    "resnet34": "https://huggingface.co/timm/resnet34.tv_in1k/resolve/main/model.safetensors",
}
# torchvision BatchNorm names -> Gluon BatchNorm names
_BN_NAMES = {"weight": "gamma", "bias": "beta", "running_mean": "running_mean", "running_var": "running_var"}
_SAFETENSORS_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}


class PretrainedWeightsError(UsageError):
    """The pretrained weights are missing, not the pinned file, or not a Gluon ResNet's."""


def find_in_channel(channel_dir: Path, architecture: str) -> Path:
    """The architecture's weights file in the Train step's pretrained channel, or one clear error."""
    path = channel_dir / pretrained_weights_file(architecture)
    if not path.is_file():
        raise PretrainedWeightsError(
            f"no pretrained weights {path.name} in the pretrained channel: run "
            f"`{WEIGHTS_COMMAND} --architecture {architecture}` once (or set the hyperparameter pretrained to false)"
        )
    return path


def verify_checksum(path: Path, expected_sha256: str | None) -> str:
    """The file's sha256, which must be the pinned one."""
    actual = sha256_of(path)
    if not expected_sha256:
        raise PretrainedWeightsError(
            f"the pretrained weights {path.name} are not pinned: set pretrainedWeightsSha256={actual} in "
            "cdk.json (what `python -m training weights` printed) and deploy again"
        )
    if actual != expected_sha256.lower():
        raise PretrainedWeightsError(
            f"pretrained weights {path.name} have sha256 {actual}, not the pinned {expected_sha256}: "
            f"upload them again with `{WEIGHTS_COMMAND}` or pin the right checksum"
        )
    return actual


def load_backbone(architecture: str, weights: Path, contexts: Any) -> Any:
    """The zoo network with the file's weights; any missing, extra or misshapen parameter is an error."""
    from mxnet.base import MXNetError
    from mxnet.gluon.model_zoo import vision

    zoo_name = ARCHITECTURES[architecture]
    backbone = vision.get_model(zoo_name, pretrained=False, prefix=zoo_name + "_")
    try:
        backbone.load_parameters(str(weights), ctx=list(contexts))
    except (AssertionError, MXNetError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PretrainedWeightsError(
            f"{weights} is not a Gluon {zoo_name} weights file: {first[:300]}"
        ) from None
    return backbone


# --- torchvision (safetensors) -> Gluon ---------------------------------------------------------


def read_safetensors(data: bytes) -> dict[str, Any]:
    """name -> numpy array, from the safetensors format (8-byte header length, JSON header, data)."""
    import numpy as np

    if len(data) < 8:
        raise PretrainedWeightsError("not a safetensors file (too short)")
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > len(data) - 8:
        raise PretrainedWeightsError("not a safetensors file (header runs past the end)")
    try:
        header = json.loads(data[8 : 8 + header_size].decode("utf-8"))
    except ValueError:
        raise PretrainedWeightsError("not a safetensors file (unreadable header)") from None
    body = data[8 + header_size :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES.get(entry.get("dtype"))
        if dtype is None:
            continue  # e.g. num_batches_tracked (I64): no Gluon counterpart
        begin, end = entry["data_offsets"]
        array = np.frombuffer(body[begin:end], dtype=dtype).astype(np.float32)
        tensors[name] = array.reshape(entry["shape"])
    return tensors


def _gluon_name(torch_name: str) -> str | None:
    parts = torch_name.split(".")
    if parts[-1] == "num_batches_tracked":
        return None
    if parts[0] == "conv1":
        return "features.0.weight"
    if parts[0] == "bn1":
        return "features.1." + _BN_NAMES[parts[1]]
    if parts[0] == "fc":
        return "output." + parts[1]
    match = re.match(r"^layer([1-4])$", parts[0])
    if not match:
        raise PretrainedWeightsError(f"unexpected parameter {torch_name!r} for a torchvision ResNet")
    stage = f"features.{3 + int(match.group(1))}.{parts[1]}"
    layer, leaf = parts[2], parts[-1]
    if layer in ("conv1", "conv2"):
        return "{}.body.{}.weight".format(stage, 0 if layer == "conv1" else 3)
    if layer in ("bn1", "bn2"):
        return "{}.body.{}.{}".format(stage, 1 if layer == "bn1" else 4, _BN_NAMES[leaf])
    if layer == "downsample":
        index = parts[3]
        return "{}.downsample.{}.{}".format(stage, index, "weight" if index == "0" else _BN_NAMES[leaf])
    raise PretrainedWeightsError(f"unexpected parameter {torch_name!r} for a torchvision ResNet")


def torchvision_to_gluon(tensors: dict[str, Any]) -> dict[str, Any]:
    """Rename a torchvision ResNet-18/34 state dict into the Gluon resnet*_v1 layout."""
    renamed = {}
    for name, array in tensors.items():
        target = _gluon_name(name)
        if target is not None:
            renamed[target] = array
    return renamed


def write_gluon_file(arrays: dict[str, Any], out: Path) -> Path:
    """Save name -> array as a Gluon params file; sorted names give the same bytes every time."""
    import mxnet as mx

    out.parent.mkdir(parents=True, exist_ok=True)
    mx.nd.save(str(out), {name: mx.nd.array(arrays[name]) for name in sorted(arrays)})
    return out
