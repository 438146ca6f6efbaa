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
