"""The component unpacks model.tar.gz by the artifact's own file names, on any Python 3.8+."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from device.greengrass_component.model_archive import model_folder
from edge_core.model_files import ModelFilesError
from sorter_common.artifact import ARTIFACT_FILES, INT8_ONNX_FILE


def write_archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_every_artifact_file_is_extracted_once_per_content(tmp_path: Path) -> None:
    members = {name: name.encode() for name in ARTIFACT_FILES}
    archive = write_archive(tmp_path / "model.tar.gz", {**members, "../escaped.txt": b"x"})
    folder = model_folder(archive, tmp_path / "work")
    assert sorted(path.name for path in folder.iterdir()) == sorted(ARTIFACT_FILES)
    assert all((folder / name).read_bytes() == name.encode() for name in ARTIFACT_FILES)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "work" / "escaped.txt").exists()
    assert model_folder(archive, tmp_path / "work") == folder  # the same content is not extracted again


def test_the_int8_model_is_extracted_where_the_archive_has_it(tmp_path: Path) -> None:
    members = {name: name.encode() for name in (*ARTIFACT_FILES, INT8_ONNX_FILE)}
    folder = model_folder(write_archive(tmp_path / "model.tar.gz", members), tmp_path / "work")
    assert sorted(path.name for path in folder.iterdir()) == sorted(members)
    assert (folder / INT8_ONNX_FILE).read_bytes() == INT8_ONNX_FILE.encode()


def test_an_archive_without_the_model_files_is_one_clear_error(tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "model.tar.gz", {"labels.txt": b"compost\n"})
    with pytest.raises(ModelFilesError, match="is not a trash sorter model"):
        model_folder(archive, tmp_path / "work")
    assert not list((tmp_path / "work" / "models").glob("*.partial"))


def test_a_corrupt_archive_is_one_clear_error(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"not a tar file")
    with pytest.raises(ModelFilesError, match="cannot extract"):
        model_folder(archive, tmp_path / "work")
