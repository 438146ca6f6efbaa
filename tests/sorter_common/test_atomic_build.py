from __future__ import annotations

from pathlib import Path

import pytest

from sorter_common.atomic_build import build_once


def test_a_file_is_built_once_and_then_reused(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(path: Path) -> None:
        calls.append(path)
        path.write_text("content")

    target = tmp_path / "cache" / "abc.json"
    assert build_once(target, build) == target
    assert build_once(target, build) == target
    assert target.read_text() == "content"
    assert len(calls) == 1 and calls[0] != target
    assert sorted(p.name for p in target.parent.iterdir()) == ["abc.json"]  # no temporary left


def test_a_folder_is_renamed_into_place_whole(tmp_path: Path) -> None:
    def build(path: Path) -> None:
        path.mkdir()
        (path / "a").write_text("1")

    target = build_once(tmp_path / "bundle-123", build)
    assert (target / "a").read_text() == "1"


def test_a_failed_build_leaves_nothing_under_any_name(tmp_path: Path) -> None:
    def build(path: Path) -> None:
        path.mkdir()
        (path / "half").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_once(tmp_path / "bundle", build)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_another_build_finished_first_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "bundle"

    def racing_build(path: Path) -> None:
        path.mkdir()
        (path / "mine").write_text("late")
        target.mkdir()  # the other synth wins the race while this one builds
        (target / "theirs").write_text("first")

    assert build_once(target, racing_build) == target
    assert [p.name for p in target.iterdir()] == ["theirs"]
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
