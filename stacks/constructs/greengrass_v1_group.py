"""A Greengrass V1 group for a DeepLens: its own core, one pinned function, the resources it needs.

L1 resources only: CDK has no L2 for Greengrass V1. Each definition carries its initial version;
the group version ties the latest of each together and is what `create-deployment` deploys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_greengrass as greengrass
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from constructs import Construct

from stacks.nag import acknowledge, resource_finding

FUNCTION_ID = "trash-sorter-inference"
# Greengrass V1 sizes function memory in KB.
KB_PER_MB = 1024
# What the DeepLens inference function touches on the device, as Greengrass local resources:
# the Intel GPU (awscam/clDNN), the camera's output awscam.getLastFrame reads, and /tmp for the
# results.mjpeg project stream.
DEVICE_RESOURCES = (("gpu", "/dev/dri/renderD128"),)
VOLUME_RESOURCES = (
    ("camera-output", "/opt/awscam/out", "ro"),
    ("project-stream", "/tmp", "rw"),
)
# The model: a machine-learning resource the core downloads from S3 and extracts (model.tar.gz)
# into the folder mo.optimize reads, which also writes its optimized model there (so rw).
MODEL_RESOURCE_ID = "model"
MODEL_DESTINATION = "/opt/awscam/artifacts"


class GreengrassV1Group(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        group_name: str,
        core_thing_arn: str,
        core_thing_name: str,
        core_certificate_arn: str,
        function_arn: str,
        function_name: str,
        model_bucket_name: str,
        model_key: str,
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
                    self._model(MODEL_RESOURCE_ID, f"s3://{model_bucket_name}/{model_key}", MODEL_DESTINATION),
                ]
            ),
        )
        access = [
            ("gpu", "rw"),
            *((resource_id, mode) for resource_id, _, mode in VOLUME_RESOURCES),
            (MODEL_RESOURCE_ID, "rw"),
        ]
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

        # The group role is what the core's and the function's AWS calls run as: the core fetches
        # the model object (exactly that key) and ships the function's logs to the log group
        # Greengrass names after it; the function itself calls no AWS API.
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
            description="Greengrass V1 group role of the DeepLens trash sorter: its model object and function logs",
            inline_policies={
                "Model": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["s3:GetObject"],
                            resources=[
                                stack.format_arn(
                                    service="s3",
                                    region="",
                                    account="",
                                    resource=model_bucket_name,
                                    resource_name=model_key,
                                )
                            ],
                        )
                    ]
                ),
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
        # The core's certificate may connect only as the core (Greengrass V1 opens its connections
        # with the thing name as client id, some with a "-<suffix>") and publish only on the
        # topics the group routes to the cloud.
        self.core_policy = iot.CfnPolicy(
            self,
            "CorePolicy",
            policy_name=f"{group_name}-core",
            policy_document={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "iot:Connect",
                        "Resource": [
                            stack.format_arn(service="iot", resource="client", resource_name=core_thing_name),
                            stack.format_arn(service="iot", resource="client", resource_name=f"{core_thing_name}-*"),
                        ],
                    },
                    {
                        "Effect": "Allow",
                        "Action": "iot:Publish",
                        "Resource": [
                            stack.format_arn(service="iot", resource="topic", resource_name=topic)
                            for topic in publish_topics
                        ],
                    },
                ],
            },
        )
        iot.CfnPolicyPrincipalAttachment(
            self, "CorePolicyAttachment", policy_name=self.core_policy.ref, principal=core_certificate_arn
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
    def _model(
        resource_id: str, s3_uri: str, destination: str
    ) -> greengrass.CfnResourceDefinition.ResourceInstanceProperty:
        return greengrass.CfnResourceDefinition.ResourceInstanceProperty(
            id=resource_id,
            name=resource_id,
            resource_data_container=greengrass.CfnResourceDefinition.ResourceDataContainerProperty(
                s3_machine_learning_model_resource_data=greengrass.CfnResourceDefinition.S3MachineLearningModelResourceDataProperty(
                    s3_uri=s3_uri,
                    destination_path=destination,
                )
            ),
        )

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
