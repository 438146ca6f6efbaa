"""TrashSorterData: the stateful deeplens- bucket. Retained and termination-protected."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sorter_common.bucket_layout import BUCKET_PREFIX, PREFIXES
from stacks.config import DataConfig
from stacks.constructs.data_bucket import DataBucket


def data_bucket_name(data: DataConfig) -> str:
    """The bucket's name, the same expression in every stack. Other stacks refer to the bucket by
    this name (plus a stack dependency) rather than a cross-stack export, which would pin the
    bucket's stack against every change that touches the export."""
    # Unique per account and region, resolved by CloudFormation, so one synth fits any account.
    return data.bucket_name or Fn.join("-", [BUCKET_PREFIX + "trash-sorter", Aws.ACCOUNT_ID, Aws.REGION])


class DataStack(Stack):
    """Owns the data bucket; other stacks use `data_bucket_name` and never create their own."""

    def __init__(self, scope: Construct, id_: str, *, config: DataConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, termination_protection=config.termination_protection, **kwargs)

        data = DataBucket(
            self,
            "Data",
            bucket_name=data_bucket_name(config),
            noncurrent_version_days=config.noncurrent_version_days,
            incomplete_upload_days=config.incomplete_upload_days,
            access_log_retention_days=config.access_log_retention_days,
        )
        self.bucket: s3.IBucket = data.bucket
        self.access_log_bucket: s3.IBucket = data.access_log_bucket

        CfnOutput(self, "BucketName", value=data.bucket.bucket_name, description="The deeplens- data bucket")
        CfnOutput(
            self,
            "BucketLayout",
            value="; ".join(f"{prefix}: {purpose}" for prefix, purpose in PREFIXES.items()),
            description="What each prefix of the data bucket holds",
        )
