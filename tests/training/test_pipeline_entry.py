"""The processing steps' entry point runs the bundled code as `python -m training_job`, the commands
`python -m training` runs on a laptop."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from stacks.training_pipeline.source_bundle import build_bundle
from training.sample import write_sample
from training_job.pipeline_entry import unpack_bundle

ENTRY = Path(__file__).resolve().parents[2] / "training_job" / "pipeline_entry.py"


def test_a_step_unpacks_the_bundle_and_runs_the_training_cli_from_it(tmp_path: Path) -> None:
    bundle_dir = tmp_path / "input" / "bundle"
    bundle_dir.mkdir(parents=True)
    # Named as the CDK asset is in S3: its content hash and the last extension only.
    build_bundle(tmp_path / "build").replace(bundle_dir / ("5743ec" * 10 + ".gz"))
    code_dir, images, out = tmp_path / "code", tmp_path / "images", tmp_path / "prepared"
    write_sample(images, per_class=6, seed=0, size=64)
    env = {**os.environ, "TRASH_SORTER_BUNDLE_DIR": str(bundle_dir), "TRASH_SORTER_CODE_DIR": str(code_dir)}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, str(ENTRY), "prepare", str(images), str(out), "--split", "4/1/1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (code_dir / "training_job" / "train.py").is_file()
    assert not (code_dir / "training").exists(), "the operator's command line is not shipped"
    assert "train 12, validation 3, test 3" in result.stdout
    assert {path.name for path in out.glob("*.lst")} == {"train.lst", "validation.lst", "test.lst"}


def test_a_step_cannot_run_an_operator_command(tmp_path: Path) -> None:
    bundle_dir = tmp_path / "bundle"
    bundle_dir.mkdir()
    build_bundle(tmp_path / "build").replace(bundle_dir / "bundle.gz")
    env = {**os.environ, "TRASH_SORTER_BUNDLE_DIR": str(bundle_dir), "TRASH_SORTER_CODE_DIR": str(tmp_path / "code")}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, str(ENTRY), "upload", str(tmp_path), "s3://deeplens-x/datasets/d"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "invalid choice: 'upload'" in result.stderr


def test_a_bundle_with_an_escaping_path_is_refused(tmp_path: Path) -> None:
    bundle_dir = tmp_path / "bundle"
    bundle_dir.mkdir()
    evil = tmp_path / "evil.txt"
    evil.write_text("x")
    with tarfile.open(bundle_dir / "sourcedir.tar.gz", "w:gz") as archive:
        archive.add(evil, arcname="../escaped.txt")
    with pytest.raises(SystemExit, match="unsafe path"):
        unpack_bundle(bundle_dir, tmp_path / "code")
    assert not (tmp_path / "escaped.txt").exists()


def test_no_bundle_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="expected one code bundle"):
        unpack_bundle(tmp_path, tmp_path / "code")


def test_a_link_member_cannot_carry_a_later_file_out_of_code_dir(tmp_path: Path) -> None:
    # The bypass: "code" -> outside, then "code/x.py" passes a name check and lands outside.
    bundle_dir, outside = tmp_path / "bundle", tmp_path / "outside"
    bundle_dir.mkdir()
    outside.mkdir()
    with tarfile.open(bundle_dir / "sourcedir.tar.gz", "w:gz") as archive:
        link = tarfile.TarInfo("code")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        archive.addfile(link)
        payload = b"print('escaped')\n"
        member = tarfile.TarInfo("code/x.py")
        member.size = len(payload)
        archive.addfile(member, io.BytesIO(payload))
    with pytest.raises(SystemExit, match="is a link or special file"):
        unpack_bundle(bundle_dir, tmp_path / "code_dir")
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "code_dir" / "code").exists()
