from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from training import cli


@pytest.mark.parametrize("command", ["sample", "prepare", "upload", "train", "evaluate"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: python -m training {command}" in capsys.readouterr().out


def test_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for command in ("sample", "prepare", "upload", "train", "evaluate"):
        assert command in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "{tmp}", "{tmp}/model", "--no-pretrained"], "error: {tmp} is not a prepared folder (no train.lst)"),
        (["train", "{tmp}", "{tmp}/model", "--epochs", "0"], "error: --epochs must be at least 1"),
        (["evaluate", "{tmp}/model.tar.gz", "{tmp}", "{tmp}/out"], "error: {tmp}/test.lst does not exist"),
        (["upload", "{tmp}/f", "s3://deeplens-x/p"], "error: {tmp}/f is not a folder"),  # checked before any S3 call
        (["sample", "{tmp}/s", "--classes", "Compost,landfill"], "error: class id 'Compost' is not allowed"),
    ],
)
def test_bad_input_gives_one_error_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_text("x")
    code = cli.main([arg.format(tmp=tmp_path) for arg in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == cli.USAGE_EXIT
    assert len(err) == 1 and err[0].startswith(message.format(tmp=tmp_path))


def test_registry_accepts_new_commands_and_refuses_duplicates(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))
    seen: list[str] = []

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name")

    def run(args: argparse.Namespace) -> int:
        seen.append(args.name)
        return 0

    cli.register(cli.Command("pipeline-test", "a later issue's command", configure, run))
    assert cli.main(["pipeline-test", "x"]) == 0 and seen == ["x"]
    with pytest.raises(ValueError, match="registered twice"):
        cli.register(cli.Command("pipeline-test", "again", configure, run))
