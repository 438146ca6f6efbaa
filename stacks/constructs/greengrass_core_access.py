"""What a Greengrass V2 core device may do: its IoT policy (the cameras' client ids and topics only)
and the token exchange role behind an IoT role alias (read the component artifacts, nothing else).

No thing policy variables: AWS IoT Greengrass does not support them for core devices
(developer guide, device-auth, "AWS IoT policies for Greengrass V2 core devices"). Its data-plane
calls are HTTPS requests, where `${iot:Connection.Thing.ThingName}` never resolves, and the
nucleus's extra MQTT connections use client ids other than the thing name. The policy is scoped by
a naming rule instead: every camera's thing name starts with `thing_name_prefix` (the install
command the stack outputs uses it). Within that fleet a camera could publish as another camera;
nothing outside it is reachable.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sorter_common.bucket_layout import EDGE_ARTIFACTS_PREFIX, MODELS_PREFIX
from sorter_common.topics import corrections_topic
from stacks.constructs.policy_detach import PolicyDetachOnDelete
from stacks.nag import acknowledge, resource_finding

ARTIFACT_PREFIXES = (EDGE_ARTIFACTS_PREFIX, MODELS_PREFIX)


class GreengrassCoreAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        topic_prefix: str,
        thing_name_prefix: str,
        role_alias_name: str,
        policy_name: str,
        upload_keys: Sequence[str] = (),
        client_device: str | None = None,
    ) -> None:
        """client_device: the thing name of the one client device the cores admit (the local path), or None."""
        super().__init__(scope, id_)
        reads = [bucket.arn_for_objects(f"{prefix}*") for prefix in ARTIFACT_PREFIXES]
        writes = [bucket.arn_for_objects(key) for key in upload_keys]
        self.role = iam.Role(
            self,
            "TokenExchangeRole",
            assumed_by=iam.ServicePrincipal("credentials.iot.amazonaws.com"),
            description="Greengrass V2 token exchange role: reads the trash sorter's component artifacts only",
            inline_policies={
                "Artifacts": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(actions=["s3:GetObject"], resources=reads),
                        iam.PolicyStatement(actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn]),
                    ]
                )
            },
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Component artifacts are versioned objects under the edge/ and models/ prefixes; the role reads "
            "those two prefixes of the data bucket and nothing else.",
            findings=tuple(resource_finding(self, arn) for arn in reads),
        )
        if writes:
            # Only with correction capture or unsure sampling on: each class folder's field-* names of
            # the correction dataset, and unlabelled/; never overwriting a photographed image's name.
            self.role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=writes))
            acknowledge(
                self.role,
                "AwsSolutions-IAM5",
                "A camera uploads frames people at the bin corrected under new, unique names: field-* in each "
                "class folder of the correction dataset, and sampled unsure frames under unlabelled/.",
                findings=tuple(resource_finding(self, arn) for arn in writes),
            )
        if client_device is not None:
            # Client device auth's daily refresh of what a camera trusts offline (the local path) lists the
            # client devices associated with the core: ListClientDevicesAssociatedWithCoreDevice. The
            # developer guide asks for it on "the IAM role used by the AWS IoT Greengrass service"
            # (client-device-auth-component.html, "Requirements") and links the offline-authentication page's
            # same sentence to "Authorize core devices to interact with AWS services" (device-service-role.html),
            # the token exchange role. The component's own source settles it: it calls the Greengrass control
            # plane signed with the token exchange service's credentials (aws-greengrass-client-device-auth,
            # IotAuthClient.getThingsAssociatedWithCoreDevice, credentialsProvider(LazyCredentialProvider)),
            # so it is this role that needs it, for the cameras' own core devices only; an IoT policy never
            # authorizes a SigV4 call, and the account's service role is not the caller.
            partition, region, account = Aws.PARTITION, Aws.REGION, Aws.ACCOUNT_ID
            core_devices = f"arn:{partition}:greengrass:{region}:{account}:coreDevices:{thing_name_prefix}*"
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["greengrass:ListClientDevicesAssociatedWithCoreDevice"], resources=[core_devices]
                )
            )
            acknowledge(
                self.role,
                "AwsSolutions-IAM5",
                "Client device auth on each camera lists the client devices associated with its own core device "
                "(offline authentication's daily refresh); the cameras' core devices are named by the thing name "
                "prefix, read-only.",
                findings=(resource_finding(self, core_devices),),
            )
        self.role_alias = iot.CfnRoleAlias(
            self, "RoleAlias", role_alias=role_alias_name, role_arn=self.role.role_arn, credential_duration_seconds=3600
        )
        self.policy = iot.CfnPolicy(
            self, "CorePolicy", policy_name=policy_name,
            policy_document=self._document(topic_prefix, thing_name_prefix, client_device),
        )
        # The installer attaches this policy to each camera's certificate, outside CloudFormation;
        # `cdk destroy` detaches it from them first (a policy with targets cannot be deleted).
        self.detach_on_delete = PolicyDetachOnDelete(self, "DetachOnDelete", policy=self.policy)

    def _document(self, topic_prefix: str, thing_name_prefix: str, client_device: str | None) -> iam.PolicyDocument:
        def arn(service: str, resource: str) -> str:
            return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"

        cameras = f"{thing_name_prefix}*"  # every thing name of the rule; client ids <thing>#2 too
        own_things = f"$aws/things/{cameras}"
        client_devices = []
        if client_device is not None:
            # The client-device components (developer guide, device-auth, "Minimal AWS IoT policy to support
            # client devices"): client device auth's CA and identity checks, for the Pi's thing only; the IP
            # detector's connectivity updates, for the cameras' own entries. Client device auth's shadow
            # topics ($aws/things/<core>-gci/shadow/...) are among the cameras' own things above.
            client_devices = [
                iam.PolicyStatement(
                    actions=["greengrass:PutCertificateAuthorities", "greengrass:VerifyClientDeviceIdentity"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    actions=["greengrass:VerifyClientDeviceIoTCertificateAssociation"],
                    resources=[arn("iot", f"thing/{client_device}")],
                ),
                iam.PolicyStatement(
                    actions=["greengrass:GetConnectivityInfo", "greengrass:UpdateConnectivityInfo"],
                    resources=[arn("greengrass", f"/greengrass/things/{cameras}/connectivityInfo")],
                ),
            ]
        return iam.PolicyDocument(
            statements=[
                # Client ids start with the core's thing name: the nucleus opens further MQTT
                # connections named <thing>#2, #3... (AWS's minimal core device policy does the same).
                iam.PolicyStatement(actions=["iot:Connect"], resources=[arn("iot", f"client/{cameras}")]),
                iam.PolicyStatement(
                    actions=["iot:Publish"],
                    resources=[
                        arn("iot", f"topic/{own_things}/*"),
                        arn("iot", f"topic/{topic_prefix}/{cameras}/predictions"),
                        arn("iot", f"topic/{topic_prefix}/{cameras}/status"),
                    ],
                ),
                # The corrections of the cameras' decisions, which the Pi publishes (sorter_common.correction).
                iam.PolicyStatement(
                    actions=["iot:Subscribe"],
                    resources=[
                        arn("iot", f"topicfilter/{own_things}/*"),
                        arn("iot", f"topicfilter/{corrections_topic(cameras, topic_prefix)}"),
                    ],
                ),
                iam.PolicyStatement(
                    actions=["iot:Receive"],
                    resources=[
                        arn("iot", f"topic/{own_things}/*"),
                        arn("iot", f"topic/{corrections_topic(cameras, topic_prefix)}"),
                    ],
                ),
                iam.PolicyStatement(
                    actions=["iot:AssumeRoleWithCertificate"], resources=[self.role_alias.attr_role_alias_arn]
                ),
                # The nucleus's own data-plane calls: its deployments, components and thing groups.
                iam.PolicyStatement(
                    actions=["greengrass:GetComponentVersionArtifact"],
                    # Any account's components: public ones (the nucleus, LogManager...) live in "aws".
                    resources=[f"arn:{Aws.PARTITION}:greengrass:{Aws.REGION}:*:components:*"],
                ),
                iam.PolicyStatement(
                    actions=["greengrass:ResolveComponentCandidates", "greengrass:GetDeploymentConfiguration"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    actions=["greengrass:ListThingGroupsForCoreDevice"],
                    resources=[arn("greengrass", f"coreDevices:{cameras}")],
                ),
                *client_devices,
            ]
        )
