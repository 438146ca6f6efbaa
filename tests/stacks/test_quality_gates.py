"""The gates every stack passes: cdk-nag, cfn-lint, checkov and reviewed snapshots."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.stacks.synth import SynthesizedApp

EXPECTED_STACKS = {
    "TrashSorterData", "TrashSorterIot", "TrashSorterTraining", "TrashSorterDeepLens", "TrashSorterEdgeV2"
}
ASSET_HASH = re.compile(r"[0-9a-f]{64}|(?<=[A-Za-z0-9])[0-9a-f]{32}(?![0-9a-f])")
# Greengrass component versions derived from the component's content (stacks/constructs/inference_component.py).
CONTENT_VERSION = re.compile(r"\b1\.0\.\d{5,}\b")


def test_every_expected_stack_is_synthesized(synthesized_app: SynthesizedApp) -> None:
    assert set(synthesized_app.templates) >= EXPECTED_STACKS


def test_cdk_nag_reports_no_unacknowledged_finding(synthesized_app: SynthesizedApp) -> None:
    # Errors already fail synthesis; this also catches warnings, which do not.
    violations = [
        f"{violation['ruleName']} at {construct['constructPath']}"
        for report in synthesized_app.validation_report["pluginReports"]
        for violation in report["violations"]
        for construct in violation["violatingConstructs"]
    ]
    assert violations == []


def test_every_acknowledgment_names_a_rule_and_gives_a_reason(synthesized_app: SynthesizedApp) -> None:
    acknowledgments = [
        (construct.node.path, rule, reason)
        for stack in synthesized_app.stacks.all()
        for construct in stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for rule, reason in entry.data.items()
    ]
    for path, rule, reason in acknowledgments:
        # cdk-nag's AwsSolutions rules, or CDK's built-in CloudFormation validation (cfn-lint) rules.
        named = re.search(r"AwsSolutions-[A-Z]+\d+|CloudFormation-Validate::[EW]\d+", rule)
        assert named, f"{path}: {rule} names no rule"
        assert len(reason.split()) >= 6, f"{path}: the reason for {rule} is too short to review: {reason!r}"


def test_cfn_lint_reports_nothing_on_any_template(synthesized_app: SynthesizedApp, project_root: Any) -> None:
    templates = sorted(str(path) for path in synthesized_app.outdir.glob("*.template.json"))
    assert templates, "no template was synthesized"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--config-file",
            str(project_root / ".cfnlintrc"),
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


CHECKOV = Path(__file__).resolve().parents[2] / ".venv-checkov" / "bin" / "checkov"


def test_checkov_reports_no_unacknowledged_finding(synthesized_app: SynthesizedApp) -> None:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: `make setup-dev` installs checkov (requirements-checkov.txt)"
    result = subprocess.run(
        # --skip-download: no call to Prisma Cloud for guidelines; the checks ship with the package.
        [str(CHECKOV), "--directory", str(synthesized_app.outdir), "--framework", "cloudformation",
         "--skip-download", "--output", "json", "--quiet", "--compact"],
        capture_output=True, text=True, check=False,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['resource']} in {check['file_path']}: {check['check_name']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    assert sum(report["summary"]["resource_count"] for report in reports) >= len(EXPECTED_STACKS), result.stderr
    assert all(report["summary"]["parsing_errors"] == 0 for report in reports)


def test_every_checkov_acknowledgment_names_a_check_and_gives_a_reason(synthesized_app: SynthesizedApp) -> None:
    skips = [
        (stack_name, logical_id, skip)
        for stack_name, template in synthesized_app.templates.items()
        for logical_id, resource in template.get("Resources", {}).items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "no checkov acknowledgment found: the metadata went missing"
    for stack_name, logical_id, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), f"{stack_name}/{logical_id}: {skip}"
        assert len(skip["comment"].split()) >= 6, f"{stack_name}/{logical_id}: {skip['id']} needs a reviewable reason"


def normalized(value: Any) -> Any:
    """The template without what changes on every unrelated edit: asset hashes and CDK metadata."""
    if isinstance(value, dict):
        # Keys too: a Lambda version's logical id ends in a hash of the function's code.
        result = {normalized(key): normalized(item) for key, item in value.items() if key != "CDKMetadata"}
        if isinstance(result.get("Statement"), list):
            # IAM merges and orders statements and their resources by the rendered ARNs, asset
            # hashes included: the order follows code changes but means nothing.
            for statement in result["Statement"]:
                if isinstance(statement.get("Resource"), list):
                    statement["Resource"] = sorted(statement["Resource"], key=json.dumps)
            result["Statement"] = sorted(result["Statement"], key=json.dumps)
        return result
    if isinstance(value, list):
        return [normalized(item) for item in value]
    if isinstance(value, str):
        return CONTENT_VERSION.sub("<content-version>", ASSET_HASH.sub("<asset-hash>", value))
    return value


@pytest.mark.parametrize("stack_name", sorted(EXPECTED_STACKS))
def test_stack_matches_its_reviewed_snapshot(
    synthesized_app: SynthesizedApp, stack_name: str, snapshot: SnapshotAssertion
) -> None:
    # After an intended change: `make snapshots`, then review the diff of tests/stacks/__snapshots__.
    template = normalized(synthesized_app.templates[stack_name])
    template.get("Conditions", {}).pop("CDKMetadataAvailable", None)
    assert template == snapshot.use_extension(JSONSnapshotExtension)
