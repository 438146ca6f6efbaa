"""The real CDK CLI, as an ops engineer runs it: bad config fails synth with one clear line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tools.diff_ref import main as diff_main
from tools.synth_summary import summarize


def cdk_synth(project_root: Path, outdir: Path, *context: str) -> subprocess.CompletedProcess[str]:
    arguments = [arg for pair in context for arg in ("-c", pair)]
    return subprocess.run(
        ["cdk", "synth", "--quiet", "--output", str(outdir), *arguments],
        cwd=project_root,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("context", "expected_line"),
    [
        ("bucketName=mybucket", "config error: bucketName='mybucket' is not valid: must start with 'deeplens-'"),
        (
            "edgeTargets=greengrass-v1",
            "config error: edgeTargets='greengrass-v1' is not valid: expected one or more of",
        ),
        ("acuracyGate=0.5", "config error: unknown config key 'acuracyGate' in the context (-c); did you mean"),
        ("BucketName=deeplens-x", "config error: unknown config key 'BucketName' in the context (-c); did you mean"),
        ("bucket_name=deeplens-x", "config error: unknown config key 'bucket_name' in the context (-c); did you mean"),
        ("trainingSchedule=rate(1 days)", "config error: trainingSchedule='rate(1 days)' is not valid: rate(1 days)"),
        ("trainingSchedule=cron(hello)", "config error: trainingSchedule='cron(hello)' is not valid: cron needs six"),
    ],
)
def test_bad_config_fails_cdk_synth_with_one_line(
    project_root: Path, tmp_path: Path, context: str, expected_line: str
) -> None:
    result = cdk_synth(project_root, tmp_path, context)
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("config error:")]
    assert len(error_lines) == 1 and error_lines[0].startswith(expected_line), result.stderr
    assert "Traceback" not in result.stderr


def test_cdk_synth_with_overrides_writes_a_summarized_assembly(project_root: Path, tmp_path: Path) -> None:
    result = cdk_synth(project_root, tmp_path, "bucketName=deeplens-cli-test", "region=eu-west-1")
    assert result.returncode == 0, result.stderr
    summary = summarize(tmp_path)
    assert "TrashSorterData" in summary and str(tmp_path / "TrashSorterData.template.json") in summary
    assert "deeplens-cli-test" in (tmp_path / "TrashSorterData.template.json").read_text()
    assert '"environment": "aws://unknown-account/eu-west-1"' in (tmp_path / "manifest.json").read_text()


def test_make_diff_shows_each_stack_against_a_git_ref(capfd: pytest.CaptureFixture[str]) -> None:
    assert diff_main(["--base", "HEAD"]) == 0
    captured = capfd.readouterr()
    assert "Stack TrashSorterData" in captured.out + captured.err  # cdk diff reports on stderr


def test_make_diff_refuses_an_unknown_ref(capfd: pytest.CaptureFixture[str]) -> None:
    assert diff_main(["--base", "no-such-ref"]) == 2
    assert "BASE='no-such-ref' is not a commit" in capfd.readouterr().err
