"""Reading a model folder (the extracted model.tar.gz): labels.txt, model.json, the network files."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, NamedTuple

from sorter_common.artifact import (
    INT8_INFO_KEY,
    INT8_ONNX_FILE,
    INT8_PREFERRED,
    LABELS_FILE,
    MODEL_INFO_FILE,
    ONNX_FILE,
)
from sorter_common.classes import parse_labels

# The camera's Precision setting (edge_core.settings): "auto" runs the file model.json's int8 decision
# prefers; "fp32" always runs model.onnx. int8 cannot be forced: the artifact carries model.int8.onnx
# only where the export preferred it.
PRECISION_AUTO = "auto"
PRECISION_FP32 = "fp32"
PRECISIONS = (PRECISION_AUTO, PRECISION_FP32)


class ModelFilesError(RuntimeError):
    """The model folder is missing, incomplete or unreadable; str() says which file and why."""


class ModelInfo(NamedTuple):
    labels: List[str]
    version: str


def require_file(model_dir: str, name: str) -> str:
    path = os.path.join(model_dir, name)
    if not os.path.isfile(path):
        raise ModelFilesError(f"{name} is missing from {model_dir}")
    return path


def _model_json(model_dir: str) -> Dict[str, Any]:
    """model.json as a dict ({} when the folder has none, as older models)."""
    info_path = os.path.join(model_dir, MODEL_INFO_FILE)
    if not os.path.isfile(info_path):
        return {}
    try:
        with open(info_path, encoding="utf-8") as handle:
            info = json.load(handle)
    except (OSError, ValueError) as error:
        raise ModelFilesError(f"cannot read {MODEL_INFO_FILE}: {error}") from None
    return info if isinstance(info, dict) else {}


def onnx_model_file(model_dir: str, precision: str = PRECISION_AUTO) -> str:
    """model.int8.onnx where the export's measurement preferred it (model.json "int8") and `precision`
    is "auto", else model.onnx."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if precision == PRECISION_FP32:
        return require_file(model_dir, ONNX_FILE)
    int8 = _model_json(model_dir).get(INT8_INFO_KEY)
    if isinstance(int8, dict) and int8.get(INT8_PREFERRED) is True:
        return require_file(model_dir, INT8_ONNX_FILE)
    return require_file(model_dir, ONNX_FILE)


def read_model_info(model_dir: str) -> ModelInfo:
    """Labels (stripped: the recipe leaked '\\n' into them) and the model version from model.json."""
    try:
        with open(require_file(model_dir, LABELS_FILE), encoding="utf-8") as handle:
            labels = parse_labels(handle.read())
    except (OSError, UnicodeDecodeError) as error:
        raise ModelFilesError(f"cannot read {LABELS_FILE}: {error}") from None
    if len(labels) < 2:
        raise ModelFilesError(
            f"{LABELS_FILE} in {model_dir} lists {len(labels)} labels; a classifier needs at least two"
        )
    version = str(_model_json(model_dir).get("version", "unknown"))
    return ModelInfo(labels=labels, version=version)
