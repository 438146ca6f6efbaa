"""The start-training function, with botocore's Stubber checking calls against SageMaker's model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from lambda_src.start_training import index
from sorter_common.training_pipeline import PIPELINE_NAME

EXECUTION = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/trash-sorter-training/execution/e1"


@pytest.fixture
def sagemaker() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def s3_event(key: str, event_id: str = "11111111-2222") -> dict[str, Any]:
    return {
        "id": event_id,
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "deeplens-x"}, "object": {"key": key, "sequencer": "00A"}},
    }


def expect_start(stubber: Stubber, dataset: str) -> dict[str, Any]:
    expected = {
        "PipelineName": PIPELINE_NAME,
        "PipelineExecutionDisplayName": f"dataset-{dataset}",
        "PipelineExecutionDescription": f"Started for datasets/{dataset}/",
        "PipelineParameters": [{"Name": "DatasetName", "Value": dataset}],
        "ClientRequestToken": ANY,
    }
    stubber.add_response("start_pipeline_execution", {"PipelineExecutionArn": EXECUTION}, expected)
    return expected


def test_a_ready_marker_starts_the_pipeline_on_its_dataset(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    expect_start(stubber, "kitchen-2026")
    result = index.handler(s3_event("datasets/kitchen-2026/_READY"), None, client=client)
    assert result == {"dataset": "kitchen-2026", "executionArn": EXECUTION}


def test_the_schedule_names_its_dataset(sagemaker: tuple[Any, Stubber]) -> None:
    client, stubber = sagemaker
    expect_start(stubber, "default")
    assert index.handler({"dataset": "default"}, None, client=client)["dataset"] == "default"


def test_the_same_event_twice_gives_the_same_request_token() -> None:
    first = index.request_token(s3_event("datasets/a/_READY"), "a")
    assert first == index.request_token(s3_event("datasets/a/_READY"), "a")
    assert first != index.request_token(s3_event("datasets/a/_READY", event_id="other"), "a")
    assert 32 <= len(first) <= 128


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("datasets/a/b/_READY", "must match"),
        ("prepared/a/_READY", "is not a datasets/<name>/_READY marker"),
        ("datasets/a/_READY.txt", "is not a datasets/<name>/_READY marker"),
        ("datasets//_READY", "must match"),
        # SageMaker refuses '.' and '_' in the execution display name "dataset-<name>".
        ("datasets/v1.2/_READY", "must match"),
        ("datasets/my_set/_READY", "must match"),
        ("datasets/trailing-/_READY", "must match"),
    ],
)
def test_a_key_that_names_no_dataset_is_refused_without_a_call(
    sagemaker: tuple[Any, Stubber], key: str, message: str
) -> None:
    client, _ = sagemaker
    with pytest.raises(index.DatasetError, match=message):
        index.handler(s3_event(key), None, client=client)
