"""What the DeepLens Lambda bundles: Python 3.7 syntax, the handler, the pinned greengrasssdk; repeatable."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.constructs.deeplens_bundle import (
    GREENGRASS_SDK,
    GREENGRASS_SDK_VERSION,
    HANDLER,
    BundleError,
    bundled_sources,
    greengrass_sdk_folder,
    stage_bundle,
)
from tests.conftest import PROJECT_ROOT
from tools.cdk_context import ALL_TARGETS_CONTEXT, cdk_json_context


def test_everything_the_lambda_bundles_is_python_3_7_syntax() -> None:
    sources = [str(path) for name, path in bundled_sources().items() if not name.startswith("greengrasssdk/")]
    # --eval-annotations: typing.List rather than list[...], so nothing needs 3.9+ even if evaluated.
    result = subprocess.run(
        [str(Path(sys.executable).with_name("vermin")), "--target=3.7-", "--no-tips", "--violations",
         "--eval-annotations", "--no-parse-comments", *sources],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert {name.split("/")[0] for name in bundled_sources()} >= {"deeplens_inference", "edge_core", "sorter_common"}


def test_the_bundle_holds_the_handler_and_only_sources_and_is_repeatable(tmp_path: Path) -> None:
    first = stage_bundle(tmp_path)
    assert stage_bundle(tmp_path) == first  # same content, same folder: the asset hash is stable
    module, function = HANDLER.rsplit(".", 1)
    handler_file = first / (module.replace(".", "/") + ".py")
    assert f"def {function}(" in handler_file.read_text()
    files = [path for path in first.rglob("*") if path.is_file()]
    assert files and all(path.suffix == ".py" for path in files)
    assert not any("tests" in path.parts or "__pycache__" in path.parts for path in files)


def test_the_bundle_carries_the_pinned_greengrasssdk_package(tmp_path: Path) -> None:
    sources = bundled_sources()
    sdk = {name for name in sources if name.startswith(f"{GREENGRASS_SDK}/")}
    assert {"greengrasssdk/__init__.py", "greengrasssdk/IoTDataPlane.py", "greengrasssdk/Lambda.py"} <= sdk
    init = (stage_bundle(tmp_path) / "greengrasssdk" / "__init__.py").read_text()
    assert f"__version__ = '{GREENGRASS_SDK_VERSION}'" in init
    requirements = (PROJECT_ROOT / "requirements.txt").read_text().split()
    assert f"{GREENGRASS_SDK}=={GREENGRASS_SDK_VERSION}" in requirements  # the same pin installs it


def test_without_greengrasssdk_synth_fails_with_one_line_saying_what_to_install(tmp_path: Path) -> None:
    # app.py as `cdk synth` runs it (context in CDK_CONTEXT_JSON), in a Python where the SDK is not installed.
    hide_sdk = (
        "import importlib.metadata as metadata, runpy\n"
        "real = metadata.distribution\n"
        "def distribution(name):\n"
        "    if name == 'greengrasssdk':\n"
        "        raise metadata.PackageNotFoundError(name)\n"
        "    return real(name)\n"
        "metadata.distribution = distribution\n"
        "runpy.run_path('app.py', run_name='__main__')\n"
    )
    context = {**cdk_json_context(), **ALL_TARGETS_CONTEXT}
    environment = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", hide_sdk], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("bundle error:")]
    assert errors == [
        "bundle error: greengrasssdk is not installed, and the DeepLens function must carry it in its package: "
        "run `make setup` (it installs greengrasssdk==1.6.1 from requirements.txt)"
    ]


def test_another_greengrasssdk_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    class Other:
        version = "1.5.0"

    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: Other())
    with pytest.raises(BundleError) as refused:
        greengrass_sdk_folder()
    assert "greengrasssdk 1.5.0 is installed; the DeepLens package is built and tested with 1.6.1" in str(refused.value)
