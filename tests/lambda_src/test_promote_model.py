"""The model promotion Lambda against botocore's Stubber (calls checked against the real service models)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lambda_src.promote_model import index
from sorter_common.greengrass_components import APPLICATION_COMPONENT, MODEL_COMPONENT

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "deeplens-trash-sorter-123456789012-us-east-1"
GROUP_ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/trash-sorter-cameras"
COMPONENT_ARN = f"arn:aws:greengrass:{REGION}:{ACCOUNT}:components:{MODEL_COMPONENT}"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/trash-sorter-models/7"
MODEL_URI = f"s3://{BUCKET}/models/pipelines-abc-Train/output/model.tar.gz"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "BUCKET_NAME": BUCKET,
        "MODEL_COMPONENT_ARN": COMPONENT_ARN,
        "APPLICATION_VERSION": "1.0.4242",
        "THING_GROUP_ARN": GROUP_ARN,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)


class Clients:
    def __init__(self) -> None:
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.greengrass = boto3.client("greengrassv2", region_name=REGION)
        self.sm = Stubber(self.sagemaker)
        self.gg = Stubber(self.greengrass)

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.sm, self.gg:
            result = index.handler(event, None, sagemaker=self.sagemaker, greengrass=self.greengrass)
            self.sm.assert_no_pending_responses()
            self.gg.assert_no_pending_responses()
        return result

    def package(self, status: str = "Approved", group: str = "trash-sorter-models") -> None:
        self.sm.add_response(
            "describe_model_package",
            {
                "ModelPackageName": "trash-sorter-models",
                "ModelPackageGroupName": group,
                "ModelPackageVersion": 7,
                "ModelPackageArn": PACKAGE_ARN,
                "CreationTime": "2026-11-01T00:00:00Z",
                "ModelPackageStatus": "Completed",
                "ModelApprovalStatus": status,
                "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
                "InferenceSpecification": {
                    "Containers": [
                        {"Image": "123.dkr.ecr.us-east-1.amazonaws.com/mxnet:1.9", "ModelDataUrl": MODEL_URI}
                    ],
                    "SupportedContentTypes": ["application/x-image"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
            },
            {"ModelPackageName": PACKAGE_ARN},
        )


@pytest.fixture
def clients() -> Iterator[Clients]:
    yield Clients()


def event(status: str = "Approved") -> dict[str, Any]:
    return {
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "detail": {
            "ModelPackageArn": PACKAGE_ARN,
            "ModelPackageGroupName": "trash-sorter-models",
            "ModelApprovalStatus": status,
        },
    }


def current_deployment(model_version: str | None) -> dict[str, Any]:
    components = {APPLICATION_COMPONENT: {"componentVersion": "1.0.4242"}}
    if model_version:
        components[MODEL_COMPONENT] = {"componentVersion": model_version}
    return {
        "targetArn": GROUP_ARN,
        "deploymentId": "d-1",
        "deploymentName": "trash-sorter-cameras",
        "components": components,
        "deploymentPolicies": {
            "failureHandlingPolicy": "ROLLBACK",
            "componentUpdatePolicy": {"timeoutInSeconds": 60, "action": "NOTIFY_COMPONENTS"},
        },
    }


def described(state: str, **status: Any) -> dict[str, Any]:
    return {
        "arn": f"{COMPONENT_ARN}:versions:1.0.7",
        "componentName": MODEL_COMPONENT,
        "componentVersion": "1.0.7",
        "status": {"componentState": state, **status},
    }


def created(state: str) -> dict[str, Any]:
    return {
        "arn": f"{COMPONENT_ARN}:versions:1.0.7",
        "componentName": MODEL_COMPONENT,
        "componentVersion": "1.0.7",
        "creationTimestamp": "2026-11-01T00:00:00Z",
        "status": {"componentState": state},
    }


def test_an_approval_creates_the_model_component_and_revises_the_deployment(clients: Clients) -> None:
    clients.package()
    version_arn = f"{COMPONENT_ARN}:versions:1.0.7"
    clients.gg.add_client_error("describe_component", "ResourceNotFoundException", expected_params={"arn": version_arn})
    recipe = {"RecipeFormatVersion": "2020-01-25", "ComponentName": MODEL_COMPONENT, "ComponentVersion": "1.0.7"}
    clients.gg.add_response(
        "create_component_version",
        {
            "arn": version_arn,
            "componentName": MODEL_COMPONENT,
            "componentVersion": "1.0.7",
            "creationTimestamp": "2026-11-01T00:00:00Z",
            "status": {"componentState": "DEPLOYABLE"},
        },
    )
    clients.gg.add_response(
        "list_deployments",
        {"deployments": [{"deploymentId": "d-1", "targetArn": GROUP_ARN}]},
        {"targetArn": GROUP_ARN, "historyFilter": "LATEST_ONLY"},
    )
    clients.gg.add_response("get_deployment", current_deployment(None), {"deploymentId": "d-1"})
    expected = current_deployment("1.0.7")
    clients.gg.add_response(
        "create_deployment",
        {"deploymentId": "d-2"},
        {
            "targetArn": GROUP_ARN,
            "deploymentName": "trash-sorter-cameras",
            "components": expected["components"],
            "deploymentPolicies": expected["deploymentPolicies"],
        },
    )
    # Capture the recipe the Lambda sends, to check it beyond what Stubber's parameter check covers.
    sent: dict[str, Any] = {}
    clients.greengrass.meta.events.register(
        "provide-client-params.greengrassv2.CreateComponentVersion",
        lambda params, **_: sent.update(json.loads(params["inlineRecipe"])),
    )
    result = clients.call(event())
    assert result == {"action": "promoted", "componentVersion": "1.0.7", "created": True, "deploymentRevised": True}
    assert {key: sent[key] for key in recipe} == recipe
    (artifact,) = sent["Manifests"][0]["Artifacts"]
    assert artifact["Uri"] == MODEL_URI
    # The application reads it from its dependency's artifacts folder: the recipe reference
    # says such an artifact needs Read ALL (OWNER is only the model component's own user).
    assert artifact["Permission"] == {"Read": "ALL"}


def test_the_same_event_twice_changes_nothing(clients: Clients) -> None:
    clients.package()
    clients.gg.add_response(
        "describe_component",
        described("DEPLOYABLE"),
    )
    clients.gg.add_response("list_deployments", {"deployments": [{"deploymentId": "d-2"}]})
    clients.gg.add_response("get_deployment", current_deployment("1.0.7"))
    # No create_component_version, no create_deployment: Stubber fails on any call not queued.
    result = clients.call(event())
    assert result["created"] is False and result["deploymentRevised"] is False


def test_the_first_approval_without_any_deployment_deploys_application_and_model(clients: Clients) -> None:
    clients.package()
    clients.gg.add_client_error("describe_component", "ResourceNotFoundException")
    clients.gg.add_response(
        "create_component_version",
        {
            "componentName": MODEL_COMPONENT,
            "componentVersion": "1.0.7",
            "creationTimestamp": "2026-11-01T00:00:00Z",
            "status": {"componentState": "DEPLOYABLE"},
        },
    )
    clients.gg.add_response("list_deployments", {"deployments": []})
    clients.gg.add_response(
        "create_deployment",
        {"deploymentId": "d-1"},
        {
            "targetArn": GROUP_ARN,
            "deploymentName": "trash-sorter-cameras",
            "components": current_deployment("1.0.7")["components"],
        },
    )
    assert clients.call(event())["deploymentRevised"] is True


@pytest.mark.parametrize(
    ("status", "group"),
    [
        ("Rejected", "trash-sorter-models"),
        ("PendingManualApproval", "trash-sorter-models"),
        ("Approved", "someone-elses-models"),
    ],
)
def test_a_package_that_is_not_approved_in_our_group_does_nothing(clients: Clients, status: str, group: str) -> None:
    clients.package(status, group)
    assert clients.call(event(status))["action"] == "ignored"


def test_a_model_outside_the_models_prefix_is_refused_for_the_dead_letter_queue(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUCKET_NAME", "deeplens-another-bucket")
    clients.package()
    with pytest.raises(index.PromotionError, match=r"not a model\.tar\.gz under"):
        clients.call(event())


def test_a_late_approval_of_an_older_package_does_not_roll_the_devices_back(clients: Clients) -> None:
    clients.package()  # package version 7 -> component 1.0.7
    clients.gg.add_response(
        "describe_component",
        described("DEPLOYABLE"),
    )
    clients.gg.add_response("list_deployments", {"deployments": [{"deploymentId": "d-9"}]})
    clients.gg.add_response("get_deployment", current_deployment("1.0.12"))  # 12 > 7 as numbers, not as text
    # No create_deployment queued: Stubber fails the test if the handler makes one.
    result = clients.call(event())
    assert result["deploymentRevised"] is False


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """time.sleep recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    return slept


