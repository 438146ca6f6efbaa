"""What the DeepLens Lambda bundles: Python 3.7 syntax throughout, the handler present, repeatable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stacks.constructs.deeplens_bundle import HANDLER, bundled_sources, stage_bundle


def test_everything_the_lambda_bundles_is_python_3_7_syntax() -> None:
    sources = [str(path) for name, path in bundled_sources().items() if not name.startswith("greengrasssdk/")]
    # --eval-annotations: typing.List rather than list[...], so nothing needs 3.9+ even if evaluated.
    result = subprocess.run(
        [str(Path(sys.executable).with_name("vermin")), "--target=3.7-", "--no-tips", "--violations",
         "--eval-annotations", "--no-parse-comments", *sources],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert {name.split("/")[0] for name in bundled_sources()} >= {"deeplens_inference", "edge_core", "sorter_common"}


def test_the_bundle_holds_the_handler_and_only_sources_and_is_repeatable(tmp_path: Path) -> None:
    first = stage_bundle(tmp_path)
    assert stage_bundle(tmp_path) == first  # same content, same folder: the asset hash is stable
    module, function = HANDLER.rsplit(".", 1)
    handler_file = first / (module.replace(".", "/") + ".py")
    assert f"def {function}(" in handler_file.read_text()
    files = [path for path in first.rglob("*") if path.is_file()]
    assert files and all(path.suffix == ".py" for path in files)
    assert not any("tests" in path.parts or "__pycache__" in path.parts for path in files)
