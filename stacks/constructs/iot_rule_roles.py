"""The two roles every IoT topic rule of ours needs: one to put metrics, one to log failed actions."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.nag import acknowledge


def _iot_principal() -> iam.ServicePrincipal:
    # The IoT principal, only on behalf of this account's rules (no confused deputy).
    return iam.ServicePrincipal("iot.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}})


def rule_metrics_role(scope: Construct, *, namespace: str, description: str) -> iam.Role:
    """`MetricsRole` in scope: PutMetricData into this namespace only."""
    role = iam.Role(scope, "MetricsRole", assumed_by=_iot_principal(), description=description)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
        )
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "cloudwatch:PutMetricData has no resource-level permissions; the role is limited to the "
        f"{namespace} namespace by the cloudwatch:namespace condition instead.",
        findings=("Resource::*",),
    )
    return role


def rule_errors_role(scope: Construct, *, log_group: logs.ILogGroup) -> iam.Role:
    """`ErrorsRole` in scope: write the rule's failed actions (throttling, a missing permission) to log_group."""
    role = iam.Role(scope, "ErrorsRole", assumed_by=_iot_principal(), description="IoT rule: log errors")
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    return role
