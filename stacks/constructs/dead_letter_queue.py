"""A dead-letter queue for events a function could not take: kept 14 days so they can be replayed."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.nag import acknowledge


def dead_letter_queue(scope: Construct, id_: str, *, holds: str) -> sqs.Queue:
    """`holds` says whose failures land here, for the reviewer reading the acknowledgment."""
    queue = sqs.Queue(
        scope,
        id_,
        enforce_ssl=True,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        retention_period=Duration.days(14),
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is itself the dead-letter queue of {holds}; a dead-letter queue needs none of its own.",
    )
    return queue
