"""The DeepLens Lambda's deployment package, staged without Docker and byte-for-byte repeatable.

The zip holds the function package, the inference core and the shared contracts (Python 3.7
syntax, checked by tests/lambda_src with vermin) and the Greengrass Core SDK, which a Greengrass
V1 Python function must carry in its own package (the DeepLens inference function template
does): greengrasssdk, pinned in requirements.txt; synth fails if it is missing or another
version. It is staged as every Lambda's package is (stacks/constructs/lambda_bundle.py).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from stacks.constructs.lambda_bundle import PROJECT_ROOT, SHARED_PACKAGES, STAGING_ROOT, package_sources, stage

HANDLER = "deeplens_inference.index.function_handler"
# Package name inside the zip -> its folder here.
BUNDLED_PACKAGES = {
    "deeplens_inference": PROJECT_ROOT / "lambda_src" / "deeplens_inference",
    "edge_core": PROJECT_ROOT / "edge_core",
    **SHARED_PACKAGES,
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
    return package_sources({**BUNDLED_PACKAGES, GREENGRASS_SDK: greengrass_sdk_folder()})


def stage_bundle(staging_root: Path = STAGING_ROOT) -> Path:
    """The folder to zip: .build/deeplens-inference-<content hash>/."""
    return stage("deeplens-inference", bundled_sources(), staging_root)
