"""The code bundle needs nothing the MXNet 1.9 image lacks: its jobs install nothing and fetch nothing.

Every third-party module that training_job/, sorter_common/ and edge_core/ import must come from a distribution
pinned in the image's package list (rehearse/pipeline/image-requirements.txt); `make rehearse`
then runs them there. A new dependency the image lacks has to be carried by the bundle as a pinned
wheel built for Python 3.8 (tools/training-image-wheels.txt), never fetched when a job starts.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from stacks.training_pipeline.source_bundle import BUNDLED_PACKAGES, bundle_files, pinned_wheels

# Import name -> the distribution in the image that provides it.
DISTRIBUTION_OF = {"cv2": "opencv-python-headless", "PIL": "pillow"}
# Only sorter_common.aws_errors imports it (lazily), for the operator's and the devices' AWS errors;
# no job calls AWS. The operator's boto3 commands (training/) are not in the bundle at all.
OPERATOR_ONLY = {"botocore"}
# Only edge_core's DeepLens backend and camera import these (inside them, on a DeepLens); the
# Evaluate step uses its MXNet backend.
DEEPLENS_ONLY = {"awscam", "mo"}


def _imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_module_the_bundle_imports_is_in_the_image(project_root: Path) -> None:
    pinned = {
        line.split("==")[0].strip().lower()
        for line in (project_root / "rehearse" / "pipeline" / "image-requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    imported: set[str] = set()
    for name, path in bundle_files(project_root):
        if name.endswith(".py"):
            imported |= _imported_top_levels(path)
    # Not in the image, but the bundle carries their wheels (tools/training-image-wheels.txt), which
    # training_job.bundled_wheels installs when the export quantizes (tests/stacks/test_training_wheels.py).
    bundled_wheels = {pin.split("==")[0].lower() for pin in pinned_wheels(project_root)}
    third_party = imported - set(sys.stdlib_module_names) - set(BUNDLED_PACKAGES) - {"__future__"}
    missing = {
        module
        for module in third_party - OPERATOR_ONLY - bundled_wheels - DEEPLENS_ONLY
        if DISTRIBUTION_OF.get(module, module).lower().replace("_", "-") not in pinned
    }
    assert not missing, f"not in the MXNet image: {sorted(missing)}; vendor them into the bundle (Python 3.8)"
    assert {"mxnet", "numpy", "cv2", "PIL", "onnx", "tqdm"} <= third_party  # the check sees real imports
    assert pinned >= OPERATOR_ONLY  # botocore is in the image too, all the same
    assert bundled_wheels == {"onnxruntime"} and "onnxruntime" in third_party
    assert "boto3" not in third_party, "the operator's boto3 commands are shipped again"
