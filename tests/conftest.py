"""Session-wide test set-up shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"

# jsii and the CDK CLI must use Node 24 from the venv, also when pytest is started by hand.
os.environ["PATH"] = os.pathsep.join([str(VENV_BIN), str(PROJECT_ROOT / "node_modules" / ".bin"), os.environ["PATH"]])
# Nothing here may reach AWS: no instance metadata probing, no real credentials.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["CDK_DISABLE_CLI_TELEMETRY"] = "true"


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def cached_demo_model() -> Path:
    """The demo model.tar.gz from testbed.demo_model, built once per machine and reused across
    sessions (system temp folder); its held-out images are in cached_demo_model.parent.parent / 'data'."""
    from testbed.demo_model import build_demo_model

    return build_demo_model()


@pytest.fixture(scope="session")
def demo_model_dir(cached_demo_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model.tar.gz extracted, as a device gets it (the DeepLens: /opt/awscam/artifacts)."""
    import tarfile

    folder = tmp_path_factory.mktemp("demo-model-dir")
    with tarfile.open(cached_demo_model) as archive:
        archive.extractall(folder, filter="data")
    return folder


@pytest.fixture(scope="session")
def held_out_frames(cached_demo_model: Path) -> dict[str, list[object]]:
    """Class id -> BGR frames (numpy) of the demo model's test split, which it never trained on."""
    import cv2

    data = cached_demo_model.parent.parent / "data"
    classes = (data / "labels.txt").read_text().split()
    frames: dict[str, list[object]] = {name: [] for name in classes}
    for line in (data / "test.lst").read_text().splitlines():
        _, label, relative = line.split("\t")
        frames[classes[int(float(label))]].append(cv2.imread(str(data / relative)))
    return frames
