"""`python -m training <command>`: a registry of subcommands, each with its own --help.

Commands live in the modules named in COMMAND_MODULES and call register(); a later module
(the SageMaker pipeline commands) adds itself there without touching this file's logic.
Bad input ends with one `error: ...` line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from sorter_common.classes import ClassListError
from training.errors import UsageError

USAGE_EXIT = 2
COMMAND_MODULES = ("training.commands", "training.pipeline_commands", "training.weights_command")


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def register(command: Command) -> Command:
    if command.name in COMMANDS:
        raise ValueError(f"command {command.name!r} is registered twice")
    COMMANDS[command.name] = command
    return command


def build_parser() -> argparse.ArgumentParser:
    for module in COMMAND_MODULES:
        importlib.import_module(module)  # each module registers its commands on import
    parser = argparse.ArgumentParser(
        prog="python -m training", description="Trash sorter training: dataset tools, training, evaluation, upload."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS.values():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        result: int = args.handler(args)
        return result
    except (UsageError, ClassListError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_EXIT
    except OSError as error:  # a file that cannot be read or written: name it, no traceback
        print(f"error: {describe_os_error(error)}", file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def describe_os_error(error: OSError) -> str:
    if error.filename is not None and error.strerror:
        return f"cannot use {error.filename}: {error.strerror}"
    return str(error)


def split_list(text: str) -> list[str]:
    """'a,b , c' -> ['a', 'b', 'c'] (the config's way of writing lists)."""
    return [item.strip() for item in text.split(",") if item.strip()]
