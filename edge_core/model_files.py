"""Reading a model folder (the extracted model.tar.gz): labels.txt, model.json, the network files."""

from __future__ import annotations

import json
import os
from typing import List, NamedTuple

from sorter_common.artifact import LABELS_FILE, MODEL_INFO_FILE
from sorter_common.classes import parse_labels


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
    version = "unknown"
    info_path = os.path.join(model_dir, MODEL_INFO_FILE)
    if os.path.isfile(info_path):
        try:
            with open(info_path, encoding="utf-8") as handle:
                info = json.load(handle)
            version = str(info.get("version", version)) if isinstance(info, dict) else version
        except (OSError, ValueError) as error:
            raise ModelFilesError(f"cannot read {MODEL_INFO_FILE}: {error}") from None
    return ModelInfo(labels=labels, version=version)
