"""The Pythons the README says the camera supports: the rehearsal installs and runs the component
on each (pyenv's builds here), and checks that each has wheels for 64-bit ARM too."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# Raspberry Pi OS bookworm 3.11, trixie 3.13; Ubuntu 20.04 (Jetson JetPack 5) 3.8, 22.04 3.10, 24.04 3.12.
CAMERA_PYTHONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")


class MissingPython(LookupError):
    """No interpreter of a claimed version on this machine."""


def pyenv_root() -> Path:
    pyenv = shutil.which("pyenv")
    if pyenv:
        return Path(subprocess.run([pyenv, "root"], capture_output=True, text=True, check=True).stdout.strip())
    return Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))


def interpreter(version: str) -> Path:
    """The newest pyenv build of `version` (3.11 -> .../versions/3.11.7/bin/python3)."""
    builds = sorted(
        (path for path in (pyenv_root() / "versions").glob(f"{version}.*") if path.name.count(".") == 2),
        key=lambda path: int(path.name.rsplit(".", 1)[1]),
    )
    if not builds:
        raise MissingPython(f"no Python {version} under {pyenv_root()}/versions (pyenv install {version})")
    return builds[-1] / "bin" / "python3"
