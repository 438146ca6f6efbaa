"""Starts the training pipeline when a dataset is complete: a `datasets/<name>/_READY` object.

Invoked by EventBridge for S3 "Object Created" events (already filtered to the marker key) and
by the optional schedule with {"dataset": "<name>"}. The same event delivered twice starts one
execution: the client request token is derived from the event.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import boto3

from sorter_common.bucket_layout import DATASET_READY_MARKER, DATASETS_PREFIX
from sorter_common.training_pipeline import DatasetNameError, check_dataset_name, start_execution_request

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)


class DatasetError(ValueError):
    """The event names no usable dataset."""


def dataset_from_event(
    event: dict[str, Any],
    prefix: str = DATASETS_PREFIX,
    marker: str = DATASET_READY_MARKER,
) -> str:
    if "dataset" in event:  # the schedule, or an operator invoking the function by hand
        name = str(event["dataset"])
    else:
        key = event.get("detail", {}).get("object", {}).get("key", "")
        if not (key.startswith(prefix) and key.endswith("/" + marker)):
            raise DatasetError(f"object {key!r} is not a {prefix}<name>/{marker} marker")
        name = key[len(prefix) : -len(marker) - 1]
    try:
        return check_dataset_name(name)
    except DatasetNameError as error:
        raise DatasetError(str(error)) from None


def request_token(event: dict[str, Any], dataset: str) -> str:
    """Same event -> same token (SageMaker then starts no second execution)."""
    identity = event.get("id") or json.dumps(event, sort_keys=True)
    return hashlib.sha256(f"{identity}:{dataset}".encode()).hexdigest()[:64]


def handler(event: dict[str, Any], context: Any, client: Any = None) -> dict[str, str]:
    dataset = dataset_from_event(event)
    sagemaker = client or boto3.client("sagemaker")
    response = sagemaker.start_pipeline_execution(
        **start_execution_request(dataset, client_request_token=request_token(event, dataset))
    )
    arn = str(response["PipelineExecutionArn"])
    LOGGER.info("started %s for dataset %s", arn, dataset)
    return {"dataset": dataset, "executionArn": arn}
