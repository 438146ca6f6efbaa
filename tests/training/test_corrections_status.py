"""`pipeline status`'s count of the corrections made at the bin since the model in use was trained,
against botocore's Stubber (SageMaker's and CloudWatch's real service models)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from training import pipeline_commands
from training.cli import main
from training.corrections_status import corrections_summary

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/trash-sorter-models/4"
TRAINED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


@pytest.fixture
def stubs() -> Iterator[tuple[Stubber, Stubber]]:
    sagemaker, cloudwatch = client("sagemaker"), client("cloudwatch")
    with Stubber(sagemaker) as sm, Stubber(cloudwatch) as cw:
        yield sm, cw
        sm.assert_no_pending_responses()
        cw.assert_no_pending_responses()


def expect_model(stubber: Stubber) -> None:
    stubber.add_response(
        "list_model_packages",
        {"ModelPackageSummaryList": [{
            "ModelPackageArn": PACKAGE, "ModelPackageGroupName": "trash-sorter-models", "ModelPackageVersion": 4,
            "CreationTime": TRAINED, "ModelPackageStatus": "Completed", "ModelApprovalStatus": "Approved",
        }]},
        {"ModelPackageGroupName": "trash-sorter-models", "ModelApprovalStatus": "Approved", "SortBy": "CreationTime",
         "SortOrder": "Descending", "MaxResults": 1},
    )


def expect_metrics(stubber: Stubber, values: dict[str, list[float]]) -> None:
    names = ["CorrectedFrom/landfill", *values]  # the rule's other counts are listed too, and skipped
    stubber.add_response(
        "list_metrics",
        {"Metrics": [{"Namespace": "TrashSorter", "MetricName": name} for name in names]},
        {"Namespace": "TrashSorter"},
    )
    wanted = sorted(values)
    stubber.add_response(
        "get_metric_data",
        {"MetricDataResults": [
            {"Id": f"m{index}", "Label": name, "Values": values[name], "StatusCode": "Complete"}
            for index, name in enumerate(wanted)
        ]},
        {"MetricDataQueries": ANY, "StartTime": TRAINED, "EndTime": NOW},
    )


def test_counts_corrections_by_true_class_and_confirmations_since_the_model_was_trained(
    stubs: tuple[Stubber, Stubber],
) -> None:
    sm, cw = stubs
    expect_model(sm)
    expect_metrics(cw, {
        "CorrectedTo/recycling": [2.0, 1.0], "CorrectedTo/compost": [1.0], "CorrectedTo/landfill": [],
        "Field/landfill/recycling": [3.0], "Field/compost/compost": [1.0],
    })
    summary = corrections_summary(sm.client, cw.client, now=NOW)
    assert summary == (
        f"corrections from the bin since the model in use was trained (2026-11-30 08:00 UTC, {PACKAGE}): "
        "4 (compost 1, recycling 3; 1 of them confirmations)"
    )


def test_no_corrections_yet_says_zero(stubs: tuple[Stubber, Stubber]) -> None:
    sm, cw = stubs
    expect_model(sm)
    cw.add_response("list_metrics", {"Metrics": []}, {"Namespace": "TrashSorter"})
    assert corrections_summary(sm.client, cw.client, now=NOW).endswith(f"{PACKAGE}): 0")


def test_pipeline_status_prints_it_after_the_runs(
    stubs: tuple[Stubber, Stubber], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sm, cw = stubs
    monkeypatch.setattr(pipeline_commands, "client_factory", lambda region: sm.client)
    monkeypatch.setattr(pipeline_commands, "cloudwatch_factory", lambda region: cw.client)
    sm.add_response("list_pipeline_executions", {"PipelineExecutionSummaries": []},
                    {"PipelineName": "trash-sorter-training", "SortOrder": "Descending", "MaxResults": 10})
    expect_model(sm)
    cw.add_response("list_metrics", {"Metrics": [{"Namespace": "TrashSorter", "MetricName": "CorrectedTo/compost"}]},
                    {"Namespace": "TrashSorter"})
    cw.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "m0", "Label": "CorrectedTo/compost", "Values": [5.0], "StatusCode": "Complete"}]},
        {"MetricDataQueries": ANY, "StartTime": TRAINED, "EndTime": ANY})
    assert main(["pipeline", "status"]) == 0
    out = capsys.readouterr().out
    assert "no executions yet" in out and "since the model in use was trained" in out and ": 5 (compost 5" in out
