"""A Python Lambda locked down the same way everywhere: its own role with only the given
statements (no managed policies), its own log group with a retention, the newest runtime, and
the shared contracts (`sorter_common`) bundled beside its code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.constructs.lambda_bundle import stage_function

LATEST_PYTHON = lambda_.Runtime.PYTHON_3_14
DEFAULT_TIMEOUT = Duration.seconds(30)


class PythonFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        source_dir: Path,
        description: str,
        statements: Sequence[iam.PolicyStatement],
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        timeout: Duration = DEFAULT_TIMEOUT,
        environment: Mapping[str, str] | None = None,
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, id_)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        logging = iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]
        )
        # Inline, so the permissions exist as soon as the role does.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
            inline_policies={"Function": iam.PolicyDocument(statements=[logging, *statements])},
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=LATEST_PYTHON,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(stage_function(source_dir))),
            role=self.role,
            log_group=self.log_group,
            timeout=timeout,
            memory_size=memory_size,
            environment=dict(environment or {}),
            description=description,
        )
        # CDK adds DependsOn the role, which the GetAtt of its ARN already implies (cfn-lint W3005).
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.add_deletion_override("DependsOn")
