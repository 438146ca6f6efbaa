"""The DeepLens Lambda's deployment package, staged without Docker and byte-for-byte repeatable.

The zip holds the function package, the inference core and the shared contracts (Python 3.7
syntax, checked by tests/lambda_src with vermin) and the Greengrass Core SDK, which a Greengrass
V1 Python function must carry in its own package (the DeepLens inference function template
does): greengrasssdk, pinned in requirements.txt; synth fails if it is missing or another
version. The
staging folder is named by a hash of its content and filled atomically, so concurrent synths
never see half a bundle and the asset hash changes only when a bundled file does.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STAGING_ROOT = PROJECT_ROOT / ".build"
HANDLER = "deeplens_inference.index.function_handler"
# Package name inside the zip -> its folder here.
BUNDLED_PACKAGES = {
    "deeplens_inference": PROJECT_ROOT / "lambda_src" / "deeplens_inference",
    "edge_core": PROJECT_ROOT / "edge_core",
    "sorter_common": PROJECT_ROOT / "sorter_common",
}
# The Greengrass Core SDK must travel inside a V1 function's package; the version requirements.txt pins.
GREENGRASS_SDK = "greengrasssdk"
GREENGRASS_SDK_VERSION = "1.6.1"


class BundleError(RuntimeError):
    """The package cannot be built as the DeepLens needs it; str() says what to install."""


def greengrass_sdk_folder() -> Path:
    """The installed greengrasssdk package folder, checked to be the pinned version."""
    fix = f"run `make setup` (it installs {GREENGRASS_SDK}=={GREENGRASS_SDK_VERSION} from requirements.txt)"
    try:
        distribution = importlib.metadata.distribution(GREENGRASS_SDK)
    except importlib.metadata.PackageNotFoundError:
        raise BundleError(
            f"{GREENGRASS_SDK} is not installed, and the DeepLens function must carry it in its package: {fix}"
        ) from None
    if distribution.version != GREENGRASS_SDK_VERSION:
        raise BundleError(
            f"{GREENGRASS_SDK} {distribution.version} is installed; the DeepLens package is built and tested with "
            f"{GREENGRASS_SDK_VERSION}: {fix}"
        )
    folder = Path(str(distribution.locate_file(GREENGRASS_SDK)))
    if not (folder / "__init__.py").is_file():
        raise BundleError(f"{GREENGRASS_SDK} is installed without its package folder at {folder}: {fix}")
    return folder


def bundled_sources() -> dict[str, Path]:
    """Path inside the zip -> source file, sorted; only .py files (no caches, no tests)."""
    packages = {**BUNDLED_PACKAGES, GREENGRASS_SDK: greengrass_sdk_folder()}
    files: dict[str, Path] = {}
    for package, folder in packages.items():
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[f"{package}/{path.relative_to(folder).as_posix()}"] = path
    return dict(sorted(files.items()))


def stage_bundle(staging_root: Path = STAGING_ROOT) -> Path:
    """The folder to zip: .build/deeplens-inference-<content hash>/."""
    files = bundled_sources()
    digest = hashlib.sha256()
    for name, path in files.items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    target = staging_root / f"deeplens-inference-{digest.hexdigest()[:16]}"
    if target.is_dir():
        return target
    staging_root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".staging-", dir=staging_root))
    try:
        for name, path in files.items():
            (building / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, building / name)
        try:
            os.replace(building, target)
        except OSError:  # another synth staged the same content first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target
