"""The one error type the command lines turn into a single line and exit status 2."""


class UsageError(Exception):
    """Bad input from the user (a path, a bucket name, an option); the message says what to fix."""
