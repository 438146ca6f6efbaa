"""`prepare SRC OUT`: validate a folder (or .zip) of class folders, split it, write manifests.

OUT gets images/<class>/<file> (copies of the usable images), train.lst, validation.lst and
test.lst (im2rec format, paths relative to OUT), labels.txt, manifest.json and problems.txt.
SRC is only read; a .zip is extracted into a temporary folder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Sequence

from tqdm import tqdm

from sorter_common.artifact import LABELS_FILE
from sorter_common.classes import DEFAULT_CLASSES, format_labels, normalize_classes
from training.errors import UsageError
from training.split import DEFAULT_FRACTIONS, SPLITS, stratified_split, write_lst
from training.validate import (
    DEFAULT_MIN_PER_CLASS,
    DEFAULT_MIN_SIDE,
    GoodImage,
    Inventory,
    Problem,
    build_inventory,
    class_shortfalls,
    match_class_folders,
)

MANIFEST_FILE = "manifest.json"
PROBLEMS_FILE = "problems.txt"
IMAGES_DIR = "images"
MANIFEST_VERSION = 1


@dataclass
class PrepareResult:
    manifest: dict[str, Any]
    problems: list[Problem]


def lst_name(split: str) -> str:
    return split + ".lst"


def _safe_extract(archive: zipfile.ZipFile, target: Path) -> None:
    """Extract refusing members that would land outside target (zip slip)."""
    for member in archive.infolist():
        parts = PurePosixPath(member.filename).parts
        if member.filename.startswith("/") or ".." in parts:
            raise UsageError(f"zip member {member.filename!r} points outside the archive; refusing to extract")
    archive.extractall(target)


def _dataset_root(folder: Path, classes: Sequence[str]) -> Path:
    """The folder holding the class folders: a zip often wraps them in one top folder."""
    current = folder
    for _ in range(3):
        matches = match_class_folders(current, classes)
        if any(class_id is not None for class_id in matches.values()):
            return current
        files = [p for p in current.iterdir() if p.is_file() and not p.name.startswith(".")]
        if len(matches) == 1 and not files:
            current = next(iter(matches))
            continue
        break
    return folder


class _Source:
    """SRC as a readable folder: the folder itself, or a .zip extracted to a temporary place."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Path:
        if not self.source.exists():
            raise UsageError(f"source {self.source} does not exist")
        if self.source.is_dir():
            return self.source
        if not zipfile.is_zipfile(self.source):
            raise UsageError(f"source {self.source} is neither a folder nor a .zip file")
        self._tmp = tempfile.TemporaryDirectory(prefix="trash-sorter-src-")
        with zipfile.ZipFile(self.source) as archive:
            _safe_extract(archive, Path(self._tmp.name))
        return Path(self._tmp.name)

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def _copy_name(image: GoodImage, root_relative: str) -> str:
    """images/<class>/<file>, nested sub-folders flattened so names stay unique."""
    inside_class = PurePosixPath(root_relative).parts[1:]
    return "{}/{}/{}".format(IMAGES_DIR, image.class_id, "__".join(inside_class))


def _iter_rows(split: dict[str, list[str]], classes: list[str]) -> Iterator[tuple[int, str]]:
    for index, class_id in enumerate(classes):  # classes are sorted: the position is the class index
        for relative in split[class_id]:
            yield index, relative


def prepare_dataset(
    source: Path,
    out_dir: Path,
    classes: Sequence[str] = DEFAULT_CLASSES,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    min_side: int = DEFAULT_MIN_SIDE,
    min_per_class: int = DEFAULT_MIN_PER_CLASS,
    progress: bool = True,
) -> PrepareResult:
    """Validate, split and write OUT. Raises UsageError when a class cannot be trained on."""
    class_ids = normalize_classes(classes)
    source = source.resolve()
    out_dir = out_dir.resolve()
    if out_dir == source or (source in out_dir.parents and source.is_dir()):
        raise UsageError(f"output {out_dir} must not be inside the source {source}")
    with _Source(source) as extracted:
        root = _dataset_root(extracted, class_ids)
        inventory: Inventory = build_inventory(root, class_ids, min_side=min_side, min_per_class=min_per_class)
        short = class_shortfalls(inventory, min_per_class)
        if short:
            _write_problems(out_dir, inventory.problems)
            details = ", ".join(f"{c} has {len(inventory.images[c])}" for c in short)
            wanted = f"at least {min_per_class} per class"
            raise UsageError(f"not enough usable images: {details} ({wanted}); see {out_dir / PROBLEMS_FILE}")
        by_key: dict[str, GoodImage] = {}
        keys_by_class: dict[str, list[str]] = {}
        for class_id, images in inventory.images.items():
            for image in images:
                key = _copy_name(image, image.relative)
                if key in by_key:
                    # a/b.jpg and a__b.jpg flatten alike: tell them apart by their content, so no
                    # image is lost or lands in two splits.
                    stem, dot, suffix = key.rpartition(".")
                    key = f"{stem}-{image.sha256[:12]}{dot}{suffix}" if dot else f"{key}-{image.sha256[:12]}"
                by_key[key] = image
                keys_by_class.setdefault(class_id, []).append(key)
        splits = stratified_split(keys_by_class, fractions, seed)
        if (out_dir / IMAGES_DIR).exists():
            shutil.rmtree(out_dir / IMAGES_DIR)  # a re-run must not keep images from an older run
        for key, image in tqdm(sorted(by_key.items()), desc="prepare", unit="img", disable=not progress):
            target = out_dir / key
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(image.path, target)
    for split in SPLITS:
        write_lst(out_dir / lst_name(split), list(_iter_rows(splits[split], class_ids)))
    (out_dir / LABELS_FILE).write_text(format_labels(class_ids), encoding="utf-8")
    _write_problems(out_dir, inventory.problems)
    manifest = {
        "version": MANIFEST_VERSION,
        "source": str(source),
        "classes": class_ids,
        "seed": seed,
        "fractions": dict(zip(SPLITS, [round(f, 6) for f in fractions])),
        "counts": {split: {c: len(splits[split][c]) for c in class_ids} for split in SPLITS},
        "totals": {split: sum(len(splits[split][c]) for c in class_ids) for split in SPLITS},
        "lst": {split: lst_name(split) for split in SPLITS},
        "sha256": {key: by_key[key].sha256 for key in sorted(by_key)},
        "problems": [{"path": p.path, "reason": p.reason} for p in inventory.problems],
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return PrepareResult(manifest=manifest, problems=inventory.problems)


def _write_problems(out_dir: Path, problems: Sequence[Problem]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / PROBLEMS_FILE).write_text("".join(str(p) + "\n" for p in problems), encoding="utf-8")
