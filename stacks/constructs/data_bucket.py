"""The deeplens- data bucket and the bucket that receives its server access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.checkov import acknowledge_check

ACCESS_LOG_PREFIX = "deeplens-bucket/"


class DataBucket(Construct):
    """A bucket for datasets and models that nothing in CDK can delete or expose."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket_name: str,
        noncurrent_version_days: int,
        incomplete_upload_days: int,
        access_log_retention_days: int,
    ) -> None:
        super().__init__(scope, id_)

        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            # Log delivery only writes to SSE-S3 buckets, never to SSE-KMS ones.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(access_log_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(incomplete_upload_days),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge_check(
            self.access_log_bucket,
            "CKV_AWS_18",
            "This is the access-log bucket itself: logging its own access would write logs about log delivery "
            "without end; the data bucket's access is logged here.",
        )

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            # Versioning keeps every dataset and model ever uploaded recoverable.
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix=ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteUploads",
                    abort_incomplete_multipart_upload_after=Duration.days(incomplete_upload_days),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Object events go to EventBridge so the training stack can start the pipeline when a
        # dataset is complete. Set on the resource itself: the L2 flag adds a custom-resource
        # Lambda to a stack that otherwise has no code.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
