"""Entry point of the pipeline's processing steps (Prepare, Evaluate) in the MXNet container.

SageMaker mounts the bundled training code (sourcedir.tar.gz) as an input; this unpacks it and
runs `python -m training_job <command> ...`: the same commands a laptop runs as
`python -m training <command>`.
Nothing is installed: the jobs run with network isolation, and everything the code imports is in
the MXNet 1.9 image (Python 3.8, numpy<1.20, onnx 1.8.1, tqdm, matplotlib, OpenCV, Pillow).
"""

import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import List, Optional

BUNDLE_DIR = Path(os.environ.get("TRASH_SORTER_BUNDLE_DIR", "/opt/ml/processing/input/bundle"))
CODE_DIR = Path(os.environ.get("TRASH_SORTER_CODE_DIR", "/opt/ml/processing/code"))


def unpack_bundle(bundle_dir: Path, code_dir: Path) -> Path:
    # The bundle is a CDK asset named by its hash ("<hash>.gz"): take the one file, whatever its name.
    bundles = sorted(path for path in bundle_dir.iterdir() if path.is_file()) if bundle_dir.is_dir() else []
    if len(bundles) != 1:
        raise SystemExit(f"error: expected one code bundle in {bundle_dir}, found {len(bundles)}")
    code_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(str(bundles[0])) as archive:
        for member in archive.getmembers():
            # The bundle is ours, but never write outside code_dir all the same. Only plain files
            # and folders: a link member (say code -> /etc) would carry a later "code/x" out.
            if not (member.isfile() or member.isdir()):
                raise SystemExit(f"error: {member.name!r} in {bundles[0]} is a link or special file; refusing it")
            if member.name.startswith(("/", "..")) or ".." in Path(member.name).parts:
                raise SystemExit(f"error: unsafe path {member.name!r} in {bundles[0]}")
        archive.extractall(str(code_dir))
    return code_dir


def main(argv: Optional[List[str]] = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    code_dir = unpack_bundle(BUNDLE_DIR, CODE_DIR)
    return subprocess.call([sys.executable, "-m", "training_job", *arguments], cwd=str(code_dir))


if __name__ == "__main__":
    sys.exit(main())
