"""Promotes an approved model to the Greengrass V2 devices (EventBridge: SageMaker Model Package State Change).

Approved, in our group -> a model component version pointing at the package's model.tar.gz ->
the thing group's deployment revised with it. Idempotent: an existing component version is
reused and a deployment that already has it is left alone, so a repeated event changes nothing.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

try:  # in the Lambda the bundle's root is on sys.path; in tests this is a package
    from model_recipe import DEPLOYMENT_NAME, MODEL_COMPONENT, model_recipe, promoted_version, recipe_json, version_key
except ImportError:
    from .model_recipe import (
        DEPLOYMENT_NAME,
        MODEL_COMPONENT,
        model_recipe,
        promoted_version,
        recipe_json,
        version_key,
    )

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)


class PromotionError(RuntimeError):
    """The event cannot be acted on; raised so the event goes to the dead-letter queue."""


def _env(name: str) -> str:
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
    if package.get("ModelPackageGroupName") != _env("MODEL_PACKAGE_GROUP"):
        return {"action": "ignored", "reason": "another model package group"}
    if package.get("ModelApprovalStatus") != "Approved":
        return {"action": "ignored", "reason": f"status {package.get('ModelApprovalStatus')}"}
    model_uri = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    allowed = f"s3://{_env('BUCKET_NAME')}/{_env('MODELS_PREFIX')}"
    if not model_uri.startswith(allowed) or not model_uri.endswith("/model.tar.gz"):
        raise PromotionError(f"{arn}: model {model_uri} is not a model.tar.gz under {allowed}")
    version = promoted_version(package["ModelPackageVersion"])
    created = _ensure_component(greengrass, version, model_uri, arn)
    revised = _revise_deployment(greengrass, version)
    LOG.info("model package %s -> %s %s (created=%s, revised=%s)", arn, MODEL_COMPONENT, version, created, revised)
    return {"action": "promoted", "componentVersion": version, "created": created, "deploymentRevised": revised}


def _ensure_component(greengrass: Any, version: str, model_uri: str, package_arn: str) -> bool:
    component_arn = f"{_env('MODEL_COMPONENT_ARN')}:versions:{version}"
    try:
        greengrass.describe_component(arn=component_arn)
        return False
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    recipe = recipe_json(model_recipe(version, model_uri, "model package " + "/".join(package_arn.rsplit("/", 2)[-2:])))
    try:
        greengrass.create_component_version(inlineRecipe=recipe.encode("utf-8"))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConflictException":  # created meanwhile by a concurrent retry
            raise
        return False
    return True


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
        components = {_env("APPLICATION_COMPONENT"): {"componentVersion": _env("APPLICATION_VERSION")}}
        extra, name = {}, DEPLOYMENT_NAME
    components[MODEL_COMPONENT] = {"componentVersion": version}
    greengrass.create_deployment(targetArn=target, deploymentName=name, components=components, **extra)
    return True
