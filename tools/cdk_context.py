"""The context block of cdk.json, exactly as `cdk synth` passes it to the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Every edge target on, so tests and benchmarks see every stack the project can synthesize.
# The deeplens target needs the core a DeepLens registered for itself: example ARNs.
DEEPLENS_THING_ARN = "arn:aws:iot:us-east-1:123456789012:thing/deeplens_trash_sorter"
DEEPLENS_CERTIFICATE_ARN = "arn:aws:iot:us-east-1:123456789012:cert/" + "0123456789abcdef" * 4
# ... and the key of an approved model.tar.gz the group delivers to it.
DEEPLENS_MODEL_KEY = "models/pipelines-example-Train-0123456789/output/model.tar.gz"
ALL_TARGETS_CONTEXT = {
    "edgeTargets": "greengrass-v2,deeplens",
    "deeplensCoreThingArn": DEEPLENS_THING_ARN,
    "deeplensCoreCertificateArn": DEEPLENS_CERTIFICATE_ARN,
    "deeplensModelKey": DEEPLENS_MODEL_KEY,
}


def cdk_json_context(project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    context: dict[str, Any] = json.loads((project_root / "cdk.json").read_text())["context"]
    return context
