"""The Greengrass V2 component names, versions and the model component's recipe: the one
definition the edge stack (application and initial model) and the promotion Lambda share."""

import json
from typing import Any, Dict, Tuple

MODEL_COMPONENT = "com.trashsorter.Model"
APPLICATION_COMPONENT = "com.trashsorter.Inference"
# The stack's initial model is 0.1.0; promoted models are 1.0.<model package version>, so the
# newest approved model is always the highest version (what a dependency ">=0.1.0" resolves to).
INITIAL_MODEL_VERSION = "0.1.0"
# The one deployment of the camera thing group (the stack creates it, promotion revises it).
DEPLOYMENT_NAME = "trash-sorter-cameras"
# The greengrass-v2 target's stack and its output naming the cameras' thing group, which
# `device.provision` reads to associate the Pi with every camera (the local path).
EDGE_V2_STACK_NAME = "TrashSorterEdgeV2"
OUTPUT_THING_GROUP = "ThingGroupName"


def promoted_version(model_package_version: int) -> str:
    return f"1.0.{int(model_package_version)}"


def version_key(version: str) -> Tuple[int, ...]:
    """ "1.0.12" -> (1, 0, 12), so versions compare as numbers ("1.0.12" is newer than "1.0.9")."""
    return tuple(int(part) for part in version.split("."))


def model_recipe(version: str, model_uri: str, source: str) -> Dict[str, Any]:
    """A component with one artifact, model.tar.gz; the application reads it from the artifacts folder."""
    return {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": MODEL_COMPONENT,
        "ComponentVersion": version,
        "ComponentDescription": f"Trash sorter model ({source})"[:256],
        "ComponentPublisher": "trash-sorter",
        "Manifests": [
            {
                "Platform": {"os": "linux"},
                # ALL: the application component reads it from this (its dependency's) artifacts folder,
                # and Greengrass documents that a dependency's artifact needs Read ALL for that.
                "Artifacts": [{"Uri": model_uri, "Unarchive": "NONE", "Permission": {"Read": "ALL"}}],
            }
        ],
    }


def recipe_json(recipe: Dict[str, Any]) -> str:
    return json.dumps(recipe, sort_keys=True, separators=(",", ":"))
