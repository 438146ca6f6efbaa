"""CloudFormation custom resource: on stack deletion, detach the Greengrass core policy from every
certificate it is attached to, so CloudFormation can then delete the policy.

The nucleus installer (`--thing-policy-name`) attaches the policy to each camera's certificate,
outside CloudFormation, and AWS IoT refuses to delete a policy that still has targets
(DeleteConflictException), which would fail `cdk destroy`. The resource depends on the policy, so
CloudFormation deletes it, and runs this, first. The cameras lose their AWS IoT access with it,
as with everything else the stack made; their things and certificates stay.

Properties: PolicyName. Create and Update do nothing. Data returned: none.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
SEND_ATTEMPTS = 3


def targets(iot: Any, policy_name: str) -> list[str]:
    found: list[str] = []
    marker = None
    while True:
        page = iot.list_targets_for_policy(policyName=policy_name, **({"marker": marker} if marker else {}))
        found += page.get("targets", [])
        marker = page.get("nextMarker")
        if not marker:
            return found


def detach_all(iot: Any, policy_name: str) -> int:
    try:
        attached = targets(iot, policy_name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return 0  # already gone: nothing to detach
        raise
    for target in attached:
        try:
            iot.detach_policy(policyName=policy_name, target=target)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
    LOG.info("detached %s from %d targets", policy_name, len(attached))
    return len(attached)


def handle(event: dict[str, Any], iot: Any) -> dict[str, Any]:
    policy_name = event["ResourceProperties"]["PolicyName"]
    if event["RequestType"] == "Delete":
        detach_all(iot, policy_name)
    return {"PhysicalResourceId": f"detach-on-delete-{policy_name}"}


def send(url: str, body: bytes, wait_s: float = 1.0) -> None:
    # The pre-signed S3 URL CloudFormation waits on (an empty Content-Type is what it signs); a
    # lost response would leave the stack waiting an hour, so a failed PUT is tried again.
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            return
        except OSError:
            if attempt == SEND_ATTEMPTS:
                raise
            time.sleep(wait_s * attempt)


def handler(event: dict[str, Any], context: Any, iot: Any = None) -> None:
    LOG.info("%s request for %s", event.get("RequestType"), event.get("LogicalResourceId"))
    try:
        result, status, reason = handle(event, iot or boto3.client("iot")), "SUCCESS", "OK"
    except Exception as error:
        LOG.exception("request failed")
        result = {"PhysicalResourceId": event.get("PhysicalResourceId") or f"not-created-{event['RequestId']}"}
        status, reason = "FAILED", f"{type(error).__name__}: {error}"[:1000]
    body = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": result["PhysicalResourceId"],
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {},
    }
    send(event["ResponseURL"], json.dumps(body).encode())
