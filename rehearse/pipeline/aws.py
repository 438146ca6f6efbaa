"""The AWS side of the rehearsal: moto in server mode on 127.0.0.1, clients for it, EventBridge
events in the shapes EventBridge delivers, and rule patterns matched against them."""

from __future__ import annotations

import fnmatch
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rehearse.pipeline.cloudformation import ACCOUNT, REGION

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal", "AWS_SESSION_TOKEN": "rehearsal"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port; yields its endpoint URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def client_environment(endpoint: str) -> dict[str, str]:
    """What a user's shell (and boto3 in it) needs to talk to the rehearsal's AWS."""
    return {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}


def client(service: str, endpoint: str | None) -> Any:
    import boto3

    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def _envelope(source: str, detail_type: str, resources: list[str], detail: dict[str, Any]) -> dict[str, Any]:
    # https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": resources,
        "detail": detail,
    }


def s3_object_created(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html (Object Created)."""
    return _envelope(
        "aws.s3",
        "Object Created",
        [f"arn:aws:s3:::{bucket}"],
        {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "etag": etag.strip('"'), "sequencer": "0055AED6DCD90281E5"},
            "request-id": "D82B88E5F771F645",
            "requester": ACCOUNT,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    )


def model_package_state_change(package: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html
    (SageMaker Model Package State Change: the package's description as the detail)."""
    keep = ("ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn", "ModelApprovalStatus")
    detail = {key: package[key] for key in keep if key in package}
    detail["CreationTime"] = int(datetime.now(UTC).timestamp() * 1000)
    return _envelope("aws.sagemaker", "SageMaker Model Package State Change", [package["ModelPackageArn"]], detail)


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge pattern matching, for the forms our rules use (values, prefix, wildcard)."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(
            key in event and matches(value, event[key]) for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        return any(_matches_one(item, event) for item in pattern)
    return bool(pattern == event)


def _matches_one(item: Any, value: Any) -> bool:
    if isinstance(item, dict):
        if "wildcard" in item:
            return isinstance(value, str) and fnmatch.fnmatchcase(value, item["wildcard"])
        if "prefix" in item:
            return isinstance(value, str) and value.startswith(item["prefix"])
        raise NotImplementedError(f"event pattern {item} is not rehearsed")
    return bool(item == value)
