"""A Lambda's deployment package staged as a folder, without Docker and byte-for-byte repeatable.

Every Lambda carries the shared contracts (`sorter_common`) beside its own code, so a name that
crosses a process boundary is imported by the function, never copied into it nor passed to it in
an environment variable. The staging folder is named by a hash of its content and filled
atomically (sorter_common.atomic_build), so concurrent synths never see half a bundle and the
asset hash changes only when a bundled file does.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from pathlib import Path

from sorter_common.atomic_build import build_once

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STAGING_ROOT = PROJECT_ROOT / ".build"
# Package name inside every Lambda's package -> its folder here.
SHARED_PACKAGES = {"sorter_common": PROJECT_ROOT / "sorter_common"}


def package_sources(packages: Mapping[str, Path]) -> dict[str, Path]:
    """Path inside the zip -> source file, sorted; only .py files (no caches, no tests)."""
    files: dict[str, Path] = {}
    for package, folder in packages.items():
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[f"{package}/{path.relative_to(folder).as_posix()}"] = path
    return dict(sorted(files.items()))


def function_sources(source_dir: Path) -> dict[str, Path]:
    """A function folder's modules at the zip's root (the handler is `index.handler`; the folder's
    own `__init__.py` only makes it a package for the tests), the shared packages beside them."""
    own = {
        path.relative_to(source_dir).as_posix(): path
        for path in sorted(source_dir.rglob("*.py"))
        if "__pycache__" not in path.parts and path != source_dir / "__init__.py"
    }
    return dict(sorted({**own, **package_sources(SHARED_PACKAGES)}.items()))


def stage(name: str, files: Mapping[str, Path], staging_root: Path = STAGING_ROOT) -> Path:
    """The folder to zip: <staging_root>/<name>-<content hash>/ holding `files`."""
    digest = hashlib.sha256()
    for inside, path in files.items():
        digest.update(inside.encode() + b"\0" + path.read_bytes() + b"\0")
    target = staging_root / f"{name}-{digest.hexdigest()[:16]}"

    def copy_files(building: Path) -> None:
        building.mkdir()
        for inside, path in files.items():
            (building / inside).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, building / inside)

    return build_once(target, copy_files)


def stage_function(source_dir: Path, staging_root: Path = STAGING_ROOT) -> Path:
    """The staged package of the function in `source_dir` (lambda_src/<name>/)."""
    return stage(source_dir.name.replace("_", "-"), function_sources(source_dir), staging_root)
