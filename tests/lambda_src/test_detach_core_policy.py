"""The core policy detach custom resource against botocore's Stubber (the real IoT service model)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lambda_src.detach_core_policy import index
from sorter_common import cfn_response

POLICY = "trash-sorter-greengrass-core"
CERT = "arn:aws:iot:us-east-1:123456789012:cert/"


def event(request: str) -> dict[str, Any]:
    return {
        "RequestType": request,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/presigned",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/TrashSorterEdgeV2/guid",
        "RequestId": "request-1",
        "LogicalResourceId": "DetachOnDelete",
        "PhysicalResourceId": f"detach-on-delete-{POLICY}",
        "ResourceProperties": {"PolicyName": POLICY},
    }


@pytest.fixture
def iot(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    return boto3.client("iot", region_name="us-east-1")


def test_delete_detaches_every_certificate_the_installer_attached_page_by_page(
    iot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[bytes] = []
    monkeypatch.setattr(cfn_response, "send", lambda url, body: sent.append(body))
    stub = Stubber(iot)
    stub.add_response(
        "list_targets_for_policy", {"targets": [CERT + "a", CERT + "b"], "nextMarker": "m"}, {"policyName": POLICY}
    )
    stub.add_response("list_targets_for_policy", {"targets": [CERT + "c"]}, {"policyName": POLICY, "marker": "m"})
    for suffix in "abc":
        stub.add_response("detach_policy", {}, {"policyName": POLICY, "target": CERT + suffix})
    with stub:
        index.handler(event("Delete"), None, iot=iot)
        stub.assert_no_pending_responses()
    assert json.loads(sent[0])["Status"] == "SUCCESS"


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_touch_nothing(iot: Any, request_type: str) -> None:
    with Stubber(iot):  # any call would fail: nothing is queued
        assert index.handle(event(request_type), iot)["PhysicalResourceId"] == f"detach-on-delete-{POLICY}"


def test_a_policy_already_gone_is_fine_and_another_error_fails_the_delete(
    iot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = Stubber(iot)
    stub.add_client_error("list_targets_for_policy", "ResourceNotFoundException", http_status_code=404)
    with stub:
        index.handle(event("Delete"), iot)
    sent: list[bytes] = []
    monkeypatch.setattr(cfn_response, "send", lambda url, body: sent.append(body))
    stub.add_client_error("list_targets_for_policy", "AccessDeniedException", http_status_code=403)
    with stub:
        index.handler(event("Delete"), None, iot=iot)
    response = json.loads(sent[0])
    assert response["Status"] == "FAILED" and "AccessDenied" in response["Reason"]
