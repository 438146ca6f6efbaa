"""The Pi's AWS IoT identity: its thing, its certificate and an IoT policy that lets it listen, publish
the joystick's corrections and find the cameras' local brokers (Greengrass discovery), nothing else."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iot as iot
from aws_cdk import aws_logs as logs
from constructs import Construct

from sorter_common.topics import (
    all_predictions_filter,
    all_status_filter,
    corrections_topic,
    predictions_topic,
    status_topic,
)
from stacks.constructs.pi_certificate import PiCertificate


def pi_policy_document(stack: Stack, *, thing_name: str, topic_prefix: str) -> dict[str, Any]:
    """Connect as itself only; subscribe to and receive every camera's predictions and status only;
    publish to a camera's corrections topic only (the joystick's "wrong bin?"); discover the camera
    cores it is associated with (the local path)."""

    def iot_arn(resource: str, name: str) -> str:
        return stack.format_arn(service="iot", resource=resource, resource_name=name)

    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": iot_arn("client", thing_name),
                # The certificate must also be attached to the thing of that name.
                "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            },
            {
                # In an IoT policy '+' in a topicfilter ARN is literal: exactly these filters.
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": [
                    iot_arn("topicfilter", all_predictions_filter(topic_prefix)),
                    iot_arn("topicfilter", all_status_filter(topic_prefix)),
                ],
            },
            {
                # Receive is checked per message topic: '*' stands for any camera's thing name.
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": [
                    iot_arn("topic", predictions_topic("*", topic_prefix)),
                    iot_arn("topic", status_topic("*", topic_prefix)),
                ],
            },
            {
                # The camera whose decision is corrected reads it there; '*' is any camera's name.
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": iot_arn("topic", corrections_topic("*", topic_prefix)),
            },
            {
                # The local path: Greengrass discovery of the camera cores it is associated with, for itself
                # only (the resource is the client device's own thing; policy variables are not supported
                # here: developer guide, "Greengrass discovery RESTful API").
                "Effect": "Allow",
                "Action": "greengrass:Discover",
                "Resource": iot_arn("thing", thing_name),
            },
        ],
    }


class PiIdentity(Construct):
    """The thing, the IoT policy, the certificate, and the certificate attached to both."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        thing_name: str,
        topic_prefix: str,
        secret_name: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)

        self.thing = iot.CfnThing(self, "Thing", thing_name=thing_name)
        self.policy = iot.CfnPolicy(
            self,
            "Policy",
            policy_document=pi_policy_document(Stack.of(self), thing_name=thing_name, topic_prefix=topic_prefix),
        )
        self.certificate = PiCertificate(
            self,
            "Certificate",
            thing_name=self.thing.ref,
            thing_arn=self.thing.attr_arn,
            policy_name=self.policy.ref,
            secret_name=secret_name,
            log_retention=log_retention,
        )
        # Made after the certificate and, being dependants, removed before it is deleted.
        iot.CfnThingPrincipalAttachment(
            self, "ThingAttachment", thing_name=self.thing.ref, principal=self.certificate.certificate_arn
        )
        iot.CfnPolicyPrincipalAttachment(
            self, "PolicyAttachment", policy_name=self.policy.ref, principal=self.certificate.certificate_arn
        )
        self.thing_name = thing_name
