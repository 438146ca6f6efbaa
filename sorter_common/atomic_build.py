"""Build a file or folder beside its final name, then rename it there: the one way anything is cached.

Bundles, archives, cached definitions and extracted models are named by a hash of what they hold
(or of what they are built from), built under a temporary name in the same folder and renamed
into place in one step. A crashed build leaves no half result under the final name, and two
builds racing for the same name both end with the same complete result. Python 3.7 syntax: the
DeepLens function and the devices bundle this package.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable


def build_once(target: Path, build: Callable[[Path], object]) -> Path:
    """Return target, first calling build(path) to create it at a temporary path when it is not there.

    build must create path itself (a file or a folder); its parent exists. An exception from
    build propagates and leaves nothing behind.
    """
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(prefix=".building-", dir=str(target.parent)))
    try:
        built = holder / target.name
        build(built)
        try:
            os.replace(str(built), str(target))
        except OSError:  # a folder: another build put the same content there first
            if not target.exists():
                raise
    finally:
        shutil.rmtree(str(holder), ignore_errors=True)
    return target


def replace_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Write text to path through a temporary file beside it, created with exactly `mode`, then
    rename it over path: a reader never sees half a file, and a key is never readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if temporary.exists():
        temporary.unlink()
    descriptor = os.open(str(temporary), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(str(temporary), mode)  # the umask may have narrowed it; make it exactly `mode`
    os.replace(str(temporary), str(path))
