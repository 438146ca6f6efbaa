"""The DeepLens inference Lambda (python3.7), its version and alias, or an already published version.

Lambda no longer creates python3.7 functions, so a deployable stack points `published_version_arn`
at a version published before that, and this construct then creates nothing.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.checkov import acknowledge_check
from stacks.constructs.deeplens_bundle import HANDLER, stage_bundle
from stacks.nag import acknowledge

ALIAS_NAME = "live"
# The DeepLens inference model and OpenCV frames need far more than Lambda's default.
MEMORY_MB = 1536


class DeepLensFunction(Construct):
    """`function_arn` is the ARN Greengrass runs: the alias, or the configured published version."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        published_version_arn: str | None,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        self.function: lambda_.Function | None = None
        self.alias: lambda_.Alias | None = None
        if published_version_arn is not None:
            self.function_arn = published_version_arn
            # arn:aws:lambda:region:account:function:NAME:VERSION
            self.function_name = published_version_arn.split(":")[6]
            return

        # The function only ever runs on the DeepLens (as the Greengrass group role), so its cloud
        # execution role has no permissions at all.
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Cloud execution role of the DeepLens inference function; it runs only on the device",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_7,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(stage_bundle())),
            role=role,
            log_group=logs.LogGroup(self, "Logs", retention=log_retention),
            memory_size=MEMORY_MB,
            timeout=Duration.seconds(10),
            description="Trash sorter DeepLens inference (Greengrass V1, pinned); deploy with the group",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "A DeepLens runs only Python 2.7 or 3.7 Greengrass V1 functions: python3.7 is the newest usable runtime.",
        )
        acknowledge_check(
            self.function,
            "CKV_AWS_363",
            "A DeepLens runs only Python 2.7 or 3.7 Greengrass V1 functions: python3.7 is the newest runtime this "
            "legacy target accepts (README, edge targets).",
        )
        acknowledge_check(
            self.function,
            "CKV_AWS_116",
            "Never invoked in the cloud: the function runs pinned and long-lived on the DeepLens under Greengrass "
            "V1, where a dead-letter queue has nothing to catch.",
        )
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        # cfn-lint knows Lambda refuses new python3.7 functions; that is this target's documented
        # limit (deeplensFunctionVersionArn is the deployable path), so those rules are waived here only.
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E2531", "W2531", "E2533"]}})
        for rule in ("E2531", "W2531", "E2533"):
            acknowledge(
                self.function,
                f"CloudFormation-Validate::{rule}",
                "Lambda refuses to create or update python3.7 functions; this legacy target documents it, and "
                "deeplensFunctionVersionArn points the group at a version published while it was allowed.",
            )
        # CDK adds DependsOn the role, which the GetAtt of its ARN already implies (cfn-lint W3005).
        cfn_function.add_deletion_override("DependsOn")
        self.alias = lambda_.Alias(self, "Alias", alias_name=ALIAS_NAME, version=self.function.current_version)
        self.function_arn = self.alias.function_arn
        self.function_name = self.function.function_name
