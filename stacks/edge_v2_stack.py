"""TrashSorterEdgeV2 (the default `greengrass-v2` target): the inference and model components, the
thing group of sorter cameras and its deployment, the core devices' access, and model promotion.

No model yet: the application depends on the model component (">=0.1.0"), which a deployment
that does not list it resolves to the newest version in the account. Until the first approval
(or greengrassInitialModelKey) there is none, so the stack's deployment fails on the devices
(and rolls back); the promotion Lambda's first revision, which lists the model, succeeds. The
stack's deployment never pins a model, but a later stack update replaces the Lambda's revision
and the devices take the newest approved model again: a deliberate rollback to an older model is
kept only until the next `cdk deploy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from aws_cdk import aws_greengrassv2 as greengrass
from aws_cdk import aws_iot as iot
from aws_cdk import aws_s3 as s3
from constructs import Construct

from edge_core.settings import component_configuration
from sorter_common.greengrass_components import (
    APPLICATION_COMPONENT,
    DEPLOYMENT_NAME,
    INITIAL_MODEL_VERSION,
    OUTPUT_THING_GROUP,
    model_recipe,
)
from stacks.config import GreengrassConfig
from stacks.constructs import client_devices
from stacks.constructs.field_corrections import correction_upload_keys
from stacks.constructs.greengrass_core_access import GreengrassCoreAccess
from stacks.constructs.inference_component import InferenceComponent
from stacks.constructs.model_promotion import ModelPromotion

ROLE_ALIAS = "trash-sorter-greengrass-tes"
TES_ROLE_NAME_OUTPUT = "TokenExchangeRoleName"
CORE_POLICY = "trash-sorter-greengrass-core"
NUCLEUS_URL = "https://d2s8p88vqu9w66.cloudfront.net/releases/greengrass-nucleus-latest.zip"
DEVICE_NAME_PLACEHOLDER = "<device-name>"


class EdgeV2Stack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: GreengrassConfig,
        topic_prefix: str,
        classes: Sequence[str],
        bucket_name: str,
        pi_thing_name: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        bucket = s3.Bucket.from_bucket_name(self, "DataBucket", bucket_name)
        # What the cameras may write: nothing unless the owner switched capture or sampling on.
        upload_keys = correction_upload_keys(
            dataset=config.correction_dataset,
            classes=classes,
            capture=config.correction_capture,
            unsure=config.unsure_sample_per_hour > 0,
        )

        self.application = InferenceComponent(
            self,
            "Inference",
            bucket=bucket,
            topic_prefix=topic_prefix,
            # Every other setting at its declared default (edge_core.settings).
            configuration=component_configuration(
                {
                    "source": config.frame_source,
                    "topic_prefix": topic_prefix,
                    "local_path": config.local_path,
                    "correction_capture": config.correction_capture,
                    "unsure_sample_per_hour": config.unsure_sample_per_hour,
                    "correction_dataset": config.correction_dataset,
                    "bucket": bucket_name,
                }
            ),
            uploads=bool(upload_keys),
            local_path=config.local_path,
        )
        self.initial_model: greengrass.CfnComponentVersion | None = None
        if config.initial_model_key:
            uri = f"s3://{bucket.bucket_name}/{config.initial_model_key}"
            self.initial_model = greengrass.CfnComponentVersion(
                self,
                "InitialModel",
                inline_recipe=self.to_json_string(
                    model_recipe(INITIAL_MODEL_VERSION, uri, config.initial_model_key)
                ),
            )

        self.thing_group = iot.CfnThingGroup(
            self,
            "Cameras",
            thing_group_name=config.thing_group,
            thing_group_properties=iot.CfnThingGroup.ThingGroupPropertiesProperty(
                thing_group_description="Trash sorter cameras running the Greengrass V2 inference component"
            ),
        )
        thing_group_arn = self.format_arn(
            service="iot", resource="thinggroup", resource_name=config.thing_group
        )
        components = {
            APPLICATION_COMPONENT: greengrass.CfnDeployment.ComponentDeploymentSpecificationProperty(
                component_version=self.application.version
            )
        }
        if config.local_path:
            # The camera's own broker for the Pi, and the bridge that feeds it and AWS IoT Core.
            components.update(client_devices.deployment_components(
                pi_thing_name=pi_thing_name, topic_prefix=topic_prefix, trust_minutes=config.client_trust_minutes
            ))
        self.deployment = greengrass.CfnDeployment(
            self,
            "Deployment",
            target_arn=thing_group_arn,
            deployment_name=DEPLOYMENT_NAME,
            components=components,
            deployment_policies=greengrass.CfnDeployment.DeploymentPoliciesProperty(
                failure_handling_policy="ROLLBACK",
                component_update_policy=greengrass.CfnDeployment.DeploymentComponentUpdatePolicyProperty(
                    action="NOTIFY_COMPONENTS", timeout_in_seconds=60
                ),
            ),
        )
        self.deployment.add_resource_dependency(self.thing_group)
        self.deployment.add_resource_dependency(self.application.component)
        if self.initial_model is not None:
            self.deployment.add_resource_dependency(self.initial_model)

        self.access = GreengrassCoreAccess(
            self,
            "Cores",
            bucket=bucket,
            topic_prefix=topic_prefix,
            thing_name_prefix=config.thing_name_prefix,
            role_alias_name=ROLE_ALIAS,
            policy_name=CORE_POLICY,
            upload_keys=upload_keys,
            client_device=pi_thing_name if config.local_path else None,
        )
        self.promotion = ModelPromotion(
            self,
            "ModelPromotion",
            bucket=bucket,
            thing_group_arn=thing_group_arn,
            application_version=self.application.version,
        )
        self._outputs(config)

    def _outputs(self, config: GreengrassConfig) -> None:
        group = config.thing_group
        # The core policy allows exactly the thing names of this rule (see GreengrassCoreAccess).
        thing_name = f"{config.thing_name_prefix}{DEVICE_NAME_PLACEHOLDER}"
        install = Fn.join(
            "",
            [
                f"curl -fsS {NUCLEUS_URL} -o greengrass-nucleus.zip && unzip -oq greengrass-nucleus.zip -d "
                "GreengrassInstaller && sudo -E java -Droot=/greengrass/v2 -Dlog.store=FILE -jar "
                "./GreengrassInstaller/lib/Greengrass.jar --aws-region ",
                Aws.REGION,
                f" --thing-name {thing_name} --thing-group-name {group} --thing-policy-name {CORE_POLICY}"
                " --tes-role-name ",
                self.access.role.role_name,
                f" --tes-role-alias-name {ROLE_ALIAS} --component-default-user ggc_user:ggc_group"
                " --provision true --setup-system-service true",
            ],
        )
        CfnOutput(
            self,
            "InstallNucleusCommand",
            value=install,
            description="On the device (Java 11+, python3-venv; AWS credentials that may provision), with "
            f"{DEVICE_NAME_PLACEHOLDER} replaced (letters, digits, '_', '-'): installs the nucleus, registers the "
            f"device as a thing named {thing_name} (the core policy allows only that rule) and joins it to {group}",
        )
        CfnOutput(
            self,
            "JoinThingGroupCommand",
            value=Fn.join(
                "",
                [
                    f"aws iot add-thing-to-thing-group --thing-group-name {group} --thing-name {thing_name} --region ",
                    Aws.REGION,
                ],
            ),
            description="Joins a device that already runs Greengrass V2 to the sorter cameras (its thing name must "
            f"start with {config.thing_name_prefix} and its certificate carry {CORE_POLICY})",
        )
        CfnOutput(self, OUTPUT_THING_GROUP, value=group, description="Devices in it run the trash sorter")
        CfnOutput(self, TES_ROLE_NAME_OUTPUT, value=self.access.role.role_name, description="Token exchange role")
        CfnOutput(
            self,
            "ApplicationComponentVersion",
            value=self.application.version,
            description=f"{APPLICATION_COMPONENT} version this stack deploys",
        )
        CfnOutput(
            self,
            "PromotionDeadLetterQueue",
            value=self.promotion.dead_letters.queue_url,
            description="Model approvals that could not be promoted (replayable)",
        )
