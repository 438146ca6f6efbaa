"""The one error type the command line turns into a single line and exit status 2."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sorter_common.aws_errors import describe_aws_error


class UsageError(Exception):
    """Bad input from the user (a path, a bucket name, an option); the message says what to fix."""


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn any botocore error raised inside into a UsageError carrying its one-line explanation."""
    try:
        yield
    except Exception as error:
        message = describe_aws_error(error)
        if message is None:
            raise
        raise UsageError(message) from None
