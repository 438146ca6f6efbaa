"""Before `make deploy`: say plainly when no AWS credentials are configured, instead of a stack trace."""

from __future__ import annotations

import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError


def main() -> int:
    session = boto3.Session()
    if session.get_credentials() is None:
        print(
            "deploy error: no AWS credentials found. Configure a profile (aws configure / aws sso login) "
            "and run `AWS_PROFILE=<profile> make deploy`; `make synth` and `make diff` need none.",
            file=sys.stderr,
        )
        return 1
    try:
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        print(f"deploy error: the AWS credentials were refused ({error}); refresh them and retry.", file=sys.stderr)
        return 1
    print(f"deploying as {identity['Arn']} (account {identity['Account']}, profile {session.profile_name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
