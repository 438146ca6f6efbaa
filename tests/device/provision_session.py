"""The boto3 session `device.provision` is handed in tests: moto for IoT and Secrets Manager, and a
CloudFormation client the test stubs (moto cannot deploy the CDK's template).

NO_EDGE_STACK is what CloudFormation answers when the greengrass-v2 stack is not deployed: then
provisioning writes the files and associates the Pi with no camera (the local path waits).
"""

from __future__ import annotations

from typing import Any

import boto3

REGION = "us-east-1"
EDGE_STACK = "TrashSorterEdgeV2"
NO_EDGE_STACK = f"Stack with id {EDGE_STACK} does not exist"


def expect_no_edge_stack(stubber: Any) -> None:
    """Queue CloudFormation's answer for the edge stack: it does not exist."""
    stubber.add_client_error("describe_stacks", "ValidationError", NO_EDGE_STACK,
                             expected_params={"StackName": EDGE_STACK})


class ProvisionSession:
    """boto3 clients as a Session hands them out; greengrassv2 is a client the test stubs (moto has no
    client-device associations), by default one that expects no call."""

    def __init__(self, cloudformation: Any, greengrassv2: Any = None) -> None:
        self.clients = {
            "cloudformation": cloudformation,
            "iot": boto3.client("iot", region_name=REGION),
            "secretsmanager": boto3.client("secretsmanager", region_name=REGION),
            "greengrassv2": greengrassv2 or boto3.client("greengrassv2", region_name=REGION),
        }

    def client(self, name: str) -> Any:
        return self.clients[name]
