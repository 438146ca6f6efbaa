from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image

from training.cli import main
from training.sample import write_sample


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.jpg"))
    }


def test_sample_writes_one_folder_per_class_with_requested_count(tmp_path: Path) -> None:
    counts = write_sample(tmp_path, per_class=4, seed=1, progress=False)
    assert counts == {"compost": 4, "landfill": 4, "recycling": 4}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compost", "landfill", "recycling"]
    for image_path in tmp_path.rglob("*.jpg"):
        with Image.open(image_path) as image:
            assert image.format == "JPEG" and image.mode == "RGB" and image.size == (160, 160)


def test_sample_is_deterministic_per_seed(tmp_path: Path) -> None:
    write_sample(tmp_path / "a", per_class=3, seed=7, progress=False)
    write_sample(tmp_path / "b", per_class=3, seed=7, progress=False)
    write_sample(tmp_path / "c", per_class=3, seed=8, progress=False)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    different = set(_digests(tmp_path / "a").values()) & set(_digests(tmp_path / "c").values())
    assert not different


def test_sample_images_differ_within_a_class(tmp_path: Path) -> None:
    write_sample(tmp_path, per_class=10, seed=0, progress=False)
    assert len(set(_digests(tmp_path).values())) == 30


def test_sample_command_with_custom_classes(tmp_path: Path, capsys: object) -> None:
    assert main(["sample", str(tmp_path), "--per-class", "2", "--classes", "paper,glass", "--size", "64"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["glass", "paper"]
    assert len(list(tmp_path.rglob("*.jpg"))) == 4
