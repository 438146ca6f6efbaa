"""A Greengrass V1 group for a DeepLens: its own core, one pinned function, the resources it needs.

L1 resources only: CDK has no L2 for Greengrass V1. Each definition carries its initial version;
the group version ties the latest of each together and is what `create-deployment` deploys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_greengrass as greengrass
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.nag import acknowledge, resource_finding

FUNCTION_ID = "trash-sorter-inference"
# Greengrass V1 sizes function memory in KB.
KB_PER_MB = 1024
# What the DeepLens inference function touches on the device, as Greengrass local resources:
# the Intel GPU (awscam/clDNN), the model folder mo.optimize reads and writes its optimized model
# to, the camera's output awscam.getLastFrame reads, and /tmp for the results.mjpeg project stream.
DEVICE_RESOURCES = (("gpu", "/dev/dri/renderD128"),)
VOLUME_RESOURCES = (
    ("artifacts", "/opt/awscam/artifacts", "rw"),
    ("camera-output", "/opt/awscam/out", "ro"),
    ("project-stream", "/tmp", "rw"),
)


class GreengrassV1Group(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        group_name: str,
        core_thing_arn: str,
        core_certificate_arn: str,
        function_arn: str,
        function_name: str,
        memory_mb: int,
        environment: Mapping[str, str],
        publish_topics: Sequence[str],
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)

        core = greengrass.CfnCoreDefinition(
            self,
            "Core",
            name=f"{group_name}-core",
            initial_version=greengrass.CfnCoreDefinition.CoreDefinitionVersionProperty(
                cores=[
                    greengrass.CfnCoreDefinition.CoreProperty(
                        id="deeplens-core",
                        thing_arn=core_thing_arn,
                        certificate_arn=core_certificate_arn,
                        sync_shadow=False,
                    )
                ]
            ),
        )
        resources = greengrass.CfnResourceDefinition(
            self,
            "Resources",
            name=f"{group_name}-resources",
            initial_version=greengrass.CfnResourceDefinition.ResourceDefinitionVersionProperty(
                resources=[
                    *(self._device(resource_id, path) for resource_id, path in DEVICE_RESOURCES),
                    *(self._volume(resource_id, path) for resource_id, path, _ in VOLUME_RESOURCES),
                ]
            ),
        )
        access = [("gpu", "rw")] + [(resource_id, mode) for resource_id, _, mode in VOLUME_RESOURCES]
        functions = greengrass.CfnFunctionDefinition(
            self,
            "Functions",
            name=f"{group_name}-functions",
            initial_version=greengrass.CfnFunctionDefinition.FunctionDefinitionVersionProperty(
                functions=[
                    greengrass.CfnFunctionDefinition.FunctionProperty(
                        id=FUNCTION_ID,
                        function_arn=function_arn,
                        function_configuration=greengrass.CfnFunctionDefinition.FunctionConfigurationProperty(
                            # Pinned = long-lived: started with the core, kept running, one instance.
                            pinned=True,
                            memory_size=memory_mb * KB_PER_MB,
                            timeout=10,
                            encoding_type="json",
                            environment=greengrass.CfnFunctionDefinition.EnvironmentProperty(
                                variables=dict(environment),
                                access_sysfs=True,  # the GPU driver reads /sys
                                execution=greengrass.CfnFunctionDefinition.ExecutionProperty(
                                    isolation_mode="GreengrassContainer"
                                ),
                                resource_access_policies=[
                                    greengrass.CfnFunctionDefinition.ResourceAccessPolicyProperty(
                                        resource_id=resource_id, permission=mode
                                    )
                                    for resource_id, mode in access
                                ],
                            ),
                        ),
                    )
                ]
            ),
        )
        subscriptions = greengrass.CfnSubscriptionDefinition(
            self,
            "Subscriptions",
            name=f"{group_name}-subscriptions",
            initial_version=greengrass.CfnSubscriptionDefinition.SubscriptionDefinitionVersionProperty(
                subscriptions=[
                    greengrass.CfnSubscriptionDefinition.SubscriptionProperty(
                        id=f"to-cloud-{index}", source=function_arn, subject=topic, target="cloud"
                    )
                    for index, topic in enumerate(publish_topics)
                ]
            ),
        )
        loggers = greengrass.CfnLoggerDefinition(
            self,
            "Loggers",
            name=f"{group_name}-loggers",
            initial_version=greengrass.CfnLoggerDefinition.LoggerDefinitionVersionProperty(
                loggers=[
                    greengrass.CfnLoggerDefinition.LoggerProperty(
                        id="function-cloudwatch", component="Lambda", level="INFO", type="AWSCloudWatch"
                    ),
                    greengrass.CfnLoggerDefinition.LoggerProperty(
                        id="system-local", component="GreengrassSystem", level="WARN", type="FileSystem", space=25600
                    ),
                ]
            ),
        )

        # The group role is what the function's AWS calls run as; it makes none, so the role only
        # lets the core ship the function's logs to the log group Greengrass names after it.
        log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/greengrass/Lambda/{stack.region}/{stack.account}/{function_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role = iam.Role(
            self,
            "GroupRole",
            assumed_by=iam.ServicePrincipal("greengrass.amazonaws.com"),
            description="Greengrass V1 group role of the DeepLens trash sorter: its function's logs only",
            inline_policies={
                "FunctionLogs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[log_group_arn],
                        )
                    ]
                )
            },
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Greengrass names one log stream per core and date inside the function's own log group, "
            "so the stream part of the ARN can only be a wildcard.",
            findings=(resource_finding(self, log_group_arn),),
        )

        acknowledge(
            self,
            "CloudFormation-Validate::W3696",
            "Greengrass V1 is shut down; the legacy deeplens target is kept synthesized and linted on purpose, "
            "and the README says where it can still be deployed.",
        )
        self.group = greengrass.CfnGroup(self, "Group", name=group_name, role_arn=self.role.role_arn)
        self.version = greengrass.CfnGroupVersion(
            self,
            "Version",
            group_id=self.group.attr_id,
            core_definition_version_arn=core.attr_latest_version_arn,
            function_definition_version_arn=functions.attr_latest_version_arn,
            subscription_definition_version_arn=subscriptions.attr_latest_version_arn,
            resource_definition_version_arn=resources.attr_latest_version_arn,
            logger_definition_version_arn=loggers.attr_latest_version_arn,
        )
        for resource in (core, resources, functions, subscriptions, loggers, self.group, self.version):
            # The same waiver for the cfn-lint CLI gate, on each Greengrass V1 resource only.
            resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3696"]}})
        self.core_definition = core
        self.function_definition = functions
        self.subscription_definition = subscriptions
        self.resource_definition = resources
        self.logger_definition = loggers

    @staticmethod
    def _device(resource_id: str, path: str) -> greengrass.CfnResourceDefinition.ResourceInstanceProperty:
        return greengrass.CfnResourceDefinition.ResourceInstanceProperty(
            id=resource_id,
            name=resource_id,
            resource_data_container=greengrass.CfnResourceDefinition.ResourceDataContainerProperty(
                local_device_resource_data=greengrass.CfnResourceDefinition.LocalDeviceResourceDataProperty(
                    source_path=path,
                    group_owner_setting=greengrass.CfnResourceDefinition.GroupOwnerSettingProperty(
                        auto_add_group_owner=True
                    ),
                )
            ),
        )

    @staticmethod
    def _volume(resource_id: str, path: str) -> greengrass.CfnResourceDefinition.ResourceInstanceProperty:
        return greengrass.CfnResourceDefinition.ResourceInstanceProperty(
            id=resource_id,
            name=resource_id,
            resource_data_container=greengrass.CfnResourceDefinition.ResourceDataContainerProperty(
                local_volume_resource_data=greengrass.CfnResourceDefinition.LocalVolumeResourceDataProperty(
                    source_path=path,
                    destination_path=path,
                    group_owner_setting=greengrass.CfnResourceDefinition.GroupOwnerSettingProperty(
                        auto_add_group_owner=True
                    ),
                )
            ),
        )
