"""The model as Greengrass delivers it (model.tar.gz, an artifact) -> a folder the backend can load."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from edge_core.model_files import ModelFilesError
from sorter_common.artifact import ARTIFACT_FILES, OPTIONAL_ARTIFACT_FILES
from sorter_common.atomic_build import build_once


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
    return build_once(work_dir / "models" / digest.hexdigest()[:16], lambda folder: _extract(model, folder))


def _extract(model: Path, folder: Path) -> None:
    folder.mkdir()
    try:
        # Only the artifact's own files, by name: nothing in the archive can write elsewhere, and
        # no tarfile extraction filter is needed (older Python 3.8-3.11 patch releases lack it).
        with tarfile.open(model) as archive:
            present = set(archive.getnames())
            for name in (*ARTIFACT_FILES, *(name for name in OPTIONAL_ARTIFACT_FILES if name in present)):
                member = archive.extractfile(name)
                if member is None:
                    raise tarfile.TarError(f"{name} is not a regular file")
                (folder / name).write_bytes(member.read())
    except KeyError as error:
        raise ModelFilesError(f"{model} is not a trash sorter model: {error.args[0]}") from None
    except (tarfile.TarError, OSError) as error:
        raise ModelFilesError(f"cannot extract {model}: {error}") from None
