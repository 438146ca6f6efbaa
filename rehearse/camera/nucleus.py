"""What the Greengrass nucleus does with a recipe before and while it runs a lifecycle script,
written from its documentation and its open-source code (aws-greengrass/aws-greengrass-nucleus):

- Recipe variables (developer guide, "Recipe variables"; KernelConfigResolver.replace): the whole
  Lifecycle section, Setenv included, is searched for `{namespace:key}` (same component) and then
  `{component:namespace:key}` (a direct dependency); each is replaced as plain text.
  `configuration:/json/pointer` is the component's configuration after the deployment's merge: a
  string as is, a number or boolean as its text, an object as compact JSON; a missing key leaves
  the variable unreplaced. `artifacts:path` is <root>/packages/artifacts/<component>/<version>,
  `artifacts:decompressedPath` <root>/packages/artifacts-unarchived/<component>/<version>,
  `work:path` <root>/work/<component>, `kernel:rootPath` the root, `iot:thingName` the thing.
- Scripts (ShellRunner, UnixPlatform): `sh -c <script>` in the component's work folder, with the
  Setenv variables, SVCUID and AWS_IOT_THING_NAME in the environment.
- Platforms: the first manifest whose `os` and `architecture` match the device (x86_64 is amd64).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Java's \w is ASCII only, as here with re.ASCII.
SAME_COMPONENT = re.compile(r"\{([.\w-]+):([^:}]*)\}", re.ASCII)
CROSS_COMPONENT = re.compile(r"\{([.\w-]+):([.\w-]+):([^:}]*)\}", re.ASCII)
ARCHITECTURES = {"x86_64": "amd64", "aarch64": "aarch64", "armv7l": "arm"}


@dataclass(frozen=True)
class Device:
    """A core device's root folder and thing name."""

    root: Path
    thing_name: str

    def artifacts(self, component: str, version: str) -> Path:
        return self.root / "packages" / "artifacts" / component / version

    def work(self, component: str) -> Path:
        return self.root / "work" / component


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    configuration: Mapping[str, Any]


def merge(default: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A deployment's configurationUpdate.merge over the recipe's DefaultConfiguration."""
    merged = dict(default)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _pointer(configuration: Mapping[str, Any], pointer: str) -> str | None:
    node: Any = configuration
    for raw in pointer.split("/")[1:] if pointer else []:
        key = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    if isinstance(node, str):
        return node
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, int | float):
        return str(node)
    if node is None:
        return "null"
    return json.dumps(node, separators=(",", ":"))


def _system(device: Device, component: Component, namespace: str, key: str) -> str | None:
    values = {
        ("artifacts", "path"): device.artifacts(component.name, component.version),
        ("artifacts", "decompressedPath"): device.root
        / "packages"
        / "artifacts-unarchived"
        / component.name
        / component.version,
        ("work", "path"): device.work(component.name),
        ("kernel", "rootPath"): device.root,
    }
    if (namespace, key) == ("iot", "thingName"):
        return device.thing_name
    found = values.get((namespace, key))
    return None if found is None else str(found)


def substitute(text: str, device: Device, component: Component, dependencies: Mapping[str, Component]) -> str:
    """One string of the Lifecycle section as the nucleus interpolates it."""
    for match in list(SAME_COMPONENT.finditer(text)):
        namespace, key = match.groups()
        if namespace == "configuration":
            value = _pointer(component.configuration, key)
        else:
            value = _system(device, component, namespace, key)
        if value is not None:
            text = text.replace(match.group(), value)
    for match in list(CROSS_COMPONENT.finditer(text)):
        target, namespace, key = match.groups()
        if target not in dependencies:
            continue  # the nucleus logs an error and leaves it
        other = dependencies[target]
        value = (
            _pointer(other.configuration, key)
            if namespace == "configuration"
            else _system(device, other, namespace, key)
        )
        if value is not None:
            text = text.replace(match.group(), value)
    return text


def interpolate(value: Any, device: Device, component: Component, dependencies: Mapping[str, Component]) -> Any:
    if isinstance(value, str):
        return substitute(value, device, component, dependencies)
    if isinstance(value, Mapping):
        return {key: interpolate(item, device, component, dependencies) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, device, component, dependencies) for item in value]
    return value


def manifest_for_this_machine(recipe: Mapping[str, Any]) -> dict[str, Any]:
    architecture = ARCHITECTURES.get(platform.machine(), platform.machine())
    for manifest in recipe["Manifests"]:
        wanted = manifest.get("Platform", {})
        if wanted.get("os", "linux") in ("linux", "*") and wanted.get("architecture", architecture) in (
            architecture,
            "*",
        ):
            return dict(manifest)
    raise LookupError(f"{recipe['ComponentName']} has no manifest for linux/{architecture}")


def _lookup(mapping: Mapping[str, Any], key: str) -> Any:
    """Recipe keys are case-insensitive to the nucleus (Topics uses CaseInsensitiveString)."""
    for name, value in mapping.items():
        if name.lower() == key.lower():
            return value
    return None


@dataclass(frozen=True)
class Lifecycle:
    """A manifest's Lifecycle with every variable substituted, ready to run."""

    environment: dict[str, str]
    steps: dict[str, str]
    timeouts: dict[str, int]

    def script(self, step: str) -> str:
        return self.steps[step]


def resolve_lifecycle(
    recipe: Mapping[str, Any], device: Device, component: Component, dependencies: Mapping[str, Component]
) -> Lifecycle:
    raw = _lookup(manifest_for_this_machine(recipe), "Lifecycle") or {}
    resolved = interpolate(raw, device, component, dependencies)
    environment = {str(k): str(v) for k, v in (_lookup(resolved, "Setenv") or {}).items()}
    steps: dict[str, str] = {}
    timeouts: dict[str, int] = {}
    for name, body in resolved.items():
        if name.lower() == "setenv":
            continue
        script = body if isinstance(body, str) else _lookup(body, "Script")
        steps[name.lower()] = script
        if isinstance(body, Mapping) and _lookup(body, "Timeout") is not None:
            timeouts[name.lower()] = int(_lookup(body, "Timeout"))
    return Lifecycle(environment, steps, timeouts)


def process_environment(device: Device, lifecycle: Lifecycle, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a lifecycle script's process sees: the nucleus's environment plus its own variables."""
    # The device's own set-up for reaching a package index: its pip configuration, proxies, CAs.
    passed = ("PATH", "HOME", "LANG", "SSL_CERT_FILE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
    base = {
        name: value
        for name, value in os.environ.items()
        if name in passed or name.upper() in passed or name.startswith("PIP_")
    }
    return {
        **base,
        **(extra or {}),
        "SVCUID": "rehearsal-service-uid",
        "AWS_IOT_THING_NAME": device.thing_name,
        **lifecycle.environment,
    }


def run_step(
    lifecycle: Lifecycle,
    step: str,
    device: Device,
    component: Component,
    *,
    extra_environment: Mapping[str, str] | None = None,
    script: str | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """`sh -c <script>` in the component's work folder, as ShellRunner runs it."""
    work = device.work(component.name)
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["sh", "-c", script if script is not None else lifecycle.script(step)],
        cwd=work,
        env=process_environment(device, lifecycle, extra_environment),
        capture_output=True,
        text=True,
        timeout=timeout or lifecycle.timeouts.get(step, 120),
        check=False,
    )
