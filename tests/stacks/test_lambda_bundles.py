"""Every Python Lambda's asset, as `cdk synth` packs it, carries the shared contracts and imports
its handler with nothing but the asset on the path (as the Lambda runtime loads it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.constructs.lambda_bundle import SHARED_PACKAGES
from tests.stacks.synth import SynthesizedApp

ROOT = Path(__file__).resolve().parents[2]
# Functions built with PythonFunction (handler index.handler); the DeepLens one has its own bundle test.
FUNCTIONS = sorted(
    path.parent.name for path in (ROOT / "lambda_src").glob("*/index.py") if path.parent.name != "deeplens_inference"
)


def asset_of(outdir: Path, function: str) -> Path:
    source = (ROOT / "lambda_src" / function / "index.py").read_bytes()
    found = [
        folder
        for folder in sorted(outdir.glob("asset.*"))
        if (folder / "index.py").is_file() and (folder / "index.py").read_bytes() == source
    ]
    assert found, f"no asset in {outdir} holds lambda_src/{function}/index.py"
    return found[0]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_asset_carries_sorter_common_and_imports_its_handler_alone(
    synthesized_app: SynthesizedApp, function: str
) -> None:
    asset = asset_of(synthesized_app.outdir, function)
    for package, folder in SHARED_PACKAGES.items():
        bundled = sorted(path.relative_to(asset / package) for path in (asset / package).rglob("*.py"))
        assert bundled == sorted(
            path.relative_to(folder) for path in folder.rglob("*.py") if "__pycache__" not in path.parts
        )
    assert not (asset / "__init__.py").exists()
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    # cwd = the asset: `-c` puts it first on sys.path, and the project root is not on it.
    result = subprocess.run(
        [sys.executable, "-c", "import index; assert callable(index.handler); print(index.__file__)"],
        cwd=asset,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).parent == asset
