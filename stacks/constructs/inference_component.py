"""The application component: its code as a deterministic tar.gz in the data bucket and its inline recipe.

The version is derived from the code and the recipe, so a change of either is a new component
version (versions are immutable) and nothing else is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_greengrassv2 as greengrass
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from edge_core.settings import configured
from sorter_common.bucket_layout import EDGE_ARTIFACTS_PREFIX
from sorter_common.greengrass_components import APPLICATION_COMPONENT, INITIAL_MODEL_VERSION, MODEL_COMPONENT
from sorter_common.topics import PREDICTIONS, STATUS, corrections_topic
from stacks.constructs.artifact_copy import ArtifactCopy
from stacks.training_pipeline.source_bundle import PROJECT_ROOT, package_files, write_archive

ARCHIVE_NAME = "trash-sorter-inference.tar.gz"
BUILD_DIR = PROJECT_ROOT / ".build" / "assets" / "greengrass"
# What the component imports: the component, its MQTT link (local mode), the inference core, the contracts.
BUNDLED = ("device/greengrass_component", "edge_core", "sorter_common")
BUNDLED_FILES = ("device/__init__.py", "device/mqtt_link.py")
REQUIREMENTS = PROJECT_ROOT / "device" / "greengrass_component" / "requirements.txt"
# Greengrass platform names: x86_64 is "amd64".
ARCHITECTURES = ("aarch64", "amd64")


def component_archive_files() -> list[tuple[str, Any]]:
    files = package_files(BUNDLED) + [(name, PROJECT_ROOT / name) for name in BUNDLED_FILES]
    return [*files, ("requirements.txt", REQUIREMENTS)]


# Every value that varies (paths, the deployment's configuration) reaches the scripts only as an
# environment variable, which the scripts always quote: the nucleus substitutes recipe variables
# as plain text before `sh -c` runs a script, so a frame source like rtsp://u:pa'ss@cam/$(reboot)
# written into the script itself would be shell code. Setenv is substituted the same way
# (KernelConfigResolver interpolates the whole Lifecycle), but an environment value is never parsed.
# Environment variable -> the component's flag it feeds, and the configuration key behind it:
# one per configured setting of edge_core.settings, in its order.
CONFIGURATION_FLAGS = tuple((setting.run_variable, setting.flag, setting.key) for setting in configured())
# The component's credentials for uploads (corrections.py uses boto3's default chain).
TOKEN_EXCHANGE_SERVICE = "aws.greengrass.TokenExchangeService"


def lifecycle(archive: str) -> dict[str, Any]:
    environment = {
        "PYTHONUNBUFFERED": "1",
        "TRASH_SORTER_ARCHIVE": f"{{artifacts:path}}/{archive}",
        "TRASH_SORTER_APP": "{work:path}/app",
        "TRASH_SORTER_VENV": "{work:path}/venv",
        "TRASH_SORTER_WORK": "{work:path}",
        "TRASH_SORTER_MODEL": "{" + MODEL_COMPONENT + ":artifacts:path}/model.tar.gz",
        **{variable: f"{{configuration:/{key}}}" for variable, _, key in CONFIGURATION_FLAGS},
    }
    # --flag="$VAR": one argument whatever the value holds, even one that starts with '-'.
    flags = " ".join(f'{flag}="${variable}"' for variable, flag, _ in CONFIGURATION_FLAGS)
    run = (
        'cd "$TRASH_SORTER_APP" && exec "$TRASH_SORTER_VENV/bin/python" -m device.greengrass_component'
        f' --transport ipc --model="$TRASH_SORTER_MODEL" --work-dir="$TRASH_SORTER_WORK" {flags}'
    )
    return {
        "Setenv": environment,
        # Runs once per component version: unpack the code, build the venv with the pinned wheels.
        # Wheels only: a missing wheel fails in seconds with pip's message, instead of an hour-long
        # source build on a Pi. pip's cache stays in the component user's home (when it has
        # one), so the next component version installs the same wheels without downloading them.
        "Install": {
            "Script": " && ".join(
                [
                    'rm -rf "$TRASH_SORTER_APP"',
                    'mkdir -p "$TRASH_SORTER_APP"',
                    'tar -xzf "$TRASH_SORTER_ARCHIVE" -C "$TRASH_SORTER_APP"',
                    'python3 -m venv "$TRASH_SORTER_VENV"',
                    '"$TRASH_SORTER_VENV/bin/pip" install --disable-pip-version-check --only-binary=:all:'
                    ' -r "$TRASH_SORTER_APP/requirements.txt"',
                ]
            ),
            "Timeout": 1800,  # wheels for a Pi over a slow link
        },
        "Run": {"Script": run},
    }


def access_control(topic_prefix: str, *, local_path: bool) -> dict[str, Any]:
    """What the component may do over IPC: publish its predictions and status, and receive its corrections.

    With the local path it publishes to local publish/subscribe only (the MQTT bridge relays to the local
    broker and to AWS IoT Core), and only on its own topics ({iot:thingName}: Greengrass nucleus 2.6.0+).
    """
    own = [f"{topic_prefix}/{{iot:thingName}}/{PREDICTIONS}", f"{topic_prefix}/{{iot:thingName}}/{STATUS}"]
    mqttproxy: dict[str, Any] = {}
    pubsub: dict[str, Any] = {}
    if local_path:
        pubsub[f"{APPLICATION_COMPONENT}:pubsub:1"] = {
            "policyDescription": "Publish predictions and status to local publish/subscribe (the MQTT bridge relays)",
            "operations": ["aws.greengrass#PublishToTopic"],
            "resources": own,
        }
    else:
        mqttproxy[f"{APPLICATION_COMPONENT}:mqttproxy:1"] = {
            "policyDescription": "Publish predictions and status to AWS IoT Core",
            "operations": ["aws.greengrass#PublishToIoTCore"],
            # Any thing name here; the core's IoT policy only lets it publish its own.
            "resources": [f"{topic_prefix}/+/{PREDICTIONS}", f"{topic_prefix}/+/{STATUS}"],
        }
    # Its own corrections topic only ({iot:thingName}: Greengrass nucleus 2.6.0+).
    mqttproxy[f"{APPLICATION_COMPONENT}:mqttproxy:corrections"] = {
        "policyDescription": "Receive the corrections of this camera's decisions",
        "operations": ["aws.greengrass#SubscribeToIoTCore"],
        "resources": [corrections_topic("{iot:thingName}", topic_prefix)],
    }
    return {"aws.greengrass.ipc.mqttproxy": mqttproxy, **({"aws.greengrass.ipc.pubsub": pubsub} if pubsub else {})}


def application_recipe(
    *, version: str, artifact_uri: str, configuration: Mapping[str, Any], topic_prefix: str, uploads: bool = False,
    local_path: bool = False,
) -> dict[str, Any]:
    """uploads: correction capture or unsure sampling is on, so the component needs the token exchange service.
    local_path: the component publishes to local publish/subscribe (stacks/constructs/client_devices.py)."""
    dependencies: dict[str, Any] = {
        MODEL_COMPONENT: {"VersionRequirement": f">={INITIAL_MODEL_VERSION}", "DependencyType": "HARD"}
    }
    if uploads:
        dependencies[TOKEN_EXCHANGE_SERVICE] = {"VersionRequirement": "^2.0.0", "DependencyType": "HARD"}
    return {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": APPLICATION_COMPONENT,
        "ComponentVersion": version,
        "ComponentDescription": "Trash sorter: classifies camera frames on the device and publishes which bin",
        "ComponentPublisher": "trash-sorter",
        "ComponentConfiguration": {
            "DefaultConfiguration": {
                **configuration,
                "accessControl": access_control(topic_prefix, local_path=local_path),
            }
        },
        # HARD: a new model version restarts the application. Not listed in a deployment, the
        # dependency resolves to the newest model version in the account (the last approved one).
        "ComponentDependencies": dependencies,
        "Manifests": [
            {
                "Platform": {"os": "linux", "architecture": architecture},
                "Lifecycle": lifecycle(artifact_uri.rsplit("/", 1)[-1]),
                "Artifacts": [{"Uri": artifact_uri, "Unarchive": "NONE", "Permission": {"Read": "OWNER"}}],
            }
            for architecture in ARCHITECTURES
        ],
    }


class InferenceComponent(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        configuration: Mapping[str, Any],
        topic_prefix: str,
        uploads: bool = False,
        local_path: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        archive = write_archive(component_archive_files(), BUILD_DIR, ARCHIVE_NAME)
        # The full sha256, which the snapshot tests normalize like any asset hash.
        content_hash = hashlib.sha256(archive.read_bytes()).hexdigest()
        self.artifact_key = f"{EDGE_ARTIFACTS_PREFIX}{APPLICATION_COMPONENT}/{content_hash}/{ARCHIVE_NAME}"
        # Placeholder URI while hashing: the bucket name is a token until deploy time.
        draft = application_recipe(
            version="0.0.0",
            artifact_uri=f"s3://bucket/{self.artifact_key}",
            configuration={**configuration, "Bucket": "bucket"},
            topic_prefix=topic_prefix,
            uploads=uploads,
            local_path=local_path,
        )
        digest = hashlib.sha256(json.dumps(draft, sort_keys=True).encode()).hexdigest()
        self.version = f"1.0.{int(digest[:7], 16)}"  # semver; the patch number is the content's fingerprint
        self.artifact_uri = f"s3://{bucket.bucket_name}/{self.artifact_key}"
        # Into the data bucket's edge/ prefix, where the token exchange role may read. One S3 copy
        # from the CDK asset, allowed to read that one object and write under edge/ only (CDK's
        # BucketDeployment would bring a 22 MB AWS CLI layer and delete rights on the whole
        # bucket). Old versions' artifacts stay for devices still on them.
        self.asset = s3_assets.Asset(self, "Code", path=str(archive))
        self.upload = ArtifactCopy(
            self,
            "Artifact",
            source=self.asset,
            bucket=bucket,
            key=self.artifact_key,
        )
        recipe = application_recipe(
            version=self.version,
            artifact_uri=self.artifact_uri,
            # Where corrected frames go: the data bucket, whose name is a token until deploy time.
            configuration={**configuration, "Bucket": bucket.bucket_name},
            topic_prefix=topic_prefix,
            uploads=uploads,
            local_path=local_path,
        )
        self.component = greengrass.CfnComponentVersion(
            self, "Component", inline_recipe=Stack.of(self).to_json_string(recipe)
        )
        # Greengrass reads the artifact when it registers the version (to record its digest).
        self.component.node.add_dependency(self.upload)
