"""model.tar.gz: the exported model, labels.txt and model.json, packed and unpacked.

The archive is byte-for-byte reproducible for the same files (sorter_common.reproducible_tar).
The same training run gives the same network files and model version; model.json's "int8" holds
the export's own timing, which differs from run to run (and so does the archive's hash).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import zlib
from pathlib import Path
from typing import Any, Mapping, Sequence

from sorter_common.artifact import (
    ARCHIVE_NAME,
    ARTIFACT_FILES,
    INT8_INFO_KEY,
    INT8_ONNX_FILE,
    INT8_PREFERRED,
    LABELS_FILE,
    MODEL_INFO_FILE,
    ONNX_FILE,
    OPTIONAL_ARTIFACT_FILES,
    PARAMS_FILE,
    SYMBOL_FILE,
)
from sorter_common.classes import format_labels, parse_labels
from sorter_common.model_input import INPUT_NAME, INPUT_SIZE, MEAN_RGB, STD_RGB
from sorter_common.reproducible_tar import tar_gz_bytes
from training_job.errors import UsageError

MODEL_INFO_VERSION = 1
# No artifact file is anywhere near this (ResNet-50's params are about 100 MB): a bigger member
# is a corrupt or hostile archive, refused before it is read into memory.
MAX_MEMBER_BYTES = 1024**3
# What reading a damaged gzip/tar stream raises, depending on where the damage is.
_STREAM_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)


class ModelArchiveError(UsageError, ValueError):
    """A model.tar.gz that is not one this project wrote, or is damaged; the message says which."""


def model_version(params_file: Path) -> str:
    """A content-derived version: the first 12 hex digits of the params file's sha256."""
    return hashlib.sha256(params_file.read_bytes()).hexdigest()[:12]


def model_info(
    classes: Sequence[str],
    version: str,
    architecture: str,
    metrics: Mapping[str, float],
    training: Mapping[str, Any] | None = None,
    int8: Mapping[str, Any] | None = None,
    deeplens: bool = True,
) -> dict[str, Any]:
    """model.json: what an edge runtime needs to feed the model and read its output.

    `int8` is training_job.quantize's measurement and decision; `deeplens` whether the MXNet
    files are ones the DeepLens model optimizer can convert.
    """
    measured = dict(int8 or {INT8_PREFERRED: False, "reason": "not quantized"})
    files = {"symbol": SYMBOL_FILE, "params": PARAMS_FILE, "onnx": ONNX_FILE, "labels": LABELS_FILE}
    if measured.get(INT8_PREFERRED):
        files["onnx_int8"] = INT8_ONNX_FILE
    return {
        "format_version": MODEL_INFO_VERSION,
        "name": "trash-sorter",
        "version": version,
        "architecture": architecture,
        "classes": list(classes),
        "input_size": INPUT_SIZE,
        "input": {
            "name": INPUT_NAME,
            "shape": [1, 3, INPUT_SIZE, INPUT_SIZE],
            "dtype": "float32",
            "layout": "NCHW",
            "color_order": "BGR",
            "value_range": [0, 255],
            "normalization": f"inside the graph (BGR->RGB, mean {list(MEAN_RGB)} std {list(STD_RGB)})",
        },
        "output": {"kind": "probabilities", "shape": [1, len(classes)], "order": "labels.txt"},
        "files": files,
        "deeplens": deeplens,
        INT8_INFO_KEY: measured,
        "metrics": {key: round(float(value), 6) for key, value in metrics.items()},
        "training": dict(training or {}),
    }


def write_model_files(model_dir: Path, classes: Sequence[str], info: Mapping[str, Any]) -> None:
    """labels.txt and model.json next to the exported symbol, params and ONNX files."""
    (model_dir / LABELS_FILE).write_text(format_labels(classes), encoding="utf-8")
    (model_dir / MODEL_INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def pack(model_dir: Path, archive: Path | None = None) -> Path:
    """Pack the artifact files of model_dir (and the optional ones it has) into model.tar.gz (flat, reproducible)."""
    archive = archive or model_dir / ARCHIVE_NAME
    missing = [name for name in ARTIFACT_FILES if not (model_dir / name).is_file()]
    if missing:
        raise FileNotFoundError("cannot pack {}: missing {}".format(model_dir, ", ".join(missing)))
    optional = [name for name in OPTIONAL_ARTIFACT_FILES if (model_dir / name).is_file()]
    members = ((name, (model_dir / name).read_bytes()) for name in (*ARTIFACT_FILES, *optional))
    archive.write_bytes(tar_gz_bytes(members, compresslevel=6))
    return archive


def unpack(archive: Path, out_dir: Path) -> dict[str, Any]:
    """Extract a model.tar.gz (artifact files only) and return its model.json with labels checked.

    Raises ModelArchiveError (one line) for anything but a complete, consistent archive.
    """
    if not archive.is_file():
        raise FileNotFoundError(f"model archive {archive} does not exist")
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the with below; a non-gzip file fails here
    except _STREAM_ERRORS as error:
        raise ModelArchiveError(f"{archive} is not a model.tar.gz (not a gzip-compressed tar: {error})") from None
    with tar:
        try:
            _extract_artifacts(tar, archive, out_dir)
        except _STREAM_ERRORS as error:
            raise ModelArchiveError(f"{archive} is truncated or corrupt ({error}); copy or export it again") from None
    return _checked_info(archive, out_dir)


def _extract_artifacts(tar: tarfile.TarFile, archive: Path, out_dir: Path) -> None:
    names = {member.name.lstrip("./"): member for member in tar.getmembers() if member.isfile()}
    missing = [name for name in ARTIFACT_FILES if name not in names]
    if missing:
        raise ModelArchiveError("{} lacks {}".format(archive, ", ".join(missing)))
    for name in (*ARTIFACT_FILES, *(name for name in OPTIONAL_ARTIFACT_FILES if name in names)):
        if names[name].size > MAX_MEMBER_BYTES:
            raise ModelArchiveError(f"{archive}: {name} is {names[name].size} bytes, more than any model file")
        source = tar.extractfile(names[name])
        assert source is not None  # isfile() members always have content
        data = source.read()
        if len(data) != names[name].size:
            raise EOFError(f"{name} ends early")
        (out_dir / name).write_bytes(data)


def _checked_info(archive: Path, out_dir: Path) -> dict[str, Any]:
    try:
        info = json.loads((out_dir / MODEL_INFO_FILE).read_text(encoding="utf-8"))
        labels = parse_labels((out_dir / LABELS_FILE).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ModelArchiveError(f"{archive}: {MODEL_INFO_FILE} or {LABELS_FILE} is unreadable ({error})") from None
    if not isinstance(info, dict):
        raise ModelArchiveError(f"{archive}: {MODEL_INFO_FILE} is not a JSON object")
    classes = info.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise ModelArchiveError(f"{archive}: {MODEL_INFO_FILE} has no list of class ids under 'classes'")
    if labels != classes:
        raise ModelArchiveError(f"{archive}: labels.txt {labels} disagrees with model.json classes {classes}")
    int8 = info.get(INT8_INFO_KEY)
    if isinstance(int8, dict) and int8.get(INT8_PREFERRED) and not (out_dir / INT8_ONNX_FILE).is_file():
        raise ModelArchiveError(f"{archive}: {MODEL_INFO_FILE} prefers int8 but {INT8_ONNX_FILE} is missing")
    return info
