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

import logging
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sorter_common import cfn_response

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


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


def handler(event: dict[str, Any], context: Any, iot: Any = None) -> None:
    cfn_response.respond(event, lambda: handle(event, iot or boto3.client("iot")))
