"""A deterministic sourcedir.tar.gz of the training code, built at synth time.

The same source always gives the same bytes (sorted entries, fixed times, owners and modes,
gzip without a timestamp), so the CDK asset hash only changes when the code does and
`cdk diff` shows a code change exactly when there is one.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# What SageMaker's script mode and the processing steps need: the training package, the shared
# contracts it imports, and the edge's inference core (the Evaluate step runs the edge's
# backends). No requirements.txt: the toolkit would pip-install it when the job starts, which
# network isolation forbids and which could lift the image's numpy past its MXNet.
# Everything the code imports is in the MXNet 1.9 image (rehearse/pipeline/image-requirements.txt).
BUNDLED_PACKAGES = ("training", "sorter_common", "edge_core")
BUNDLE_NAME = "sourcedir.tar.gz"
_SKIPPED_PARTS = ("__pycache__", ".mypy_cache", ".pytest_cache")


def package_files(packages: Iterable[str], project_root: Path = PROJECT_ROOT) -> list[tuple[str, Path]]:
    """(name in the archive, file) for every source file under the given folders, caches left out."""
    files = []
    for package in packages:
        for path in (project_root / package).rglob("*"):
            relative = path.relative_to(project_root)
            skipped = any(part in _SKIPPED_PARTS for part in relative.parts) or path.suffix in (".pyc", ".pyo")
            if path.is_file() and not skipped:
                files.append((relative.as_posix(), path))
    return files


def bundle_files(project_root: Path = PROJECT_ROOT) -> list[tuple[str, Path]]:
    """(name in the archive, file) for every bundled file, sorted by name."""
    return sorted(package_files(BUNDLED_PACKAGES, project_root))


def _tar_bytes(files: Iterable[tuple[str, Path]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, path in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_bundle(out_dir: Path, project_root: Path = PROJECT_ROOT) -> Path:
    """Write out_dir/<content hash>/sourcedir.tar.gz (unchanged files are not rewritten)."""
    return write_archive(bundle_files(project_root), out_dir, BUNDLE_NAME)


def write_archive(files: Iterable[tuple[str, Path]], out_dir: Path, name: str) -> Path:
    """Write out_dir/<content hash>/<name>, a deterministic tar.gz of files (unchanged ones are not rewritten)."""
    raw = _tar_bytes(sorted(files))
    compressed = gzip.compress(raw, compresslevel=9, mtime=0)
    target = out_dir / hashlib.sha256(compressed).hexdigest()[:16] / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(compressed)
        partial.replace(target)
    return target
