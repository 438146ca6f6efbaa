"""A command line of subcommands, each with its own --help; shared by the jobs and the operator.

Bad input ends with one `error: ...` line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sorter_common.classes import ClassListError
from training_job.errors import UsageError

USAGE_EXIT = 2


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def build_parser(commands: Iterable[Command], prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(handler=command.run)
    return parser


def main(commands: Iterable[Command], prog: str, description: str, argv: Sequence[str] | None = None) -> int:
    return run(build_parser(commands, prog, description), argv)


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
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


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
