"""Checks a folder of class folders file by file and says what is wrong with each bad one.

Nothing here writes to the source: it only reads, hashes and decodes.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from PIL import Image, UnidentifiedImageError

from sorter_common.bucket_layout import DATASET_READY_MARKER
from training_job.files import is_inside, printable, regular_files, sha256_of

# Files an OS or an archiver leaves behind; they are not data, so they are not reported.
IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX"}
DEFAULT_MIN_SIDE = 32
DEFAULT_MIN_PER_CLASS = 5
# The formats (as Pillow names them) that training's decoder, OpenCV's imread, reads in every
# OpenCV build the project meets; MPO is the multi-picture JPEG many phones write. OpenCV cannot
# read GIF, ICO, PCX or TGA, so prepare reports those instead of passing them to training.
TRAINABLE_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "WEBP", "TIFF", "PPM")
# Largest image accepted, in pixels: Pillow's own decompression-bomb threshold (about 9459x9459).
# A photo is far smaller; a 20000x20000 PNG of a few kilobytes would take 1.2 GB to decode.
MAX_PIXELS = 89_478_485


@dataclass(frozen=True)
class Problem:
    path: str  # relative to the source root, '/'-separated
    reason: str

    def __str__(self) -> str:
        # One line whatever the file is called: a newline in a name must not forge a second problem.
        return f"{printable(self.path)}: {self.reason}"


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




def check_image(path: Path, min_side: int) -> str | None:
    """None for an image training can use, else the reason it is not one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size check below says it once
            with Image.open(path) as image:
                size, image_format = image.size, image.format
                if size[0] * size[1] > MAX_PIXELS:
                    return _too_large(size)
                if image_format not in TRAINABLE_FORMATS:
                    return f"{image_format} images cannot be read by training; convert it to JPEG or PNG"
                image.load()  # decodes every pixel: a truncated or corrupt file fails here, not in training
    except Image.DecompressionBombError:  # over twice Pillow's limit: refused before the size is known to us
        return f"image too large (a decompression bomb; at most {MAX_PIXELS} pixels)"
    except UnidentifiedImageError:
        return "not an image (no known image format)"
    except PermissionError as error:
        return f"unreadable ({error.strerror or error})"
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        return f"corrupt image ({error})"
    if min(size) < min_side:
        return f"too small ({size[0]}x{size[1]}; at least {min_side} pixels on each side)"
    if not _training_decodes(path):
        return "training's decoder (OpenCV) has no reader for it; convert it to JPEG or PNG"
    return None


def _too_large(size: tuple[int, int]) -> str:
    return f"image too large ({size[0]}x{size[1]}; at most {MAX_PIXELS} pixels)"


def _training_decodes(path: Path) -> bool:
    """Whether training's decoder, OpenCV's imread, has a reader for this file (from its header).

    Pillow has already decoded every pixel, so a damaged file is caught; this catches an OpenCV
    build without one of the TRAINABLE_FORMATS. A second full decode would cost 3.7 times as
    long on 12-megapixel photos.
    """
    import cv2  # imported only once an image passed Pillow: `--help` stays fast

    return bool(cv2.haveImageReader(str(path)))


def match_class_folders(root: Path, classes: Sequence[str]) -> dict[Path, str | None]:
    """Each folder under root mapped to its class id (matched case-insensitively) or None.

    A link to a folder outside root is not a class folder: nothing is read from outside the dataset.
    """
    by_lower = {class_id.lower(): class_id for class_id in classes}
    real_root = Path(os.path.realpath(root))
    folders = sorted(
        entry
        for entry in root.iterdir()
        if entry.is_dir() and not _ignored(entry) and (not entry.is_symlink() or is_inside(entry, real_root))
    )
    return {folder: by_lower.get(folder.name.strip().lower()) for folder in folders}


def _outside_links(root: Path) -> list[Problem]:
    real_root = Path(os.path.realpath(root))
    return [
        Problem(entry.name + "/", "link to outside the dataset folder, not followed")
        for entry in sorted(root.iterdir())
        if entry.is_symlink() and entry.is_dir() and not is_inside(entry, real_root)
    ]


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
    inventory.problems += _outside_links(root)
    for folder, class_id in match_class_folders(root, classes).items():
        relative_folder = folder.relative_to(root).as_posix()
        if class_id is None:
            inventory.problems.append(
                Problem(relative_folder + "/", f"class folder is not in the configured classes {list(classes)}")
            )
            continue
        files, skipped = regular_files(folder, boundary=root)
        inventory.problems += [Problem(f"{relative_folder}/{entry.relative}", entry.reason) for entry in skipped]
        for path in files:
            if any(_ignored(part) for part in path.relative_to(root).parents) or _ignored(path):
                continue
            relative = path.relative_to(root).as_posix()
            reason = check_image(path, min_side)
            if reason is not None:
                inventory.problems.append(Problem(relative, reason))
                continue
            digest = sha256_of(path)
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
