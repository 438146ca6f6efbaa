"""Approved model -> new model component version -> revised deployment, with failures kept and alarmed."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sorter_common.bucket_layout import MODELS_PREFIX
from sorter_common.greengrass_components import MODEL_COMPONENT
from sorter_common.training_pipeline import MODEL_PACKAGE_GROUP
from stacks.constructs.failure_queue import FailureQueue
from stacks.constructs.python_function import PythonFunction
from stacks.nag import acknowledge, resource_finding
from stacks.training_pipeline.source_bundle import PROJECT_ROOT

SOURCE_DIR = PROJECT_ROOT / "lambda_src" / "promote_model"


def _arn(service: str, resource: str) -> str:
    return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


class ModelPromotion(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        thing_group_arn: str,
        application_version: str,
    ) -> None:
        super().__init__(scope, id_)
        component_arn = _arn("greengrass", f"components:{MODEL_COMPONENT}")
        models = bucket.arn_for_objects(f"{MODELS_PREFIX}*")
        wildcards = [
            _arn("sagemaker", f"model-package/{MODEL_PACKAGE_GROUP}/*"),
            f"{component_arn}:versions:*",
            _arn("greengrass", "deployments:*"),
            _arn("iot", "job/*"),
            _arn("iot", "thing/*"),
            models,
        ]
        statements = [
            iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[wildcards[0]]),
            iam.PolicyStatement(
                actions=["greengrass:DescribeComponent", "greengrass:CreateComponentVersion"],
                resources=[component_arn, wildcards[1]],
            ),
            # Greengrass reads the artifact with the caller's permissions to record its digest.
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[models]),
            iam.PolicyStatement(actions=["greengrass:GetDeployment"], resources=[wildcards[2]]),
            # CreateDeployment (the deployment's ARN does not exist before the call) and
            # ListDeployments support no resource-level permission.
            iam.PolicyStatement(actions=["greengrass:CreateDeployment", "greengrass:ListDeployments"], resources=["*"]),
            # CreateDeployment runs an IoT job on the group's things and tracks it in their shadows.
            iam.PolicyStatement(
                actions=["iot:CreateJob", "iot:DescribeJob", "iot:UpdateJob", "iot:CancelJob"],
                resources=[wildcards[3], thing_group_arn],
            ),
            iam.PolicyStatement(actions=["iot:DescribeThingGroup"], resources=[thing_group_arn]),
            iam.PolicyStatement(
                actions=["iot:DescribeThing", "iot:GetThingShadow", "iot:UpdateThingShadow", "iot:DeleteThingShadow"],
                resources=[wildcards[4]],
            ),
        ]
        self.function = PythonFunction(
            self,
            "Promote",
            source_dir=SOURCE_DIR,
            description="Promotes an approved model package to the Greengrass V2 devices",
            statements=statements,
            timeout=Duration.seconds(300),  # waits up to DEPLOYABLE_TIMEOUT_S for a new version
            environment={
                "BUCKET_NAME": bucket.bucket_name,
                "MODEL_COMPONENT_ARN": component_arn,
                "APPLICATION_VERSION": application_version,
                "THING_GROUP_ARN": thing_group_arn,
            },
        )
        acknowledge(
            self.function.role,
            "AwsSolutions-IAM5",
            "Model package versions, component versions, deployments and jobs get new names with every "
            "promotion; those wildcards are scoped to our group, component, account and region. thing/* (shadows, "
            "DescribeThing) and '*' (CreateDeployment, ListDeployments: no resource-level permission) are what "
            "CreateDeployment's documented dependent actions need for a thing group's devices.",
            findings=tuple(resource_finding(self, arn) for arn in [*wildcards, "*"]),
        )
        failures = FailureQueue(
            self,
            "Failures",
            function=self.function.function,
            holds="the model promotion",
            alarm_description="A model approval did not reach the devices: see the promotion dead-letter queue",
        )
        self.dead_letters, self.alarm = failures.queue, failures.alarm
        self.rule = events.Rule(
            self,
            "Approved",
            description="A model package in the trash sorter's group was approved",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [MODEL_PACKAGE_GROUP], "ModelApprovalStatus": ["Approved"]},
            ),
            targets=[failures.target()],
        )
