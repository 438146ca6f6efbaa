"""Prints each synthesized stack, its resource count and where its template is."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def stack_templates(assembly: Path) -> dict[str, Path]:
    """Stack name -> template path, read from the cloud assembly's manifest."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    templates = {}
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            templates[name] = assembly / artifact["properties"]["templateFile"]
    return dict(sorted(templates.items()))


def summarize(assembly: Path) -> str:
    lines = [f"{'stack':<24} {'resources':>9}  top resource types / template"]
    for name, template_path in stack_templates(assembly).items():
        resources = json.loads(template_path.read_text()).get("Resources", {})
        kinds = Counter(resource["Type"].removeprefix("AWS::") for resource in resources.values())
        top = ", ".join(f"{kind} x{count}" for kind, count in kinds.most_common(4))
        lines.append(f"{name:<24} {len(resources):>9}  {top}")
        lines.append(f"{'':<24} {'':>9}  {template_path}")
    return "\n".join(lines)


def main() -> None:
    assembly = Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")
    print(summarize(assembly))


if __name__ == "__main__":
    main()
