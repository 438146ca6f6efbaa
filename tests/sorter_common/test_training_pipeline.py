from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from sorter_common.training_pipeline import DatasetNameError, check_dataset_name, start_execution_request


def test_the_request_is_one_botocore_accepts_for_start_pipeline_execution() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    request = start_execution_request("kitchen-2026", client_request_token="t" * 64)
    assert request["PipelineParameters"] == [{"Name": "DatasetName", "Value": "kitchen-2026"}]
    with Stubber(client) as stubber:
        stubber.add_response("start_pipeline_execution", {"PipelineExecutionArn": "arn"}, request)
        assert client.start_pipeline_execution(**request)["PipelineExecutionArn"] == "arn"


def test_without_a_token_none_is_sent() -> None:
    assert "ClientRequestToken" not in start_execution_request("default")


@pytest.mark.parametrize("name", ["", "a/b", "v1.2", "my_set", "trailing-", "../other"])
def test_a_name_the_pipeline_cannot_take_is_named_with_the_rule(name: str) -> None:
    with pytest.raises(DatasetNameError, match=r"is not usable.*must match"):
        start_execution_request(name)
    with pytest.raises(DatasetNameError):
        check_dataset_name(name)
