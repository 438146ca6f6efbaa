"""Synthesizing the app for tests, as `cdk synth` does, with cdk-nag on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.app_builder import TrashSorterStacks, build_stacks
from stacks.config import load_config
from tools.cdk_context import cdk_json_context


@dataclass(frozen=True)
class SynthesizedApp:
    outdir: Path
    stacks: TrashSorterStacks
    templates: dict[str, dict[str, Any]]
    validation_report: dict[str, Any]

    def template(self, stack_name: str) -> Template:
        return Template.from_json(self.templates[stack_name])


def synthesize(outdir: Path, overrides: dict[str, Any]) -> SynthesizedApp:
    """Synthesize the app as `cdk synth` does (cdk.json's context) with cdk-nag's AwsSolutions pack."""
    context = {**cdk_json_context(), **overrides}
    app = cdk.App(context=context, outdir=str(outdir))
    # Raises ValidationFailed, listing every unacknowledged finding, if the pack finds any.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    stacks = build_stacks(app, load_config(app.node.get_all_context()))
    assembly = app.synth()
    templates = {stack.stack_name: stack.template for stack in assembly.stacks}
    report = json.loads((outdir / "validation-report.json").read_text())
    return SynthesizedApp(outdir=outdir, stacks=stacks, templates=templates, validation_report=report)
