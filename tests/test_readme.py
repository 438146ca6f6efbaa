"""The README stays true: every config key, make target and stack it names exists, and vice versa."""

from __future__ import annotations

import re
from pathlib import Path

from stacks.config import SETTINGS
from tools import edge_settings_table


def readme(project_root: Path) -> str:
    return (project_root / "README.md").read_text()


def test_every_config_key_is_documented_in_the_config_table(project_root: Path) -> None:
    documented = set(re.findall(r"^\| `([a-z][a-zA-Z0-9]+)` \|", readme(project_root), flags=re.MULTILINE))
    assert documented == {setting.key for setting in SETTINGS}


def test_every_make_target_the_readme_names_exists(project_root: Path) -> None:
    makefile = (project_root / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"`make ([a-z-]+)", readme(project_root)))
    assert named and named <= targets


def test_the_two_commands_come_first_and_ci_runs_the_test_command(project_root: Path) -> None:
    text = readme(project_root)
    assert text.index("make synth") < text.index("## Deploying")
    assert "make test" in (project_root / ".ci" / "run").read_text()


def test_the_edge_settings_table_is_the_one_generated_from_their_declaration(project_root: Path) -> None:
    assert edge_settings_table.readme_block(readme(project_root)) == edge_settings_table.table(), (
        "README's edge settings differ from edge_core/settings.py: run `python -m tools.edge_settings_table --write`"
    )
