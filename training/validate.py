"""Checks a folder of class folders file by file and says what is wrong with each bad one.

Nothing here writes to the source: it only reads, hashes and decodes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from PIL import Image, UnidentifiedImageError

from sorter_common.bucket_layout import DATASET_READY_MARKER

# Files an OS or an archiver leaves behind; they are not data, so they are not reported.
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX"}
DEFAULT_MIN_SIDE = 32
DEFAULT_MIN_PER_CLASS = 5


@dataclass(frozen=True)
class Problem:
    path: str  # relative to the source root, '/'-separated
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class GoodImage:
    path: Path  # absolute
    relative: str  # relative to the source root, '/'-separated
    class_id: str
    sha256: str
    width: int
    height: int


@dataclass
class Inventory:
    """The usable images per class and every problem found, in a stable order."""

    images: dict[str, list[GoodImage]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _ignored(path: Path) -> bool:
    return path.name in IGNORED_NAMES or path.name.startswith("._")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_image(path: Path, min_side: int) -> str | None:
    """None for a usable image, else the reason it is not one."""
    try:
        with Image.open(path) as image:
            size = image.size
            image.load()  # decodes every pixel: a truncated or corrupt file fails here, not in training
    except UnidentifiedImageError:
        return "not an image (no known image format)"
    except PermissionError as error:
        return f"unreadable ({error.strerror or error})"
    except (OSError, SyntaxError, ValueError) as error:
        return f"corrupt image ({error})"
    if min(size) < min_side:
        return f"too small ({size[0]}x{size[1]}; at least {min_side} pixels on each side)"
    return None


def match_class_folders(root: Path, classes: Sequence[str]) -> dict[Path, str | None]:
    """Each folder under root mapped to its class id (matched case-insensitively) or None."""
    by_lower = {class_id.lower(): class_id for class_id in classes}
    folders = sorted(entry for entry in root.iterdir() if entry.is_dir() and not _ignored(entry))
    return {folder: by_lower.get(folder.name.strip().lower()) for folder in folders}


def build_inventory(
    root: Path,
    classes: Sequence[str],
    min_side: int = DEFAULT_MIN_SIDE,
    min_per_class: int = DEFAULT_MIN_PER_CLASS,
) -> Inventory:
    """Validate every file under root; exact duplicates keep the first path in sorted order."""
    inventory = Inventory(images={class_id: [] for class_id in classes})
    seen: dict[str, GoodImage] = {}
    for entry in sorted(root.iterdir()):
        # The upload's own _READY marker sits at the dataset's root: the Prepare step sees it there.
        if entry.is_file() and not _ignored(entry) and entry.name != DATASET_READY_MARKER:
            inventory.problems.append(Problem(entry.name, "file outside any class folder"))
    for folder, class_id in match_class_folders(root, classes).items():
        relative_folder = folder.relative_to(root).as_posix()
        if class_id is None:
            inventory.problems.append(
                Problem(relative_folder + "/", f"class folder is not in the configured classes {list(classes)}")
            )
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if any(_ignored(part) for part in path.relative_to(root).parents) or _ignored(path):
                continue
            relative = path.relative_to(root).as_posix()
            reason = check_image(path, min_side)
            if reason is not None:
                inventory.problems.append(Problem(relative, reason))
                continue
            digest = _sha256(path)
            if digest in seen:
                inventory.problems.append(Problem(relative, f"exact duplicate of {seen[digest].relative}"))
                continue
            with Image.open(path) as image:
                width, height = image.size
            good = GoodImage(path, relative, class_id, digest, width, height)
            seen[digest] = good
            inventory.images[class_id].append(good)
    for class_id in classes:
        count = len(inventory.images[class_id])
        if count < min_per_class:
            inventory.problems.append(
                Problem(class_id + "/", f"class has {count} usable images; at least {min_per_class} needed")
            )
    return inventory


def class_shortfalls(inventory: Inventory, min_per_class: int) -> list[str]:
    """The classes that cannot be trained on: too few usable images."""
    return [class_id for class_id, images in inventory.images.items() if len(images) < min_per_class]
