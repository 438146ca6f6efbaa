"""The SageMaker pipeline's execution role, which its processing and training jobs also use.

It may read and write only its prefixes of the data bucket, read its two code assets, use its
model package group, pull the MXNet images, and write its logs and metrics; no wildcard action.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from sorter_common.bucket_layout import (
    CHECKPOINTS_PREFIX,
    DATASETS_PREFIX,
    EVALUATION_PREFIX,
    MODELS_PREFIX,
    PREPARED_PREFIX,
    PRETRAINED_PREFIX,
)
from stacks.nag import acknowledge, resource_finding

READ_PREFIXES = (
    DATASETS_PREFIX,
    PREPARED_PREFIX,
    MODELS_PREFIX,
    EVALUATION_PREFIX,
    CHECKPOINTS_PREFIX,
    PRETRAINED_PREFIX,
)
WRITE_PREFIXES = (PREPARED_PREFIX, MODELS_PREFIX, EVALUATION_PREFIX, CHECKPOINTS_PREFIX)
# Jobs a SageMaker pipeline starts are named pipelines-<execution>-<step>-<suffix>.
PIPELINE_JOB_NAME = "pipelines-*"


class PipelineRole(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        code_assets: Sequence[s3_assets.Asset],
        model_package_group_name: str,
        image_repository_arns: Sequence[str],
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Runs the trash sorter training pipeline and its processing and training jobs",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(prefix + "*") for prefix in READ_PREFIXES],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[bucket.arn_for_objects(prefix + "*") for prefix in WRITE_PREFIXES],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [prefix + "*" for prefix in READ_PREFIXES]}},
            )
        )
        for asset in code_assets:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject"], resources=[asset.bucket.arn_for_objects(asset.s3_object_key)]
                )
            )
            # Processing inputs are S3 prefixes, which SageMaker lists first.
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[asset.bucket.bucket_arn],
                    conditions={"StringEquals": {"s3:prefix": [asset.s3_object_key]}},
                )
            )

        jobs = [
            stack.format_arn(service="sagemaker", resource=kind, resource_name=PIPELINE_JOB_NAME)
            for kind in ("processing-job", "training-job")
        ]
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=jobs,
            )
        )
        group_arn = stack.format_arn(
            service="sagemaker", resource="model-package-group", resource_name=model_package_group_name
        )
        packages = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{model_package_group_name}/*"
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:AddTags"],
                resources=[group_arn, packages],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackageGroup"],
                resources=[group_arn],
            )
        )
        # The pipeline hands this same role to the jobs it starts.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=list(image_repository_arns),
            )
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        log_groups = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[log_groups],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}},
            )
        )

        policy = self.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "The pipeline writes and reads objects under its own prefixes of the data bucket "
            "(datasets/, prepared/, models/, evaluation/, checkpoints/); object keys are only known at run time.",
            findings=tuple(resource_finding(self, bucket.arn_for_objects(prefix + "*")) for prefix in READ_PREFIXES),
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "SageMaker names the jobs a pipeline starts pipelines-<execution id>-..., known only at run time.",
            findings=tuple(resource_finding(self, job) for job in jobs),
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "Every model version is a new model package in this one group; their ARNs end in a version number.",
            findings=(resource_finding(self, packages),),
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level permissions; "
            "PutMetricData is limited to SageMaker's namespaces by a condition.",
            findings=("Resource::*",),
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "SageMaker jobs create their own log groups and streams under /aws/sagemaker/ with run-time names.",
            findings=(resource_finding(self, log_groups),),
        )
