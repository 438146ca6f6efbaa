"""The model as Greengrass delivers it (model.tar.gz, an artifact) -> a folder the backend can load."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from pathlib import Path

from edge_core.model_files import ModelFilesError


def model_folder(model: Path, work_dir: Path) -> Path:
    """A folder as is; an archive extracted once into work_dir/<content hash> (a new model, a new folder)."""
    if model.is_dir():
        return model
    if not model.is_file():
        raise ModelFilesError(f"{model} does not exist")
    digest = hashlib.sha256()
    with open(model, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    target = work_dir / "models" / digest.hexdigest()[:16]
    if target.is_dir():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tarfile.open(model) as archive:
            archive.extractall(partial, filter="data")  # refuses absolute paths, links out, devices
    except (tarfile.TarError, OSError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise ModelFilesError(f"cannot extract {model}: {error}") from None
    partial.replace(target)
    return target
