"""A deterministic sourcedir.tar.gz of the training code, built at synth time.

The same source always gives the same bytes (sorted entries, sorter_common.reproducible_tar),
so the CDK asset hash only changes when the code does and `cdk diff` shows a code change exactly
when there is one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from sorter_common.atomic_build import build_once
from sorter_common.reproducible_tar import tar_gz_bytes
from stacks.constructs.deeplens_bundle import BundleError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# What SageMaker's script mode and the processing steps need: the container's package, the shared
# contracts it imports and the edge's inference core (the Evaluate step runs the edge's backends);
# never the operator's command line (training/) or test scaffolding. No requirements.txt: the
# toolkit would pip-install it when the job starts, which network isolation forbids and which
# could lift the image's numpy past its MXNet.
# Everything the code imports is in the MXNet 1.9 image (rehearse/pipeline/image-requirements.txt),
# but for what the bundle carries as wheels (under wheels/, beside the packages): onnxruntime, which
# training_job.bundled_wheels installs into a scratch folder when the job needs it.
BUNDLED_PACKAGES = ("training_job", "sorter_common", "edge_core")
BUNDLE_NAME = "sourcedir.tar.gz"
WHEELS_FOLDER = "wheels"
# Pinned with their hashes; `make setup` downloads them into .build/training-wheels.
WHEELS_REQUIREMENTS = Path("tools") / "training-image-wheels.txt"
WHEELS_DOWNLOAD_DIR = Path(".build") / "training-wheels"
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


def pinned_wheels(project_root: Path = PROJECT_ROOT) -> dict[str, set[str]]:
    """name==version -> its sha256 hashes, from tools/training-image-wheels.txt."""
    text = (project_root / WHEELS_REQUIREMENTS).read_text().replace("\\\n", " ")
    pins: dict[str, set[str]] = {}
    for line in text.splitlines():
        requirement = line.split("#")[0].split()
        if requirement:
            pins[requirement[0]] = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return pins


def wheel_files(project_root: Path = PROJECT_ROOT) -> list[tuple[str, Path]]:
    """(wheels/<file>, file) for each pinned wheel, found in .build/training-wheels by its pinned hash."""
    folder = project_root / WHEELS_DOWNLOAD_DIR
    by_hash = {hashlib.sha256(path.read_bytes()).hexdigest(): path for path in sorted(folder.glob("*.whl"))}
    files = []
    for pin, hashes in sorted(pinned_wheels(project_root).items()):
        found = [by_hash[digest] for digest in sorted(hashes) if digest in by_hash]
        if not found:
            raise BundleError(
                f"the training code bundle needs the wheel {pin} (pinned in {WHEELS_REQUIREMENTS}) and "
                f"{WHEELS_DOWNLOAD_DIR} has none with its hash: run `make setup`"
            )
        files.append((f"{WHEELS_FOLDER}/{found[0].name}", found[0]))
    return files


def bundle_files(project_root: Path = PROJECT_ROOT) -> list[tuple[str, Path]]:
    """(name in the archive, file) for every bundled file, the pinned wheels too, sorted by name."""
    return sorted(package_files(BUNDLED_PACKAGES, project_root) + wheel_files(project_root))


def build_bundle(out_dir: Path, project_root: Path = PROJECT_ROOT) -> Path:
    """Write out_dir/<content hash>/sourcedir.tar.gz (unchanged files are not rewritten)."""
    return write_archive(bundle_files(project_root), out_dir, BUNDLE_NAME)


def write_archive(files: Iterable[tuple[str, Path]], out_dir: Path, name: str) -> Path:
    """Write out_dir/<content hash>/<name>, a deterministic tar.gz of files (unchanged ones are not rewritten)."""
    compressed = tar_gz_bytes((name, path.read_bytes()) for name, path in sorted(files))
    target = out_dir / hashlib.sha256(compressed).hexdigest()[:16] / name
    return build_once(target, lambda partial: partial.write_bytes(compressed))
