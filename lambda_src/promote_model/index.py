"""Promotes an approved model to the Greengrass V2 devices (EventBridge: SageMaker Model Package State Change).

Approved, in our group -> a model component version pointing at the package's model.tar.gz ->
the thing group's deployment revised with it. Idempotent: an existing component version is
reused and a deployment that already has it is left alone, so a repeated event changes nothing.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sorter_common.bucket_layout import MODELS_PREFIX
from sorter_common.greengrass_components import (
    APPLICATION_COMPONENT,
    DEPLOYMENT_NAME,
    MODEL_COMPONENT,
    model_recipe,
    promoted_version,
    recipe_json,
    version_key,
)
from sorter_common.training_pipeline import MODEL_PACKAGE_GROUP

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
# Greengrass computes an artifact's digest after CreateComponentVersion returns; a version can be
# deployed once its state is DEPLOYABLE (greengrassv2 DescribeComponent, status.componentState).
DEPLOYABLE = "DEPLOYABLE"
NOT_DEPLOYABLE = ("FAILED", "DEPRECATED")
POLL_INTERVAL_S = 2.0
# Well inside the function's timeout; a version still pending then is left for the retry.
DEPLOYABLE_TIMEOUT_S = 200.0


class PromotionError(RuntimeError):
    """The event cannot be acted on; raised so the event goes to the dead-letter queue."""


def _env(name: str) -> str:
    """What the stack knows only at deploy time (bucket, ARNs, the application's version)."""
    return os.environ[name]


def handler(event: dict[str, Any], context: Any, sagemaker: Any = None, greengrass: Any = None) -> dict[str, Any]:
    sagemaker = sagemaker or boto3.client("sagemaker")
    greengrass = greengrass or boto3.client("greengrassv2")
    detail = event.get("detail") or {}
    arn = detail.get("ModelPackageArn")
    if not arn:
        raise PromotionError(f"the event has no detail.ModelPackageArn: {event!r}")
    # The event may be old by the time it is retried: the package's current state decides.
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    if package.get("ModelPackageGroupName") != MODEL_PACKAGE_GROUP:
        return {"action": "ignored", "reason": "another model package group"}
    if package.get("ModelApprovalStatus") != "Approved":
        return {"action": "ignored", "reason": f"status {package.get('ModelApprovalStatus')}"}
    model_uri = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    allowed = f"s3://{_env('BUCKET_NAME')}/{MODELS_PREFIX}"
    if not model_uri.startswith(allowed) or not model_uri.endswith("/model.tar.gz"):
        raise PromotionError(f"{arn}: model {model_uri} is not a model.tar.gz under {allowed}")
    version = promoted_version(package["ModelPackageVersion"])
    created, state = _ensure_component(greengrass, version, model_uri, arn)
    _wait_deployable(greengrass, version, state)
    revised = _revise_deployment(greengrass, version)
    LOG.info("model package %s -> %s %s (created=%s, revised=%s)", arn, MODEL_COMPONENT, version, created, revised)
    return {"action": "promoted", "componentVersion": version, "created": created, "deploymentRevised": revised}


def _version_arn(version: str) -> str:
    return f"{_env('MODEL_COMPONENT_ARN')}:versions:{version}"


def _ensure_component(greengrass: Any, version: str, model_uri: str, package_arn: str) -> tuple[bool, Any]:
    """(created, status) of the model component version, made if it does not exist yet."""
    try:
        return False, greengrass.describe_component(arn=_version_arn(version)).get("status")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    recipe = recipe_json(model_recipe(version, model_uri, "model package " + "/".join(package_arn.rsplit("/", 2)[-2:])))
    try:
        created = greengrass.create_component_version(inlineRecipe=recipe.encode("utf-8"))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConflictException":  # created meanwhile by a concurrent retry
            raise
        return False, None
    return True, created.get("status")


def _wait_deployable(greengrass: Any, version: str, status: Any) -> None:
    """Returns once the version is DEPLOYABLE; PromotionError (to the dead-letter queue) when it failed
    or is still pending after DEPLOYABLE_TIMEOUT_S."""
    deadline = time.monotonic() + DEPLOYABLE_TIMEOUT_S
    while True:
        state = (status or {}).get("componentState")
        if state == DEPLOYABLE:
            return
        if state in NOT_DEPLOYABLE:
            details = "; ".join(
                filter(None, [(status or {}).get("message"), *((status or {}).get("errors") or {}).values()])
            )
            raise PromotionError(
                f"{MODEL_COMPONENT} {version} is {state}: {details or 'no reason given'}. Fix the cause, delete that "
                f"version (aws greengrassv2 delete-component --arn {_version_arn(version)}) and replay the event"
            )
        if time.monotonic() >= deadline:
            raise PromotionError(
                f"{MODEL_COMPONENT} {version} is still {state or 'unknown'} after {DEPLOYABLE_TIMEOUT_S:.0f} s, "
                "not DEPLOYABLE; the deployment was not revised (replay the event later)"
            )
        time.sleep(POLL_INTERVAL_S)
        status = greengrass.describe_component(arn=_version_arn(version)).get("status")


def _revise_deployment(greengrass: Any, version: str) -> bool:
    target = _env("THING_GROUP_ARN")
    listed = greengrass.list_deployments(targetArn=target, historyFilter="LATEST_ONLY").get("deployments", [])
    if listed:
        current = greengrass.get_deployment(deploymentId=listed[0]["deploymentId"])
        components = dict(current.get("components") or {})
        deployed = components.get(MODEL_COMPONENT, {}).get("componentVersion")
        if deployed == version:
            return False
        # A late or retried approval of an older package must not roll the devices back.
        if deployed and version_key(deployed) > version_key(version):
            LOG.info("%s %s is deployed, newer than %s: left as it is", MODEL_COMPONENT, deployed, version)
            return False
        extra = {key: current[key] for key in ("deploymentPolicies", "iotJobConfiguration") if current.get(key)}
        name = current.get("deploymentName") or DEPLOYMENT_NAME
    else:
        # No deployment yet (the stack made none): the application at the stack's version.
        components = {APPLICATION_COMPONENT: {"componentVersion": _env("APPLICATION_VERSION")}}
        extra, name = {}, DEPLOYMENT_NAME
    components[MODEL_COMPONENT] = {"componentVersion": version}
    greengrass.create_deployment(targetArn=target, deploymentName=name, components=components, **extra)
    return True
