"""Code that runs on older Pythons than the project's 3.11 stays runnable there.

- Python 3.7: everything the DeepLens Lambda bundles (its own test runs vermin on the bundle).
- Python 3.8: training_job, the code bundle's package (SageMaker's MXNet 1.9 container; not the
  operator's command line, training/, which runs on the project's Python), and the Greengrass V2
  component with its MQTT link (devices with Python 3.8 to 3.13).

vermin checks the standard library and syntax. It does not see that `Callable[[str], None]` or
`dict[str, Any]` written outside an annotation is evaluated at import time, where Python 3.8
refuses it; the AST check below does.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERMIN = str(Path(sys.executable).with_name("vermin"))
PYTHON_38 = ("training_job", "device/greengrass_component", "device/mqtt_link.py", "device/__init__.py")
PYTHON_37 = ("sorter_common", "edge_core", "lambda_src/deeplens_inference")
# Subscriptable only from Python 3.9 (PEP 585).
BUILTIN_GENERICS = {"dict", "list", "tuple", "set", "frozenset", "type"}
ABC_MODULES = {"collections.abc", "collections"}
# Names that, on either side of `|`, make it a type union (PEP 604, Python 3.10).
TYPE_NAMES = BUILTIN_GENERICS | {"str", "int", "float", "bool", "bytes", "object"}


def python_files(paths: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        target = ROOT / path
        files += [target] if target.is_file() else sorted(target.rglob("*.py"))
    return [file for file in files if "__pycache__" not in file.parts]


def _runtime_nodes(tree: ast.Module) -> Iterator[ast.AST]:
    """Every node Python evaluates when it runs the code: annotations are left out where they are
    not evaluated (all of them under `from __future__ import annotations`, else inside functions)."""
    postponed = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )

    def visit(node: ast.AST, in_function: bool) -> Iterator[ast.AST]:
        yield node
        for name, value in ast.iter_fields(node):
            is_annotation = name in ("annotation", "returns")
            if is_annotation and (postponed or in_function or not isinstance(node, ast.AnnAssign)):
                continue
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST):
                    inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                    yield from visit(child, inner)

    yield from visit(tree, False)


def newer_typing_at_runtime(source: str) -> list[str]:
    tree = ast.parse(source)
    abc_names = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in ABC_MODULES
        for alias in node.names
    }
    problems = []
    for node in _runtime_nodes(tree):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and (node.value.id in BUILTIN_GENERICS or node.value.id in abc_names)
        ):
            problems.append(f"line {node.lineno}: {ast.unparse(node)} (subscripted at run time: Python 3.9+)")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            sides = (node.left, node.right)
            if any(
                (isinstance(side, ast.Constant) and side.value is None)
                or (isinstance(side, ast.Name) and side.id in TYPE_NAMES)
                or isinstance(side, ast.Subscript)
                for side in sides
            ):
                problems.append(f"line {node.lineno}: {ast.unparse(node)} (a type union at run time: Python 3.10+)")
    return problems


@pytest.mark.parametrize("path", python_files(PYTHON_38 + PYTHON_37), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_newer_typing_is_evaluated_at_import(path: Path) -> None:
    assert newer_typing_at_runtime(path.read_text()) == []


@pytest.mark.parametrize("path", python_files(PYTHON_38 + PYTHON_37), ids=lambda path: str(path.relative_to(ROOT)))
def test_numpy_typing_is_imported_only_for_type_checking(path: Path) -> None:
    # numpy.typing exists from numpy 1.20; the MXNet container and a DeepLens may have older.
    module_level = [
        node.lineno
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ImportFrom | ast.Import)
        and any((getattr(node, "module", None) or alias.name).startswith("numpy.typing") for alias in node.names)
    ]
    assert module_level == []


def test_every_package_the_training_bundle_ships_is_held_to_the_images_python() -> None:
    from stacks.training_pipeline.source_bundle import BUNDLED_PACKAGES

    assert set(BUNDLED_PACKAGES) <= set(PYTHON_38 + PYTHON_37)


def test_the_check_finds_what_python_38_refuses() -> None:
    source = (
        "from __future__ import annotations\n"
        "from collections.abc import Callable\n"
        "Handler = Callable[[str], None]\n"
        "Table = dict[str, int]\n"
        "Maybe = int | None\n"
        "def fine(x: dict[str, int] | None) -> list[int]:\n"
        "    y: Callable[[], None] | None = None\n"
        "    return [1 | 2]\n"
    )
    assert [problem.split(":")[0] for problem in newer_typing_at_runtime(source)] == ["line 3", "line 4", "line 5"]


def test_python_38_code_uses_no_newer_standard_library_or_syntax() -> None:
    result = subprocess.run(
        [
            VERMIN,
            "--target=3.8-",
            "--no-tips",
            "--violations",
            *map(str, python_files(PYTHON_38)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
