"""The DeepLens stack synthesized once per session, as `cdk synth` builds it (cdk.json's context)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from stacks.app_builder import build_stacks
from stacks.config import load_config
from tools.cdk_context import ALL_TARGETS_CONTEXT, cdk_json_context

DEEPLENS_STACK = "TrashSorterDeepLens"


@dataclass(frozen=True)
class SynthesizedDeepLens:
    outdir: Path
    template: dict[str, Any]

    def function_package(self) -> Path:
        """The function's asset folder in the cloud assembly: what `cdk deploy` zips and uploads.

        Found the way the CLI finds it: the function's S3 key names the asset in the stack's
        asset manifest, whose source path is the folder in cdk.out.
        """
        functions = [r for r in self.template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
        assert len(functions) == 1
        asset_hash = str(functions[0]["Properties"]["Code"]["S3Key"]).removesuffix(".zip")
        manifest = json.loads((self.outdir / f"{DEEPLENS_STACK}.assets.json").read_text())
        source = manifest["files"][asset_hash]["source"]
        assert source["packaging"] == "zip"
        return self.outdir / str(source["path"])


@pytest.fixture(scope="session")
def synthesized_deeplens(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedDeepLens:
    outdir = tmp_path_factory.mktemp("deeplens-cdk.out")
    app = cdk.App(context={**cdk_json_context(), **ALL_TARGETS_CONTEXT, "edgeTargets": "deeplens"}, outdir=str(outdir))
    build_stacks(app, load_config(app.node.get_all_context()))
    assembly = app.synth()
    return SynthesizedDeepLens(outdir, assembly.get_stack_by_name(DEEPLENS_STACK).template)
