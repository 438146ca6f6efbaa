"""`prepare SRC OUT`: validate a folder (or .zip) of class folders, split it, write manifests.

OUT gets images/<class>/<file> (copies of the usable images), train.lst, validation.lst and
test.lst (im2rec format, paths relative to OUT), labels.txt, manifest.json and problems.txt.
SRC is only read; a .zip is extracted into a temporary folder (see training_job.dataset_zip).
Prepare never deletes what it did not write: OUT must not overlap SRC, and an OUT that already
holds files must be a previous prepare output, of which only the files its manifest lists are
replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Sequence

from tqdm import tqdm

from sorter_common.artifact import LABELS_FILE
from sorter_common.classes import DEFAULT_CLASSES, format_labels, normalize_classes
from training_job import dataset_zip
from training_job.errors import UsageError
from training_job.files import safe_file_name
from training_job.split import DEFAULT_FRACTIONS, SPLITS, stratified_split, write_lst
from training_job.validate import (
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

    def __init__(self, source: Path, zip_limit: int) -> None:
        self.source = source
        self.zip_limit = zip_limit
        self.problems: list[Problem] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Path:
        if not self.source.exists():
            raise UsageError(f"source {self.source} does not exist")
        if self.source.is_dir():
            return self.source
        if not zipfile.is_zipfile(self.source):
            raise UsageError(f"source {self.source} is neither a folder nor a .zip file")
        self._tmp = tempfile.TemporaryDirectory(prefix="trash-sorter-src-")
        skipped = dataset_zip.extract(self.source, Path(self._tmp.name), self.zip_limit)
        self.problems = [Problem(f"{self.source.name}:{entry.name}", entry.reason) for entry in skipped]
        return Path(self._tmp.name)

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def _copy_name(image: GoodImage, root_relative: str) -> str:
    """images/<class>/<file>, nested sub-folders flattened so names stay unique.

    Characters that would break a line of a tab-separated .lst (tab, newline, U+2028, ...) become
    '_', and the name is kept short enough for any file system.
    """
    inside_class = PurePosixPath(root_relative).parts[1:]
    return "{}/{}/{}".format(IMAGES_DIR, image.class_id, safe_file_name("__".join(inside_class)))


def _check_out_dir(source: Path, out_dir: Path) -> list[str]:
    """Refuse an OUT that overlaps SRC or holds someone else's files; returns the files a previous
    prepare wrote there (to be replaced)."""
    if out_dir == source or source in out_dir.parents:
        raise UsageError(f"output {out_dir} must not be inside the source {source}; choose a folder outside it")
    if out_dir in source.parents:
        raise UsageError(f"output {out_dir} must not contain the source {source}; choose a folder outside it")
    if not out_dir.exists():
        return []
    if not out_dir.is_dir():
        raise UsageError(f"output {out_dir} exists and is not a folder")
    entries = {entry.name for entry in out_dir.iterdir()}
    if entries <= {PROBLEMS_FILE}:  # empty, or a run that stopped at "not enough usable images"
        return []
    previous = _previous_outputs(out_dir)
    if previous is None:
        raise UsageError(
            f"output {out_dir} already holds files that prepare did not write (no {MANIFEST_FILE}); "
            "choose a new or empty folder"
        )
    return previous


def _previous_outputs(out_dir: Path) -> list[str] | None:
    """The image files a previous prepare recorded in OUT/manifest.json, or None when it is not one."""
    try:
        manifest = json.loads((out_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        return None
    recorded = manifest.get("sha256")
    if not isinstance(recorded, dict):
        return None
    return [key for key in recorded if isinstance(key, str) and _is_own_key(key)]


def _is_own_key(key: str) -> bool:
    parts = PurePosixPath(key).parts
    return len(parts) == 3 and parts[0] == IMAGES_DIR and ".." not in parts and not key.startswith("/")


def _remove_previous(out_dir: Path, keys: Sequence[str]) -> None:
    """Delete the images a previous run wrote (and the folders that leaves empty), nothing else."""
    for key in keys:
        path = out_dir / key
        if path.is_file() or path.is_symlink():
            path.unlink()
    images = out_dir / IMAGES_DIR
    if images.is_dir() and not images.is_symlink():
        for folder in sorted((p for p in images.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    temporary = out_dir / (MANIFEST_FILE + ".tmp")
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, out_dir / MANIFEST_FILE)


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
    zip_limit: int = dataset_zip.DEFAULT_MAX_UNZIPPED_BYTES,
) -> PrepareResult:
    """Validate, split and write OUT. Raises UsageError when a class cannot be trained on."""
    class_ids = normalize_classes(classes)
    source = source.resolve()
    out_dir = out_dir.resolve()
    previous = _check_out_dir(source, out_dir)
    reader = _Source(source, zip_limit)
    with reader as extracted:
        root = _dataset_root(extracted, class_ids)
        inventory: Inventory = build_inventory(root, class_ids, min_side=min_side, min_per_class=min_per_class)
        inventory.problems[:0] = reader.problems  # the zip's own problems first
        short = class_shortfalls(inventory, min_per_class)
        if short:
            _write_problems(out_dir, inventory.problems)
            details = ", ".join(f"{c} has {len(inventory.images[c])}" for c in short)
            wanted = f"at least {min_per_class} per class"
            raise UsageError(f"not enough usable images: {details} ({wanted}); see {out_dir / PROBLEMS_FILE}")
        by_key: dict[str, GoodImage] = {}
        keys_by_class: dict[str, list[str]] = {}
        own = set(previous)
        for class_id, images in inventory.images.items():
            for image in images:
                key = _copy_name(image, image.relative)
                if key in by_key or (key not in own and os.path.lexists(out_dir / key)):
                    # a/b.jpg and a__b.jpg flatten alike, or the user keeps a file of that name in
                    # OUT: tell them apart by content, so no image is lost, split twice or overwritten.
                    stem, dot, suffix = key.rpartition(".")
                    key = f"{stem}-{image.sha256[:12]}{dot}{suffix}" if dot else f"{key}-{image.sha256[:12]}"
                by_key[key] = image
                keys_by_class.setdefault(class_id, []).append(key)
        splits = stratified_split(keys_by_class, fractions, seed)
        # A re-run must not keep images from an older run, but removes only what that run wrote.
        # The manifest first lists both runs' files, so an interrupted run leaves nothing unlisted.
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_manifest(
            out_dir,
            {
                "version": MANIFEST_VERSION,
                "complete": False,
                "sha256": dict.fromkeys(sorted(set(previous) | set(by_key)), ""),
            },
        )
        _remove_previous(out_dir, previous)
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
    _write_manifest(out_dir, manifest)
    return PrepareResult(manifest=manifest, problems=inventory.problems)


def _write_problems(out_dir: Path, problems: Sequence[Problem]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / PROBLEMS_FILE).write_text("".join(str(p) + "\n" for p in problems), encoding="utf-8")
