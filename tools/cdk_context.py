"""The context block of cdk.json, exactly as `cdk synth` passes it to the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cdk_json_context(project_root: Path = PROJECT_ROOT) -> dict[str, Any]:
    context: dict[str, Any] = json.loads((project_root / "cdk.json").read_text())["context"]
    return context
