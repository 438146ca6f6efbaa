"""Detaches an IoT policy from every target when the stack is deleted, so CloudFormation can delete
the policy: for a policy that something outside CloudFormation attaches (the Greengrass nucleus
installer attaches the core policy to each camera's certificate)."""

from __future__ import annotations

from aws_cdk import CustomResource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from constructs import Construct

from stacks.checkov import CUSTOM_RESOURCE_HANDLER, acknowledge_check
from stacks.constructs.python_function import PythonFunction
from stacks.nag import acknowledge, resource_finding
from stacks.training_pipeline.source_bundle import PROJECT_ROOT

HANDLER_DIR = PROJECT_ROOT / "lambda_src" / "detach_core_policy"
RESOURCE_TYPE = "Custom::DetachPolicyOnDelete"


class PolicyDetachOnDelete(Construct):
    def __init__(self, scope: Construct, id_: str, *, policy: iot.CfnPolicy) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        policy_arn = stack.format_arn(service="iot", resource="policy", resource_name=policy.ref)
        certificates = stack.format_arn(service="iot", resource="cert", resource_name="*")
        handler = PythonFunction(
            self,
            "Handler",
            source_dir=HANDLER_DIR,
            description="Custom resource: detaches the Greengrass core policy from every target on stack deletion",
            statements=[
                iam.PolicyStatement(actions=["iot:ListTargetsForPolicy"], resources=[policy_arn]),
                iam.PolicyStatement(actions=["iot:DetachPolicy"], resources=[policy_arn, certificates]),
            ],
        )
        acknowledge(
            handler.role,
            "AwsSolutions-IAM5",
            "The cameras' certificates are made by the nucleus installer on each device, outside this stack, so "
            "DetachPolicy can only name cert/* in this account and region; it runs only on stack deletion.",
            findings=(resource_finding(self, certificates),),
        )
        acknowledge_check(handler.function, *CUSTOM_RESOURCE_HANDLER)
        self.function = handler.function
        # References the policy, so CloudFormation deletes this (detaching) before the policy.
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=handler.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties={"PolicyName": policy.ref},
        )
