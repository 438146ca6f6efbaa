"""What Greengrass answers the promotion function when it makes a new model version, for botocore's
Stubber: one definition for both rehearsals.

As the Greengrass V2 API reference documents it: DescribeComponent on a version that does not exist
yet is ResourceNotFoundException; CreateComponentVersion answers before the artifact's digest is
computed, so the new version is REQUESTED until DescribeComponent reports it DEPLOYABLE; then the
thing group's latest deployment is listed (none here) and a deployment is created.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sorter_common.greengrass_components import MODEL_COMPONENT


def expect_new_model_version(stub: Any, version: str) -> None:
    """Queue on a greengrassv2 client's Stubber the answers to the promotion of a new `version`."""
    stub.add_client_error("describe_component", "ResourceNotFoundException", http_status_code=404)
    created = {"componentName": MODEL_COMPONENT, "componentVersion": version}
    stub.add_response(
        "create_component_version",
        {**created, "creationTimestamp": datetime.now(UTC), "status": {"componentState": "REQUESTED"}},
    )
    stub.add_response("describe_component", {**created, "status": {"componentState": "DEPLOYABLE"}})
    stub.add_response("list_deployments", {"deployments": []})
    stub.add_response("create_deployment", {"deploymentId": "rehearsal-deployment"})
