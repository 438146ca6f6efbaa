"""`make diff`: what the working tree changes in every stack against a git ref, with no AWS account.

Synthesizes the working tree and the ref (checked out in a temporary git worktree) into separate
cloud assemblies, then runs `cdk diff --template` per stack. Both use this checkout's .venv.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from stacks.training_pipeline.source_bundle import WHEELS_DOWNLOAD_DIR
from tools.synth_summary import stack_templates

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / ".build" / "diff"
CDK = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
APP_COMMAND = f"{PROJECT_ROOT / '.venv' / 'bin' / 'python'} app.py"


def synthesize(source: Path, outdir: Path) -> dict[str, Path]:
    """Stack name -> template of the app in `source`; empty when that tree has no app yet."""
    shutil.rmtree(outdir, ignore_errors=True)
    if not (source / "app.py").exists():
        return {}
    subprocess.run(
        [str(CDK), "synth", "--quiet", "--app", APP_COMMAND, "--output", str(outdir)], cwd=source, check=True
    )
    return stack_templates(outdir)


def checkout(ref: str, path: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=PROJECT_ROOT, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--force", str(path), ref],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    # The training code bundle needs the pinned wheels `make setup` downloaded (ignored by git, so not
    # in the checkout): the base synthesizes with this tree's copy.
    wheels = PROJECT_ROOT / WHEELS_DOWNLOAD_DIR
    if wheels.is_dir():
        shutil.copytree(wheels, path / WHEELS_DOWNLOAD_DIR)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="HEAD", help="git ref to compare with (default HEAD)")
    args = parser.parse_args(argv)

    resolved = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{args.base}^{{commit}}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    if resolved.returncode != 0:
        print(
            f"diff error: BASE={args.base!r} is not a commit in this repository; use a branch, tag or SHA",
            file=sys.stderr,
        )
        return 2

    base_source = BUILD_DIR / "base-source"
    checkout(resolved.stdout.strip(), base_source)
    try:
        print(f"==> synthesizing {args.base} ({resolved.stdout.strip()[:12]})", flush=True)
        base = synthesize(base_source, BUILD_DIR / "base.out")
        print("==> synthesizing the working tree", flush=True)
        head = synthesize(PROJECT_ROOT, BUILD_DIR / "working-tree.out")
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(base_source)], cwd=PROJECT_ROOT, capture_output=True
        )

    empty = BUILD_DIR / "empty.template.json"
    empty.write_text(json.dumps({}))
    for name in sorted(set(base) | set(head)):
        if name not in head:
            print(f"Stack {name}\n[-] removed: the working tree no longer synthesizes this stack\n", flush=True)
            continue
        base_template = base.get(name, empty)
        subprocess.run(
            [
                str(CDK),
                "diff",
                "--exclusively",
                "--app",
                str(BUILD_DIR / "working-tree.out"),
                "--template",
                str(base_template),
                name,
            ],
            check=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
