"""Copies one CDK file asset to a fixed key of another bucket at deploy time: a single S3
CopyObject call whose role may read that one object and write that one key, nothing else."""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.checkov import CUSTOM_RESOURCE_HANDLER, acknowledge_check

# The construct id CDK gives the singleton function of AwsCustomResource (fixed in aws-cdk-lib).
AWS_CUSTOM_RESOURCE_HANDLER = "AWS679f53fac002430cb0da5b7982bd2287"


class ArtifactCopy(Construct):
    def __init__(self, scope: Construct, id_: str, *, source: s3_assets.Asset, bucket: s3.IBucket, key: str) -> None:
        super().__init__(scope, id_)
        # The key holds the content hash, so a new artifact is a new key and an update copies it;
        # deleting the stack keeps the object (devices may still run that version).
        copy = cr.AwsSdkCall(
            service="S3",
            action="copyObject",
            parameters={
                "CopySource": f"{source.s3_bucket_name}/{source.s3_object_key}",
                "Bucket": bucket.bucket_name,
                "Key": key,
            },
            physical_resource_id=cr.PhysicalResourceId.of(f"{bucket.bucket_name}/{key}"),
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.ONE_YEAR)
        # Our own role (CDK's default would carry the AWSLambdaBasicExecutionRole managed policy).
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies one Greengrass component artifact into the data bucket",
            inline_policies={
                "Copy": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["s3:GetObject"],
                            resources=[source.bucket.arn_for_objects(source.s3_object_key)],
                        ),
                        iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(key)]),
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[self.log_group.log_group_arn],
                        ),
                    ]
                )
            },
        )
        self.resource = cr.AwsCustomResource(
            self,
            "Copy",
            on_create=copy,
            on_update=copy,
            install_latest_aws_sdk=False,
            role=role,
            log_group=self.log_group,
        )
        # The stack's one CDK-provided function behind every AwsCustomResource: CDK adds DependsOn
        # its role, which the GetAtt of the role's ARN already implies (cfn-lint W3005).
        handler = Stack.of(self).node.find_child(AWS_CUSTOM_RESOURCE_HANDLER).node.default_child
        assert isinstance(handler, CfnResource)
        handler.add_deletion_override("DependsOn")
        acknowledge_check(handler, *CUSTOM_RESOURCE_HANDLER)
