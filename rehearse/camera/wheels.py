"""Do the component's pinned requirements have wheels for 64-bit ARM on every claimed Python?

The rehearsal installs and runs them on this machine's x86_64. A Raspberry Pi or a Jetson is
aarch64, which cannot run here, so pip resolves each Python's pins for manylinux aarch64 without
installing (`pip install --dry-run --only-binary=:all: --platform ...`). It proves a wheel exists;
only a device proves it runs.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

# glibc 2.28+ covers Raspberry Pi OS bullseye and later, Ubuntu 20.04 and later.
AARCH64_PLATFORMS = (
    "manylinux_2_28_aarch64",
    "manylinux_2_27_aarch64",
    "manylinux_2_17_aarch64",
    "manylinux2014_aarch64",
)


def pins_for(requirements: Path, python: str) -> list[str]:
    """The requirement lines that apply on `python` (markers evaluated for that version)."""
    environment = {key: str(value) for key, value in default_environment().items()}
    environment.update(python_version=python, python_full_version=f"{python}.0")
    pins = []
    for line in requirements.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            requirement.marker = None
            pins.append(str(requirement))
    return pins


def check(requirements: Path, python: str, platforms: tuple[str, ...] = AARCH64_PLATFORMS) -> str:
    """'' when every pin has a wheel for `python` on `platforms`, else pip's complaint."""
    with tempfile.TemporaryDirectory(prefix="wheels-") as folder:
        pinned = Path(folder) / "requirements.txt"
        pinned.write_text("\n".join(pins_for(requirements, python)) + "\n")
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed", "--no-deps"]
        command += ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
        command += [argument for platform in platforms for argument in ("--platform", platform)]
        command += ["--target", str(Path(folder) / "target"), "-r", str(pinned)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return ""
    lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    return "; ".join(lines) or result.stderr.strip()[-300:]
