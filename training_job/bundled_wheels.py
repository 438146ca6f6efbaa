"""onnxruntime where the image has none: install the wheels the code bundle carries into a scratch folder.

The MXNet 1.9 training image has no onnxruntime, and its jobs run with network isolation (nothing
comes from PyPI). So the code bundle carries the pinned wheel (stacks/training_pipeline/source_bundle.py,
tools/training-image-wheels.txt) in wheels/, beside this package. When `import onnxruntime` fails,
the image's own pip installs those wheels, offline and without dependencies, into a temporary folder
that goes on sys.path for the rest of the process and is removed when it ends. Nothing is written
into the code folder or the working folder.
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

# The bundle unpacks as <code folder>/training_job/ and <code folder>/wheels/.
WHEELS_DIR = Path(__file__).resolve().parents[1] / "wheels"
FROM_PYTHON = "this Python"
FROM_BUNDLE = "the code bundle's wheels"


def install(wheels: Sequence[Path], target: Path) -> None:
    """pip-install these wheel files into target: no index, no dependencies, no cache; raises with pip's own words."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-cache-dir"]
    command += ["--disable-pip-version-check", "--target", str(target), *(str(wheel) for wheel in wheels)]
    result = subprocess.run(command, cwd=str(target), capture_output=True, text=True)
    if result.returncode != 0:
        words = (result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}").splitlines()
        raise RuntimeError(f"pip install of {', '.join(wheel.name for wheel in wheels)} failed: {words[-1][:200]}")


def _quantization_import_error() -> str:
    """Why onnxruntime.quantization does not import, or "" when it does.

    Any exception, not only ImportError: a wheel built against another numpy can raise RuntimeError
    or AttributeError while importing, and int8 must never fail the training job.
    """
    try:
        import onnxruntime.quantization  # noqa: F401
    except Exception as error:
        return f"{type(error).__name__}: {error}" if not isinstance(error, ImportError) else str(error)
    return ""


def ensure_onnxruntime(wheels_dir: Path | None = None) -> tuple[str, str]:
    """(where onnxruntime comes from, "") once onnxruntime.quantization imports; ("", why not) when it cannot.

    wheels_dir: where the wheels are (default WHEELS_DIR, beside the package in the code bundle).
    """
    wheels_dir = WHEELS_DIR if wheels_dir is None else wheels_dir
    error = _quantization_import_error()
    if not error:
        return FROM_PYTHON, ""
    missing = f"onnxruntime's quantization is not installed in this Python ({error})"
    wheels = sorted(wheels_dir.glob("*.whl")) if wheels_dir.is_dir() else []
    if not wheels:
        return "", f"{missing} and the code bundle carries no wheels ({wheels_dir})"
    target = Path(tempfile.mkdtemp(prefix="trash-sorter-wheels-"))
    atexit.register(shutil.rmtree, str(target), True)
    try:
        install(wheels, target)
    except (OSError, RuntimeError) as failure:
        return "", f"{missing}; installing the code bundle's wheels failed ({failure})"
    sys.path.append(str(target))
    importlib.invalidate_caches()
    for name in [name for name in sys.modules if name == "onnxruntime" or name.startswith("onnxruntime.")]:
        del sys.modules[name]  # a half-imported copy from the failed attempt
    error = _quantization_import_error()
    if error:
        sys.path.remove(str(target))
        return "", f"{missing}; the code bundle's wheels installed but do not import ({error})"
    return FROM_BUNDLE, ""
