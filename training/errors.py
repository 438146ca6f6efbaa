"""AWS errors from the operator's commands, as the one-line UsageError the command line prints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sorter_common.aws_errors import describe_aws_error
from training_job.errors import UsageError


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