def test_the_deployment_waits_until_greengrass_says_the_new_version_is_deployable(
    clients: Clients, no_waiting: list[float]
) -> None:
    clients.package()
    version_arn = f"{COMPONENT_ARN}:versions:1.0.7"
    clients.gg.add_client_error("describe_component", "ResourceNotFoundException", expected_params={"arn": version_arn})
    clients.gg.add_response("create_component_version", created("REQUESTED"))
    clients.gg.add_response("describe_component", described("INITIATED"), {"arn": version_arn})
    clients.gg.add_response("describe_component", described("DEPLOYABLE"), {"arn": version_arn})
    # Only now: Stubber answers calls in the order queued, so a deployment before DEPLOYABLE fails the test.
    clients.gg.add_response("list_deployments", {"deployments": []})
    clients.gg.add_response("create_deployment", {"deploymentId": "d-1"})
    assert clients.call(event())["deploymentRevised"] is True
    assert len(no_waiting) == 2


@pytest.mark.parametrize("existing", [False, True], ids=["just-created", "created-by-an-earlier-attempt"])
def test_a_failed_component_version_is_never_deployed_and_fails_visibly(
    clients: Clients, no_waiting: list[float], existing: bool
) -> None:
    clients.package()
    failure = {"message": "artifact digest", "errors": {"s3://x/model.tar.gz": "Access Denied"}}
    if existing:
        clients.gg.add_response("describe_component", described("FAILED", **failure))
    else:
        clients.gg.add_client_error("describe_component", "ResourceNotFoundException")
        clients.gg.add_response("create_component_version", created("INITIATED"))
        clients.gg.add_response("describe_component", described("FAILED", **failure))
    # No list_deployments / create_deployment queued: the handler must stop before them.
    expected = r"1\.0\.7 is FAILED: artifact digest; Access Denied.*delete-component"
    with pytest.raises(index.PromotionError, match=expected):
        clients.call(event())


def test_a_version_still_pending_at_the_deadline_is_not_deployed(
    clients: Clients, no_waiting: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "DEPLOYABLE_TIMEOUT_S", 0.0)
    clients.package()
    clients.gg.add_client_error("describe_component", "ResourceNotFoundException")
    clients.gg.add_response("create_component_version", created("INITIATED"))
    with pytest.raises(index.PromotionError, match="still INITIATED after 0 s, not DEPLOYABLE"):
        clients.call(event())
