"""The training code bundle: same source, same bytes; everything script mode needs, nothing else."""

from __future__ import annotations

import tarfile
from pathlib import Path

from stacks.training_pipeline.source_bundle import build_bundle


def test_the_same_source_gives_the_same_bytes(tmp_path: Path) -> None:
    first = build_bundle(tmp_path / "a")
    second = build_bundle(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert first.parent.name == second.parent.name, "the folder is named after the content"


def test_the_bundle_holds_the_entry_point_its_imports_and_requirements(tmp_path: Path) -> None:
    with tarfile.open(build_bundle(tmp_path)) as archive:
        names = archive.getnames()
        members = archive.getmembers()
    assert {"training_job/train.py", "training_job/__main__.py", "sorter_common/classes.py"} <= set(names)
    # No requirements.txt: the toolkit would pip-install it at job start (network isolation, numpy).
    assert "requirements.txt" not in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert not [name for name in names if name.startswith("testbed/")]  # scaffolding never ships
    assert names == sorted(names)
    assert {(member.mtime, member.uid, member.gid, member.mode) for member in members} == {(0, 0, 0, 0o644)}


def test_the_bundle_is_exactly_the_container_package_the_shared_contracts_and_the_edge_backends(
    tmp_path: Path, project_root: Path
) -> None:
    # Not the operator's command line (training/), not test scaffolding (testbed/): only what a job runs.
    with tarfile.open(build_bundle(tmp_path)) as archive:
        names = archive.getnames()
    # edge_core too: the Evaluate step measures models through the edge's own backends; wheels/ for
    # what the image lacks (tests/stacks/test_training_wheels.py).
    assert {name.split("/")[0] for name in names} == {"training_job", "sorter_common", "edge_core", "wheels"}
    expected = {
        path.relative_to(project_root).as_posix()
        for package in ("training_job", "sorter_common", "edge_core")
        for path in (project_root / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert {name for name in names if not name.startswith("wheels/")} == expected


def test_a_code_change_changes_the_bundle(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tools").mkdir(parents=True)
    (project / "tools" / "training-image-wheels.txt").write_text("# no wheels\n")
    for package in ("training_job", "sorter_common"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text("")
    before = build_bundle(tmp_path / "out", project_root=project)
    (project / "training_job" / "train.py").write_text("print('changed')\n")
    after = build_bundle(tmp_path / "out", project_root=project)
    assert before != after and before.read_bytes() != after.read_bytes()
