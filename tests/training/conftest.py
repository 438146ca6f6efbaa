"""Fixtures shared by the training tests: generated data and one small trained model per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed.demo_model import build_demo_model
from training.sample import write_sample


@pytest.fixture(scope="session")
def demo_model() -> Path:
    """model.tar.gz trained on generated data; its prepared dataset is in demo_model.parent.parent / 'data'.

    The shared build (system temp folder) that tests/conftest.py's cached_demo_model also uses:
    one training run per machine, whichever test folder asks first.
    """
    return build_demo_model()


@pytest.fixture(scope="session")
def demo_data(demo_model: Path) -> Path:
    """The prepared dataset (train/validation/test .lst) the demo model was trained on."""
    return demo_model.parent.parent / "data"


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated dataset, never modified by tests (copy it before changing it)."""
    folder = tmp_path_factory.mktemp("sample")
    write_sample(folder, per_class=12, seed=3, progress=False)
    return folder
