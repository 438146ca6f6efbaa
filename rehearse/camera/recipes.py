"""The recipes and artifacts exactly as AWS receives them.

- The application component: the InlineRecipe of the synthesized TrashSorterEdgeV2 template, and
  the archive its artifact URI names, which is the CDK file asset the stack copies to that key.
- The model component: the recipe the promotion function sends to CreateComponentVersion, taken
  from the function's own code driven through botocore's Stubber.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sorter_common.greengrass_components import APPLICATION_COMPONENT

EDGE_STACK = "TrashSorterEdgeV2"
ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "deeplens-rehearsal-bucket"
# CloudFormation's pseudo parameters as a deployment would resolve them; any other token in a
# recipe (only the data bucket's name, today) becomes the rehearsal's bucket name.
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


@dataclass(frozen=True)
class ShippedComponent:
    recipe: dict[str, Any]
    artifacts: dict[str, Path]  # file name in the component's artifacts folder -> the file AWS receives


def synthesize(outdir: Path, overrides: Mapping[str, Any] | None = None) -> Path:
    """The app as `cdk synth` builds it from cdk.json (plus overrides), written to outdir."""
    import aws_cdk as cdk

    from stacks.app_builder import build_stacks
    from stacks.config import load_config
    from tools.cdk_context import cdk_json_context

    app = cdk.App(context={**cdk_json_context(), **(overrides or {})}, outdir=str(outdir))
    build_stacks(app, load_config(app.node.get_all_context()))
    app.synth()
    return outdir


def _render(value: Any) -> str:
    """A template value as the string CloudFormation makes of it (pseudo parameters resolved)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    if isinstance(value, Mapping) and "Ref" in value and value["Ref"] in PSEUDO:
        return PSEUDO[value["Ref"]]
    return BUCKET


def application_component(outdir: Path) -> ShippedComponent:
    template = json.loads((outdir / f"{EDGE_STACK}.template.json").read_text())
    recipes = [
        json.loads(_render(resource["Properties"]["InlineRecipe"]))
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::GreengrassV2::ComponentVersion"
    ]
    (recipe,) = [recipe for recipe in recipes if recipe["ComponentName"] == APPLICATION_COMPONENT]
    # The artifact: the stack copies a CDK file asset to the key in the recipe's URI.
    copies = [
        _render(resource["Properties"]["Create"])
        for resource in template["Resources"].values()
        if resource["Type"] == "Custom::AWS"
    ]
    assets = json.loads((outdir / f"{EDGE_STACK}.assets.json").read_text())["files"]
    artifacts: dict[str, Path] = {}
    for manifest in recipe["Manifests"]:
        for artifact in manifest.get("Artifacts", []):
            key = artifact["Uri"].split("/", 3)[3]
            copy = next(text for text in copies if f'"Key":"{key}"' in text.replace('\\"', '"'))
            source_key = re.search(r'"CopySource":"[^/"]+/([^"]+)"', copy.replace('\\"', '"'))
            assert source_key is not None, copy
            (asset,) = [
                entry
                for entry in assets.values()
                if any(d["objectKey"] == source_key.group(1) for d in entry["destinations"].values())
            ]
            artifacts[key.rsplit("/", 1)[-1]] = outdir / asset["source"]["path"]
    return ShippedComponent(recipe=recipe, artifacts=artifacts)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def model_component(model: Path, package_version: int = 1) -> ShippedComponent:
    """The model recipe the promotion function creates for an approved package holding `model`."""
    # The Lambda module sets the root logger to INFO on import (for CloudWatch); restored below.
    root_level = logging.getLogger().level
    import boto3
    from botocore.stub import Stubber

    from lambda_src.promote_model import index
    from rehearse.greengrass_answers import expect_new_model_version
    from sorter_common.bucket_layout import MODELS_PREFIX
    from sorter_common.greengrass_components import MODEL_COMPONENT, promoted_version
    from sorter_common.training_pipeline import MODEL_PACKAGE_GROUP

    model_uri = f"s3://{BUCKET}/{MODELS_PREFIX}rehearsal/output/model.tar.gz"
    package_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{MODEL_PACKAGE_GROUP}/{package_version}"
    component_arn = f"arn:aws:greengrass:{REGION}:{ACCOUNT}:components:{MODEL_COMPONENT}"
    group_arn = f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/rehearsal"
    environment = {
        "BUCKET_NAME": BUCKET,
        "MODEL_COMPONENT_ARN": component_arn,
        "APPLICATION_VERSION": "1.0.0",
        "THING_GROUP_ARN": group_arn,
        "AWS_ACCESS_KEY_ID": "rehearsal",
        "AWS_SECRET_ACCESS_KEY": "rehearsal",
    }
    with _environment(environment):
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        greengrass = boto3.client("greengrassv2", region_name=REGION)
        sent: list[bytes] = []
        greengrass.meta.events.register(
            "provide-client-params.greengrassv2.CreateComponentVersion",
            lambda params, **_: sent.append(params["inlineRecipe"]),
        )
        with Stubber(sagemaker) as sm, Stubber(greengrass) as gg:
            sm.add_response(
                "describe_model_package",
                {
                    "ModelPackageName": MODEL_PACKAGE_GROUP,
                    "ModelPackageGroupName": MODEL_PACKAGE_GROUP,
                    "ModelPackageVersion": package_version,
                    "ModelPackageArn": package_arn,
                    "CreationTime": "2026-12-01T00:00:00Z",
                    "ModelPackageStatus": "Completed",
                    "ModelApprovalStatus": "Approved",
                    "ModelPackageStatusDetails": {"ValidationStatuses": []},
                    "InferenceSpecification": {
                        "Containers": [{"Image": "mxnet", "ModelDataUrl": model_uri}],
                        "SupportedContentTypes": ["application/x-image"],
                        "SupportedResponseMIMETypes": ["application/json"],
                    },
                },
            )
            expect_new_model_version(gg, promoted_version(package_version))
            try:
                index.handler(
                    {"detail": {"ModelPackageArn": package_arn}}, None, sagemaker=sagemaker, greengrass=greengrass
                )
            finally:
                logging.getLogger().setLevel(root_level)
    (recipe_bytes,) = sent
    recipe = json.loads(recipe_bytes)
    names = {artifact["Uri"].rsplit("/", 1)[-1] for m in recipe["Manifests"] for artifact in m.get("Artifacts", [])}
    return ShippedComponent(recipe=recipe, artifacts={name: model for name in names})
