"""TrashSorterTraining: the SageMaker pipeline from images in the bucket to a registered model,
started when a dataset is complete (a datasets/<name>/_READY object) or on a schedule."""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Aws, CfnMapping, CfnOutput, Fn, Stack, Token
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from sorter_common.bucket_layout import DATASET_READY_MARKER, DATASETS_PREFIX
from sorter_common.training_pipeline import (
    DEFAULT_DATASET,
    MODEL_PACKAGE_GROUP,
    PIPELINE_NAME,
)
from stacks.config import TrainingConfig
from stacks.constructs.failure_queue import FailureQueue
from stacks.constructs.pipeline_role import PipelineRole
from stacks.constructs.python_function import PythonFunction
from stacks.training_pipeline.definition import PipelineSettings
from stacks.training_pipeline.definition_cache import GeneratedPipeline, load_or_generate
from stacks.training_pipeline.source_bundle import PROJECT_ROOT, build_bundle

ASSET_BUILD_DIR = PROJECT_ROOT / ".build" / "assets" / "training"
ENTRY_SCRIPT = PROJECT_ROOT / "training_job" / "pipeline_entry.py"
START_TRAINING_DIR = PROJECT_ROOT / "lambda_src" / "start_training"
IMAGE_KINDS = ("training", "processing", "inference")
_ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.[a-z0-9.-]+/(?P<repo>[^:]+):")
# Regions outside the commercial partition, by prefix (the mapping needs literal ARNs).
_PARTITIONS = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-isof-", "aws-iso-f"),
)


def partition_of(region: str) -> str:
    return next((partition for prefix, partition in _PARTITIONS if region.startswith(prefix)), "aws")


def repository_arn(image_uri: str, partition: str | None = None) -> str:
    match = _ECR_IMAGE.match(image_uri)
    if not match:
        raise ValueError(f"not an ECR image URI: {image_uri}")
    partition = partition or partition_of(match["region"])
    return f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"


class TrainingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: TrainingConfig,
        classes: tuple[str, ...],
        bucket_name: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        bucket = s3.Bucket.from_bucket_name(self, "DataBucket", bucket_name)
        # The SDK needs a region to build a definition; with none given, any region's definition
        # is the same but for the images, which come from a per-region mapping below.
        agnostic = Token.is_unresolved(self.region)
        settings = PipelineSettings(
            pipeline_name=PIPELINE_NAME,
            model_package_group=MODEL_PACKAGE_GROUP,
            region="us-east-1" if agnostic else self.region,
            classes=classes,
            training=config,
        )
        generated = load_or_generate(settings)
        images, repositories = self._images(generated, agnostic)

        source_bundle = s3_assets.Asset(self, "SourceBundle", path=str(build_bundle(ASSET_BUILD_DIR)))
        entry_script = s3_assets.Asset(self, "EntryScript", path=str(ENTRY_SCRIPT))
        self.role = PipelineRole(
            self,
            "PipelineRole",
            bucket=bucket,
            code_assets=[source_bundle, entry_script],
            model_package_group_name=MODEL_PACKAGE_GROUP,
            image_repository_arns=repositories,
        ).role

        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=MODEL_PACKAGE_GROUP,
            model_package_group_description="Trash sorter classifiers that passed the accuracy gate",
        )
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=PIPELINE_NAME,
            pipeline_display_name=PIPELINE_NAME,
            pipeline_description="Prepare, train (MXNet ResNet), evaluate, gate on accuracy, register",
            role_arn=self.role.role_arn,
            pipeline_definition={
                "PipelineDefinitionBody": Fn.sub(
                    generated.definition,
                    {
                        "PipelineRoleArn": self.role.role_arn,
                        "DataBucket": bucket.bucket_name,
                        "SourceBundleUri": source_bundle.s3_object_url,
                        "SourceBundleName": source_bundle.s3_object_key,
                        "EntryScriptUri": entry_script.s3_object_url,
                        "EntryScriptName": entry_script.s3_object_key,
                        "TrainingImage": images["training"],
                        "ProcessingImage": images["processing"],
                        "InferenceImage": images["inference"],
                    },
                )
            },
        )
        self.pipeline.node.add_dependency(self.model_package_group)
        self.pipeline_arn = self.format_arn(service="sagemaker", resource="pipeline", resource_name=PIPELINE_NAME)

        self.start_function = self._start_training(bucket, config.schedule)

        CfnOutput(self, "PipelineName", value=PIPELINE_NAME, description="The SageMaker training pipeline")
        CfnOutput(self, "ModelPackageGroupName", value=MODEL_PACKAGE_GROUP, description="Registered models")
        CfnOutput(
            self,
            "StartTrainingCommand",
            value=f"python -m training pipeline start --dataset {DEFAULT_DATASET} --wait",
            description="Start a training run by hand (or upload datasets/<name>/_READY)",
        )

    def _images(self, generated: GeneratedPipeline, agnostic: bool) -> tuple[dict[str, str], list[str]]:
        """Image URI per kind, and the ECR repositories the role may pull from."""
        if not agnostic:
            uris = generated.images_by_region[self.region]
            by_kind = {kind: getattr(uris, kind) for kind in IMAGE_KINDS}
            return by_kind, sorted({repository_arn(uri, self.partition) for uri in by_kind.values()})
        # Environment-agnostic: one mapping row per region, resolved by CloudFormation.
        mapping = CfnMapping(
            self,
            "ImageMap",
            mapping={
                region: {
                    **{kind: getattr(uris, kind) for kind in IMAGE_KINDS},
                    **{f"{kind}Repository": repository_arn(getattr(uris, kind)) for kind in IMAGE_KINDS},
                }
                for region, uris in generated.images_by_region.items()
            },
        )
        by_kind = {kind: mapping.find_in_map(Aws.REGION, kind) for kind in IMAGE_KINDS}
        return by_kind, [mapping.find_in_map(Aws.REGION, f"{kind}Repository") for kind in IMAGE_KINDS]

    def _start_training(self, bucket: s3.IBucket, schedule: str | None) -> PythonFunction:
        start = PythonFunction(
            self,
            "StartTraining",
            source_dir=START_TRAINING_DIR,
            description="Starts the training pipeline when datasets/<name>/_READY lands in the bucket",
            statements=[
                iam.PolicyStatement(actions=["sagemaker:StartPipelineExecution"], resources=[self.pipeline_arn])
            ],
        )
        failures = FailureQueue(
            self,
            "StartTrainingFailures",
            function=start.function,
            holds="starting the training pipeline",
            alarm_description="A complete dataset did not start the training pipeline: see its dead-letter queue",
        )
        events.Rule(
            self,
            "DatasetReady",
            description="A dataset upload is complete: datasets/<name>/_READY was written",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"wildcard": f"{DATASETS_PREFIX}*/{DATASET_READY_MARKER}"}]},
                },
            ),
            targets=[failures.target()],
        )
        if schedule:
            events.Rule(
                self,
                "TrainingSchedule",
                description=f"Retrains on datasets/{DEFAULT_DATASET}/ on the configured schedule",
                schedule=events.Schedule.expression(schedule),
                targets=[
                    # Each tick's own event id: the function derives its request token from it, so
                    # every tick starts a run (a constant input would be one idempotent start).
                    failures.target(
                        events.RuleTargetInput.from_object(
                            {"dataset": DEFAULT_DATASET, "id": events.EventField.event_id}
                        )
                    )
                ],
            )
        return start
