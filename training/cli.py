"""`python -m training <command>`: the operator's command line, a registry of subcommands.

Commands live in the modules named in COMMAND_MODULES and call register(); a later module
adds itself there without touching this file's logic. The dataset, training and evaluation
commands are the container's own (training_job.commands), so a laptop runs exactly what a
pipeline step runs. Bad input ends with one `error: ...` line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from training_job import cli as job_cli
from training_job.cli import USAGE_EXIT, Command, describe_os_error, split_list

__all__ = ["COMMANDS", "USAGE_EXIT", "Command", "build_parser", "describe_os_error", "main", "register", "split_list"]

COMMAND_MODULES = ("training.commands", "training.pipeline_commands", "training.weights_command")
PROG = "python -m training"

COMMANDS: dict[str, Command] = {}


def register(command: Command) -> Command:
    if command.name in COMMANDS:
        raise ValueError(f"command {command.name!r} is registered twice")
    COMMANDS[command.name] = command
    return command


def build_parser() -> argparse.ArgumentParser:
    for module in COMMAND_MODULES:
        importlib.import_module(module)  # each module registers its commands on import
    return job_cli.build_parser(
        COMMANDS.values(), PROG, "Trash sorter training: dataset tools, training, evaluation, upload."
    )


def main(argv: Sequence[str] | None = None) -> int:
    return job_cli.run(build_parser(), argv)
