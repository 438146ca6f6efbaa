"""Walking a dataset folder without leaving it, and writing file names safely into line-based files.

A dataset folder is the user's, and may hold anything: a link named compost/n.jpg that points
at ~/.aws/credentials, a FIFO that would block a reader forever, a name with a newline in it.
Nothing here follows a link whose target is outside the folder, or opens anything but a
regular file.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# Unicode categories that end or reorder a line: controls (tab, newline, ...), format characters
# (bidi overrides), and the line and paragraph separators str.splitlines() also breaks on.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


@dataclass(frozen=True)
class Skipped:
    relative: str  # '/'-separated, relative to the walked root
    reason: str


def is_inside(path: Path, root: Path) -> bool:
    """True when path, all links resolved, is root or lies under it (root must be resolved)."""
    real = Path(os.path.realpath(path))
    return real == root or root in real.parents


def regular_files(folder: Path, boundary: Path | None = None) -> tuple[list[Path], list[Skipped]]:
    """Regular files under folder (sorted), and what was skipped with the reason.

    Links are followed only when their target lies inside boundary (default: folder itself);
    links to folders are never followed, so nothing is read twice or from outside.
    Paths in Skipped are relative to folder.
    """
    root = Path(os.path.realpath(boundary or folder))
    files: list[Path] = []
    skipped: list[Skipped] = []
    for current, dirs, names in os.walk(folder, followlinks=False):
        here = Path(current)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                skipped.append(
                    Skipped((here / name).relative_to(folder).as_posix() + "/", "link to a folder, not followed")
                )
        for name in sorted(names):
            path = here / name
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink() and not is_inside(path, root):
                skipped.append(Skipped(relative, "link to outside the dataset folder, not followed"))
            elif not path.is_file():  # a FIFO, socket, device or broken link
                skipped.append(Skipped(relative, "not a regular file"))
            else:
                files.append(path)
    return sorted(files), skipped


def printable(text: str) -> str:
    """text with every line-breaking or invisible control character escaped (\\n, \\t, \\u2028)."""
    if not any(unicodedata.category(char) in _UNSAFE_CATEGORIES for char in text):
        return text
    return "".join(
        char.encode("unicode_escape").decode("ascii") if unicodedata.category(char) in _UNSAFE_CATEGORIES else char
        for char in text
    )


def safe_file_name(name: str, max_bytes: int = 200) -> str:
    """name with each line-breaking or control character replaced by '_', shortened to max_bytes."""
    cleaned = "".join("_" if unicodedata.category(char) in _UNSAFE_CATEGORIES else char for char in name)
    if len(cleaned.encode("utf-8")) <= max_bytes:
        return cleaned
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or len(suffix) > 10:
        stem, dot, suffix = cleaned, "", ""
    budget = max_bytes - len((dot + suffix).encode("utf-8"))
    shortened = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return shortened + dot + suffix


def sha256_of(path: Path) -> str:
    """A file's sha256 in hex, read in 1 MiB chunks (datasets and weights files can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
