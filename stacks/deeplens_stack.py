"""TrashSorterDeepLens (legacy `deeplens` target): the inference Lambda and its Greengrass V1 group."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct

from edge_core.settings import deeplens_environment
from sorter_common.topics import predictions_topic, status_topic
from stacks.config import DeepLensConfig, thing_name_of
from stacks.constructs.deeplens_function import MEMORY_MB, DeepLensFunction
from stacks.constructs.greengrass_v1_group import GreengrassV1Group

GROUP_NAME = "trash-sorter-deeplens"
LOG_RETENTION = logs.RetentionDays.ONE_YEAR
OUTPUT_GROUP_ID = "GroupId"
OUTPUT_GROUP_VERSION_ID = "GroupVersionId"
OUTPUT_DEPLOY_COMMAND = "DeployCommand"


class DeepLensStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: DeepLensConfig,
        topic_prefix: str,
        bucket_name: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        # load_config guarantees these when the deeplens target is on.
        assert config.core_thing_arn and config.core_certificate_arn and config.model_key
        thing_name = thing_name_of(config.core_thing_arn)

        self.function = DeepLensFunction(
            self,
            "Inference",
            published_version_arn=config.function_version_arn,
            log_retention=LOG_RETENTION,
        )
        topics = [predictions_topic(thing_name, topic_prefix), status_topic(thing_name, topic_prefix)]
        self.group = GreengrassV1Group(
            self,
            "Group",
            group_name=GROUP_NAME,
            core_thing_arn=config.core_thing_arn,
            core_thing_name=thing_name,
            core_certificate_arn=config.core_certificate_arn,
            function_arn=self.function.function_arn,
            function_name=self.function.function_name,
            model_bucket_name=bucket_name,
            model_key=config.model_key,
            memory_mb=MEMORY_MB,
            environment={
                "THING_NAME": thing_name,
                # The tuning the Greengrass V2 recipe configures, at the same declared defaults.
                **deeplens_environment({"topic_prefix": topic_prefix}),
            },
            publish_topics=topics,
        )

        group_id = self.group.group.attr_id
        # The group version's Ref is its ARN: .../greengrass/groups/<group id>/versions/<version id>.
        version_id = Fn.select(5, Fn.split("/", self.group.version.ref))
        CfnOutput(self, OUTPUT_GROUP_ID, value=group_id, description="The Greengrass V1 group of the DeepLens")
        CfnOutput(self, OUTPUT_GROUP_VERSION_ID, value=version_id, description="The group version to deploy")
        CfnOutput(self, "FunctionArn", value=self.function.function_arn, description="The function the group runs")
        CfnOutput(
            self,
            OUTPUT_DEPLOY_COMMAND,
            value=Fn.join(
                "",
                [
                    "aws greengrass create-deployment --deployment-type NewDeployment --group-id ",
                    group_id,
                    " --group-version-id ",
                    version_id,
                    " --region ",
                    Aws.REGION,
                ],
            ),
            description="Deploys the group to the DeepLens (Greengrass V1 must still be reachable in your partition)",
        )
