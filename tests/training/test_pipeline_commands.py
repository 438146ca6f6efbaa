"""`python -m training pipeline ...` against botocore's Stubber, which checks every call and
response against SageMaker's real service model."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from training import pipeline_commands
from training.cli import main

PIPELINE = "trash-sorter-training"
EXECUTION = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/trash-sorter-training/execution/abc123"


@pytest.fixture
def stubbed() -> Iterator[Stubber]:
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber, Stubber(cloudwatch):  # no CloudWatch call unless a test expects one
        original = pipeline_commands.client_factory, pipeline_commands.cloudwatch_factory
        pipeline_commands.client_factory = lambda region: client
        pipeline_commands.cloudwatch_factory = lambda region: cloudwatch
        yield stubber
        pipeline_commands.client_factory, pipeline_commands.cloudwatch_factory = original
        stubber.assert_no_pending_responses()


def expect_start(stubber: Stubber, dataset: str) -> None:
    stubber.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": EXECUTION},
        {
            "PipelineName": PIPELINE,
            "PipelineExecutionDisplayName": f"dataset-{dataset}",
            "PipelineExecutionDescription": f"Started for datasets/{dataset}/",
            "PipelineParameters": [{"Name": "DatasetName", "Value": dataset}],
        },
    )


def step(name: str, status: str, reason: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"StepName": name, "StepStatus": status}
    if reason:
        entry["FailureReason"] = reason
    return entry


def expect_poll(stubber: Stubber, steps: list[dict[str, Any]], status: str) -> None:
    stubber.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": steps})
    stubber.add_response("describe_pipeline_execution", {"PipelineExecutionStatus": status})


def test_start_names_the_dataset_and_prints_the_execution(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    expect_start(stubbed, "kitchen-2026")
    assert main(["pipeline", "start", "--dataset", "kitchen-2026"]) == 0
    assert EXECUTION in capsys.readouterr().out


def test_wait_streams_each_step_until_success(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    expect_start(stubbed, "default")
    expect_poll(stubbed, [step("Prepare", "Executing")], "Executing")
    done = [step(name, "Succeeded") for name in ("Prepare", "Train", "Evaluate", "AccuracyGate", "RegisterModel")]
    expect_poll(stubbed, done, "Succeeded")
    stubbed.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": done})
    assert main(["pipeline", "start", "--wait", "--poll", "0"]) == 0
    out = capsys.readouterr().out
    assert "Prepare: Executing" in out and "Prepare: Succeeded" in out and "RegisterModel: Succeeded" in out
    assert out.index("Prepare: Executing") < out.index("Train: Succeeded")
    assert "pipeline succeeded" in out


def test_a_run_below_the_gate_exits_1_naming_the_step_and_the_accuracy(
    stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_start(stubbed, "default")
    reason = "Model accuracy 0.71 is below the accuracy gate 0.9 - not registered."
    steps = [
        step("Prepare", "Succeeded"),
        step("Train", "Succeeded"),
        step("Evaluate", "Succeeded"),
        step("AccuracyGate", "Succeeded"),
        step("AccuracyBelowGate", "Failed", reason),
    ]
    expect_poll(stubbed, steps, "Failed")
    stubbed.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": steps})
    assert main(["pipeline", "start", "--wait", "--poll", "0"]) == 1
    error = capsys.readouterr().err
    assert f"error: pipeline failed: step AccuracyBelowGate failed: {reason}" in error


def test_missing_pretrained_weights_name_the_command_to_run(
    stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_start(stubbed, "default")
    # SageMaker's own reason when a channel's S3 object does not exist.
    reason = "ClientError: Data download failed:No S3 objects found under S3 URL s3://deeplens-x/pretrained/resnet18_v1.params"
    steps = [step("Prepare", "Succeeded"), step("Train", "Failed", reason)]
    expect_poll(stubbed, steps, "Failed")
    stubbed.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": steps})
    assert main(["pipeline", "start", "--wait", "--poll", "0"]) == 1
    error = capsys.readouterr().err
    assert "step Train failed: ClientError" in error and "run `python -m training weights s3://<bucket>` once" in error


def test_a_bad_dataset_name_is_refused_before_any_call(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pipeline", "start", "--dataset", "../other"]) == 2
    assert "dataset name '../other' is not usable" in capsys.readouterr().err


def test_an_aws_refusal_is_one_clear_line(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stubbed.add_client_error("start_pipeline_execution", "ResourceNotFound", "Pipeline does not exist")
    assert main(["pipeline", "start"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "error: AWS refused StartPipelineExecution: Pipeline does not exist (ResourceNotFound)"
    assert "\n" not in error


def test_status_lists_recent_runs(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stubbed.add_response(
        "list_pipeline_executions",
        {
            "PipelineExecutionSummaries": [
                {
                    "PipelineExecutionArn": EXECUTION,
                    "StartTime": datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
                    "PipelineExecutionStatus": "Succeeded",
                    "PipelineExecutionDisplayName": "dataset-default",
                }
            ]
        },
        {"PipelineName": PIPELINE, "SortOrder": "Descending", "MaxResults": 10},
    )
    stubbed.add_response(
        "list_model_packages",
        {"ModelPackageSummaryList": []},
        {"ModelPackageGroupName": "trash-sorter-models", "ModelApprovalStatus": "Approved", "SortBy": "CreationTime",
         "SortOrder": "Descending", "MaxResults": 1},
    )
    assert main(["pipeline", "status"]) == 0
    out = capsys.readouterr().out
    assert "2026-11-21 09:30  Succeeded  dataset-default" in out and EXECUTION in out
    assert "corrections from the bin: no approved model yet" in out


def test_approve_sets_the_package_approved(stubbed: Stubber) -> None:
    package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/trash-sorter-models/3"
    stubbed.add_response(
        "update_model_package",
        {"ModelPackageArn": package},
        {
            "ModelPackageArn": package,
            "ModelApprovalStatus": "Approved",
            "ApprovalDescription": "Approved with python -m training pipeline approve",
        },
    )
    assert main(["pipeline", "approve", package]) == 0


def test_wait_pages_through_steps() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        stubber.add_response(
            "list_pipeline_execution_steps",
            {"PipelineExecutionSteps": [step("Prepare", "Succeeded")], "NextToken": "t"},
        )
        stubber.add_response(
            "list_pipeline_execution_steps", {"PipelineExecutionSteps": [step("Train", "Failed", "OOM")]}
        )
        stubber.add_response("describe_pipeline_execution", {"PipelineExecutionStatus": "Failed"})
        stubber.add_response(
            "list_pipeline_execution_steps", {"PipelineExecutionSteps": [step("Train", "Failed", "OOM")]}
        )
        status, failure = pipeline_commands.wait(client, EXECUTION, 0, out=io.StringIO())
    assert (status, failure) == ("Failed", "step Train failed: OOM")
