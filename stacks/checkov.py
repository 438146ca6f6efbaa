"""checkov acknowledgments, in the template where checkov reads them: each names the check and gives a reason.

checkov reads a CloudFormation resource's `Metadata: {checkov: {skip: [{id, comment}]}}`. Two kinds:
- acknowledge_check(): one resource, written where the construct that builds it decides why.
- ProjectPolicies: decisions that hold for every resource of a type (no function runs in a VPC,
  ...), stated once and applied by an aspect only where the finding would otherwise stand.
tests/stacks/test_quality_gates.py runs checkov over every synthesized template: zero findings
left, and every acknowledgment gives a reason a reviewer can check.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import CfnResource, IAspect
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import IConstruct

METADATA_KEY = "checkov"


def acknowledge_check(construct: IConstruct, check_id: str, reason: str) -> None:
    """Acknowledge a checkov check on a resource (an L1, or an L2 through its default child)."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to acknowledge {check_id} on")
    entry: dict[str, Any] = dict(resource.get_metadata(METADATA_KEY) or {})
    skips = [skip for skip in entry.get("skip", []) if skip["id"] != check_id]
    resource.add_metadata(METADATA_KEY, {**entry, "skip": [*skips, {"id": check_id, "comment": reason}]})


LOG_GROUP_KMS = (
    "CKV_AWS_158",
    "CloudWatch Logs encrypts every log group at rest with a service key; these logs hold request ids, "
    "counts and errors, never images, keys or personal data, so a customer-managed KMS key would add cost and a "
    "key policy without protecting anything more.",
)
FUNCTION_VPC = (
    "CKV_AWS_117",
    "No function reaches a resource inside a VPC: each calls public AWS APIs only (S3, SageMaker, IoT, Greengrass, "
    "Secrets Manager) or runs only on the DeepLens, so a VPC would add NAT gateways or endpoints and no isolation.",
)
FUNCTION_CONCURRENCY = (
    "CKV_AWS_115",
    "Every function runs on rare events (a deployment, an upload, an approval, a schedule), a few at a time; "
    "reserved concurrency would take capacity from the account's pool and protect nothing.",
)
FUNCTION_ENVIRONMENT_KMS = (
    "CKV_AWS_173",
    "The environment holds resource names and ARNs only, no secrets (the Pi's private key lives in Secrets "
    "Manager); Lambda encrypts it at rest with its service key.",
)

# For custom-resource handlers, acknowledged where each is built.
CUSTOM_RESOURCE_HANDLER = (
    "CKV_AWS_116",
    "A custom-resource handler: CloudFormation invokes it asynchronously and waits for its answer on the "
    "response URL, and the handler answers FAILED with the error on every failure path, so a failure shows in "
    "the stack's events; a dead-letter queue would only hold requests CloudFormation has already given up on.",
)


@jsii.implements(IAspect)
class ProjectPolicies:
    """The project-wide acknowledgments, applied where the property checkov looks for is absent."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            acknowledge_check(node, *LOG_GROUP_KMS)
        if isinstance(node, lambda_.CfnFunction):
            if node.vpc_config is None:
                acknowledge_check(node, *FUNCTION_VPC)
            if node.reserved_concurrent_executions is None:
                acknowledge_check(node, *FUNCTION_CONCURRENCY)
            if node.environment is not None and node.kms_key_arn is None:
                acknowledge_check(node, *FUNCTION_ENVIRONMENT_KMS)
