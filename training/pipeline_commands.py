"""`python -m training pipeline start|status|approve`: the operator's side of the SageMaker pipeline.

These run on the operator's machine with their AWS credentials (never inside SageMaker).
`start --wait` streams each step's status; a failed run exits 1 naming the failing step and
its reason (for the accuracy gate, the measured accuracy and the gate).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from sorter_common.bucket_layout import PRETRAINED_PREFIX
from sorter_common.training_pipeline import (
    DEFAULT_DATASET,
    PIPELINE_NAME,
    DatasetNameError,
    start_execution_request,
)
from training.cli import Command, register
from training.corrections_status import corrections_summary
from training.errors import aws_errors
from training_job.errors import UsageError

FAILED_EXIT = 1
TERMINAL_STATES = ("Succeeded", "Failed", "Stopped")
# Steps of a run that passes the gate: Prepare, Train, Evaluate, AccuracyGate, RegisterModel.
EXPECTED_STEPS = 5

ClientFactory = Callable[[str | None], Any]


def _boto_client(region: str | None, service: str = "sagemaker") -> Any:
    import boto3

    return boto3.client(service, region_name=region)


# Replaced in tests by factories returning botocore-Stubbed clients.
client_factory: ClientFactory = _boto_client
cloudwatch_factory: ClientFactory = lambda region: _boto_client(region, "cloudwatch")  # noqa: E731


def start(client: Any, pipeline: str, dataset: str) -> str:
    try:
        request = start_execution_request(dataset, pipeline)
    except DatasetNameError as error:
        raise UsageError(str(error)) from None
    return str(client.start_pipeline_execution(**request)["PipelineExecutionArn"])


def _steps(client: Any, execution_arn: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"PipelineExecutionArn": execution_arn, "SortOrder": "Ascending"}
    while True:
        page = client.list_pipeline_execution_steps(**kwargs)
        steps += page["PipelineExecutionSteps"]
        if not page.get("NextToken"):
            return steps
        kwargs["NextToken"] = page["NextToken"]


def wait(client: Any, execution_arn: str, poll_seconds: float, out: Any = None) -> tuple[str, str]:
    """Stream step status changes until the run ends; returns (status, failure message)."""
    from tqdm import tqdm

    out = out or sys.stdout

    seen: dict[str, str] = {}
    with tqdm(total=EXPECTED_STEPS, desc="pipeline", unit="step", file=out, leave=False) as progress:
        while True:
            for step in _steps(client, execution_arn):
                name, status = step["StepName"], step["StepStatus"]
                if seen.get(name) != status:
                    seen[name] = status
                    progress.write(f"  {name}: {status}", file=out)
                    if status == "Succeeded":
                        progress.update(1)
            execution = client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
            status = execution["PipelineExecutionStatus"]
            if status in TERMINAL_STATES:
                return status, _failure(client, execution_arn, execution)
            time.sleep(poll_seconds)


def _failure(client: Any, execution_arn: str, execution: dict[str, Any]) -> str:
    for step in _steps(client, execution_arn):
        if step["StepStatus"] == "Failed":
            reason = str(step.get("FailureReason", "no reason given"))
            if f"/{PRETRAINED_PREFIX}" in reason and "python -m training weights" not in reason:
                # SageMaker fails the job itself when the pretrained channel's object is missing.
                reason += " (the pretrained weights are missing: run `python -m training weights s3://<bucket>` once)"
            return f"step {step['StepName']} failed: {reason}"
    return str(execution.get("FailureReason", ""))


def status_table(client: Any, pipeline: str, limit: int) -> str:
    summaries = client.list_pipeline_executions(PipelineName=pipeline, SortOrder="Descending", MaxResults=limit)[
        "PipelineExecutionSummaries"
    ]
    if not summaries:
        return f"{pipeline}: no executions yet (upload datasets/<name>/_READY, or run `pipeline start`)"
    rows = [("started", "status", "name", "execution ARN")]
    for summary in summaries:
        rows.append(
            (
                summary["StartTime"].strftime("%Y-%m-%d %H:%M"),
                summary["PipelineExecutionStatus"],
                summary.get("PipelineExecutionDisplayName", ""),
                summary["PipelineExecutionArn"],
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    )


def approve(client: Any, model_package_arn: str) -> None:
    client.update_model_package(
        ModelPackageArn=model_package_arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription="Approved with python -m training pipeline approve",
    )


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", default=PIPELINE_NAME, help="pipeline name (default: %(default)s)")
    parser.add_argument("--region", default=None, help="AWS region (default: your profile's)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start_parser = actions.add_parser("start", help="start a training run on datasets/<name>/")
    start_parser.add_argument(
        "--dataset", default=DEFAULT_DATASET, help="folder under datasets/ (default: %(default)s)"
    )
    start_parser.add_argument("--wait", action="store_true", help="stream each step until the run ends")
    start_parser.add_argument("--poll", type=float, default=30.0, help="seconds between status checks with --wait")
    status_parser = actions.add_parser(
        "status", help="list recent runs, and the corrections made at the bin since the model in use was trained"
    )
    status_parser.add_argument("--limit", type=int, default=10)
    approve_parser = actions.add_parser("approve", help="approve a registered model package (promotes it to devices)")
    approve_parser.add_argument("model_package_arn", metavar="ARN")


def _run(args: argparse.Namespace) -> int:
    with aws_errors():
        client = client_factory(args.region)
        if args.action == "status":
            print(status_table(client, args.pipeline, args.limit))
            print(corrections_summary(client, cloudwatch_factory(args.region)))
            return 0
        if args.action == "approve":
            approve(client, args.model_package_arn)
            print(f"approved {args.model_package_arn}")
            return 0
        execution_arn = start(client, args.pipeline, args.dataset)
        print(f"started {execution_arn}")
        if not args.wait:
            return 0
        status, failure = wait(client, execution_arn, args.poll)
    if status == "Succeeded":
        print("pipeline succeeded: the model is registered in the model package group")
        return 0
    print(f"error: pipeline {status.lower()}: {failure}", file=sys.stderr)
    return FAILED_EXIT


register(Command("pipeline", "start, follow and list SageMaker training pipeline runs", _configure, _run))
