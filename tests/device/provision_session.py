"""The boto3 session `device.provision` is handed in tests: moto for IoT and Secrets Manager, and a
CloudFormation client the test stubs (moto cannot deploy the CDK's template)."""

from __future__ import annotations

from typing import Any

import boto3

REGION = "us-east-1"


class ProvisionSession:
    """boto3 clients as a Session hands them out."""

    def __init__(self, cloudformation: Any) -> None:
        self.clients = {
            "cloudformation": cloudformation,
            "iot": boto3.client("iot", region_name=REGION),
            "secretsmanager": boto3.client("secretsmanager", region_name=REGION),
        }

    def client(self, name: str) -> Any:
        return self.clients[name]
