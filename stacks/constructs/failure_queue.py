"""Where the events a function could not handle go, and an alarm when any arrives.

Both kinds of failure land in one queue: EventBridge could not invoke the function, or the
function failed after Lambda's own retries. Kept 14 days, so an event can be replayed.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.checkov import acknowledge_check
from stacks.nag import acknowledge

LAMBDA_RETRIES = 2
EVENTBRIDGE_RETRIES = 4


class FailureQueue(Construct):
    def __init__(
        self, scope: Construct, id_: str, *, function: lambda_.Function, holds: str, alarm_description: str
    ) -> None:
        """`holds` names whose failures land here, for the reviewer reading the acknowledgment."""
        super().__init__(scope, id_)
        self.function = function
        self.queue = sqs.Queue(
            self,
            "Queue",
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            f"This queue is itself the dead-letter queue of {holds}; a dead-letter queue needs none of its own.",
        )
        acknowledge_check(
            self.queue,
            "CKV_AWS_27",
            "Encrypted at rest with SQS-managed SSE (SqsManagedSseEnabled, set above); checkov only recognises a KMS "
            "key, which would need key-policy grants for EventBridge and Lambda to deliver failed events that carry "
            "no secrets.",
        )
        acknowledge_check(
            function,
            "CKV_AWS_116",
            f"Failed asynchronous invocations of {holds} go to this FailureQueue through Lambda's on-failure "
            "destination, which supersedes a dead-letter queue and raises an alarm; checkov reads only "
            "DeadLetterConfig.",
        )
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.queue), retry_attempts=LAMBDA_RETRIES
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_description=alarm_description,
            metric=self.queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def target(self, event: events.RuleTargetInput | None = None) -> targets.LambdaFunction:
        """The function as an EventBridge target whose delivery failures land in the same queue."""
        return targets.LambdaFunction(
            self.function, event=event, dead_letter_queue=self.queue, retry_attempts=EVENTBRIDGE_RETRIES
        )
