from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from training.cli import main
from training_job import validate
from training_job.prepare import prepare_dataset
from training_job.split import SPLITS, read_lst, split_counts, stratified_split


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Content hash and modification time of everything under folder."""
    return {
        p.relative_to(folder).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir",
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture()
def messy_source(sample_dir: Path, tmp_path: Path) -> Path:
    """The generated sample plus one file or folder for every problem prepare must report."""
    source = tmp_path / "src"
    shutil.copytree(sample_dir, source)
    good = (source / "compost" / "compost-0000.jpg").read_bytes()
    (source / "compost" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (source / "recycling" / "notes.jpg").write_text("this is not a picture\n")
    Image.new("RGB", (16, 16), (200, 10, 10)).save(source / "landfill" / "tiny.png")
    (source / "hazardous").mkdir()
    (source / "hazardous" / "battery.jpg").write_bytes(good)
    (source / "compost" / "copy-of-0000.jpg").write_bytes(good)
    (source / "landfill" / "same-as-compost.jpg").write_bytes(good)
    (source / "README.txt").write_text("loose file\n")
    (source / "compost" / ".DS_Store").write_bytes(b"\0\0")
    return source


def _reasons(problems: list[validate.Problem]) -> dict[str, str]:
    return {problem.path: problem.reason for problem in problems}


def test_the_uploads_ready_marker_is_no_problem(sample_dir: Path, tmp_path: Path) -> None:
    # The Prepare step downloads datasets/<name>/ whole, _READY marker included (found by the rehearsal).
    source = tmp_path / "source"
    shutil.copytree(sample_dir, source)
    (source / "_READY").write_bytes(b"")
    (source / "notes.txt").write_text("x")
    result = prepare_dataset(source, tmp_path / "out", progress=False)
    assert [problem.path for problem in result.problems] == ["notes.txt"]


def test_every_bad_input_is_reported_with_path_and_reason_and_source_is_untouched(
    messy_source: Path, tmp_path: Path
) -> None:
    before = _snapshot(messy_source)
    result = prepare_dataset(messy_source, tmp_path / "out", progress=False)
    reasons = _reasons(result.problems)
    assert reasons["compost/truncated.jpg"].startswith("corrupt image")
    assert reasons["recycling/notes.jpg"].startswith("not an image")
    assert reasons["landfill/tiny.png"].startswith("too small (16x16")
    assert reasons["hazardous/"].startswith("class folder is not in the configured classes")
    assert reasons["compost/copy-of-0000.jpg"] == "exact duplicate of compost/compost-0000.jpg"
    assert reasons["landfill/same-as-compost.jpg"] == "exact duplicate of compost/compost-0000.jpg"
    assert reasons["README.txt"] == "file outside any class folder"
    assert len(reasons) == 7  # .DS_Store is ignored, not reported
    assert _snapshot(messy_source) == before
    problems_txt = (tmp_path / "out" / "problems.txt").read_text().splitlines()
    assert "recycling/notes.jpg: not an image (no known image format)" in problems_txt
    # Only the 36 good images are used, each once.
    assert result.manifest["totals"] == {"train": 27, "validation": 6, "test": 3}


def test_unreadable_file_is_reported(sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, which reads any file whatever its mode, so the OS error is injected.
    real_open = Image.open

    def open_or_deny(path: object, *args: object, **kwargs: object) -> object:
        if Path(str(path)).name == "landfill-0003.jpg":
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type,unused-ignore]

    monkeypatch.setattr(Image, "open", open_or_deny)  # the module validate reads images with
    result = prepare_dataset(sample_dir, tmp_path / "out", progress=False)
    assert _reasons(result.problems) == {"landfill/landfill-0003.jpg": "unreadable (Permission denied)"}


def test_too_few_images_fails_with_one_line_and_writes_problems(
    sample_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(sample_dir)
    code = main(["prepare", str(sample_dir), str(tmp_path / "out"), "--min-per-class", "13"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: not enough usable images: compost has 12")
    assert "compost/: class has 12 usable images; at least 13 needed" in (tmp_path / "out" / "problems.txt").read_text()
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert _snapshot(sample_dir) == before


def test_zip_in_recipe_layout_maps_folders_case_insensitively(sample_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "trash.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(sample_dir.rglob("*.jpg")):
            recipe_folder = path.parent.name.capitalize()  # Compost/Landfill/Recycling
            zipped.write(path, f"TrashImages/{recipe_folder}/{path.name}")
    before = archive.read_bytes()
    result = prepare_dataset(archive, tmp_path / "out", progress=False)
    assert result.problems == []
    assert result.manifest["counts"]["train"] == {"compost": 9, "landfill": 9, "recycling": 9}
    assert archive.read_bytes() == before
    labels = {label for split in SPLITS for label, _ in read_lst(tmp_path / "out" / (split + ".lst"))}
    assert labels == {0, 1, 2}


def test_split_is_deterministic_stratified_and_disjoint(sample_dir: Path, tmp_path: Path) -> None:
    first = prepare_dataset(sample_dir, tmp_path / "a", seed=5, progress=False)
    second = prepare_dataset(sample_dir, tmp_path / "b", seed=5, progress=False)
    other = prepare_dataset(sample_dir, tmp_path / "c", seed=6, progress=False)
    for split in SPLITS:
        assert (tmp_path / "a" / (split + ".lst")).read_text() == (tmp_path / "b" / (split + ".lst")).read_text()
    assert first.manifest == {**second.manifest, "source": first.manifest["source"]}
    assert (tmp_path / "a" / "train.lst").read_text() != (tmp_path / "c" / "train.lst").read_text()
    assert other.manifest["counts"] == first.manifest["counts"]
    # No image (by content) is in two splits, every usable image is in one, and labels match folders.
    hashes_by_split: dict[str, set[str]] = {}
    classes = first.manifest["classes"]
    for split in SPLITS:
        rows = read_lst(tmp_path / "a" / (split + ".lst"))
        for label, relative in rows:
            assert relative.split("/")[1] == classes[label]
        hashes_by_split[split] = {hashlib.sha256((tmp_path / "a" / rel).read_bytes()).hexdigest() for _, rel in rows}
        assert first.manifest["totals"][split] == len(rows)
    assert not hashes_by_split["train"] & hashes_by_split["validation"]
    assert not hashes_by_split["train"] & hashes_by_split["test"]
    assert not hashes_by_split["validation"] & hashes_by_split["test"]
    assert sum(len(h) for h in hashes_by_split.values()) == 36
    assert first.manifest["counts"]["validation"] == {"compost": 2, "landfill": 2, "recycling": 2}
    manifest_on_disk = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest_on_disk["counts"] == first.manifest["counts"]
    assert (tmp_path / "a" / "labels.txt").read_text() == "compost\nlandfill\nrecycling\n"


def test_split_counts_and_per_class_independence() -> None:
    assert split_counts(10, (0.7, 0.2, 0.1)) == (7, 2, 1)
    assert split_counts(3, (0.7, 0.2, 0.1)) == (1, 1, 1)
    keys = {"a": [f"a{i}" for i in range(20)], "b": [f"b{i}" for i in range(20)]}
    grown = {"a": keys["a"], "b": keys["b"] + ["b-extra"]}
    assert (
        stratified_split(keys, (0.7, 0.2, 0.1), 1)["test"]["a"]
        == stratified_split(grown, (0.7, 0.2, 0.1), 1)["test"]["a"]
    )


def test_prepare_command_reports_problems_and_strict_fails(
    messy_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prepare", str(messy_source), str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "problem: recycling/notes.jpg: not an image (no known image format)" in captured.err
    assert "7 problem(s)" in captured.out
    assert main(["prepare", str(messy_source), str(tmp_path / "out2"), "--strict"]) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["prepare", "{tmp}/missing", "{tmp}/out"], "error: source {tmp}/missing does not exist"),
        (
            ["prepare", "{tmp}/file.txt", "{tmp}/out"],
            "error: source {tmp}/file.txt is neither a folder nor a .zip file",
        ),
        (
            ["prepare", "{tmp}", "{tmp}/out", "--split", "70/30"],
            "error: split '70/30' must be three non-negative numbers",
        ),
        (["prepare", "{tmp}", "{tmp}/out", "--classes", "compost"], "error: the class list ['compost'] has one class"),
    ],
)
def test_prepare_bad_arguments_exit_2_with_one_line(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file.txt").write_text("x")
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message.format(tmp=tmp_path))


def test_nested_and_flat_names_that_flatten_alike_both_keep_their_own_image(sample_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(sample_dir, source)
    (source / "recycling" / "a").mkdir()
    # Two new images, unlike every other (no duplicate removal can hide a lost one).
    Image.new("RGB", (128, 128), (1, 2, 3)).save(source / "recycling" / "a" / "b.png")
    Image.new("RGB", (128, 128), (250, 251, 252)).save(source / "recycling" / "a__b.png")
    result = prepare_dataset(source, tmp_path / "out", seed=1, progress=False)
    listed = [rel for split in SPLITS for _, rel in read_lst(tmp_path / "out" / (split + ".lst"))]
    assert len(listed) == len(set(listed)) == sum(result.manifest["totals"].values())
    copies = {hashlib.sha256((tmp_path / "out" / rel).read_bytes()).hexdigest() for rel in listed}
    assert len(copies) == len(listed), "every listed file is a different image"
    originals = [source / "recycling" / "a" / "b.png", source / "recycling" / "a__b.png"]
    assert {hashlib.sha256(path.read_bytes()).hexdigest() for path in originals} <= copies


@pytest.mark.parametrize(
    ("count", "fractions"), [(3, (0.01, 0.5, 0.49)), (1, (0.1, 0.45, 0.45)), (4, (0.02, 0.49, 0.49))]
)
def test_every_class_keeps_at_least_one_training_image(count: int, fractions: tuple[float, float, float]) -> None:
    train, validation, test = split_counts(count, fractions)
    assert train >= 1 and min(validation, test) >= 0 and train + validation + test == count


@pytest.mark.parametrize("image_format", validate.TRAINABLE_FORMATS)
def test_every_format_prepare_accepts_is_one_training_decodes(image_format: str, tmp_path: Path) -> None:
    from training_job.data import read_bgr

    path = tmp_path / "image"
    Image.new("RGB", (48, 40), (10, 120, 200)).save(path, "JPEG" if image_format == "MPO" else image_format)
    assert validate.check_image(path, min_side=32) is None
    assert read_bgr(path).shape == (40, 48, 3)


@pytest.mark.parametrize("image_format", ["GIF", "ICO", "PCX", "TGA"])
def test_formats_training_cannot_decode_are_refused_by_prepare(image_format: str, tmp_path: Path) -> None:
    from training_job.data import read_bgr

    path = tmp_path / "image"
    Image.new("RGB", (48, 40), (10, 120, 200)).save(path, image_format)
    with pytest.raises(ValueError, match="cannot decode"):
        read_bgr(path)
    assert validate.check_image(path, min_side=32) == (
        f"{image_format} images cannot be read by training; convert it to JPEG or PNG"
    )


def test_a_format_the_installed_opencv_cannot_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    path = tmp_path / "photo.webp"
    Image.new("RGB", (48, 40)).save(path, "WEBP")
    monkeypatch.setattr(cv2, "haveImageReader", lambda filename: False)  # an OpenCV built without libwebp
    assert validate.check_image(path, min_side=32) == (
        "training's decoder (OpenCV) has no reader for it; convert it to JPEG or PNG"
    )
