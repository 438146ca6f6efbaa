"""Counts the camera's decisions per bin into CloudWatch and shows them on a small dashboard."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iot as iot
from aws_cdk import aws_logs as logs
from constructs import Construct

from sorter_common.classes import UNSURE
from sorter_common.message import SCHEMA_VERSION
from sorter_common.topics import all_predictions_filter
from stacks.constructs.iot_rule_roles import rule_errors_role, rule_metrics_role


def decision_rule_sql(topic_prefix: str, labels: Sequence[str]) -> str:
    """Only known labels of the current message version: a faulty camera cannot mint metric names."""
    known = " OR ".join(f"label = '{label}'" for label in labels)
    return f"SELECT label FROM '{all_predictions_filter(topic_prefix)}' WHERE v = {SCHEMA_VERSION} AND ({known})"


class DecisionMetrics(Construct):
    """An IoT rule turning each prediction into a count under the metric named after its label."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        topic_prefix: str,
        classes: Sequence[str],
        namespace: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        self.labels = (*classes, UNSURE)
        put_role = rule_metrics_role(self, namespace=namespace, description="IoT rule: put decisions")

        # Where the rule reports actions that failed (throttling, a missing permission).
        self.error_log_group = logs.LogGroup(self, "RuleErrors", retention=log_retention)
        errors_role = rule_errors_role(self, log_group=self.error_log_group)

        self.rule = iot.CfnTopicRule(
            self,
            "Rule",
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                description="Counts the trash sorter's decisions per bin into CloudWatch metrics",
                sql=decision_rule_sql(topic_prefix, self.labels),
                aws_iot_sql_version="2016-03-23",
                rule_disabled=False,
                actions=[
                    iot.CfnTopicRule.ActionProperty(
                        cloudwatch_metric=iot.CfnTopicRule.CloudwatchMetricActionProperty(
                            metric_namespace=namespace,
                            # The action has no dimensions: the label is the metric name instead.
                            metric_name="${label}",
                            metric_value="1",
                            metric_unit="Count",
                            role_arn=put_role.role_arn,
                        )
                    )
                ],
                error_action=iot.CfnTopicRule.ActionProperty(
                    cloudwatch_logs=iot.CfnTopicRule.CloudwatchLogsActionProperty(
                        log_group_name=self.error_log_group.log_group_name,
                        role_arn=errors_role.role_arn,
                    )
                ),
            ),
        )

        per_bin = [
            cloudwatch.Metric(
                namespace=namespace, metric_name=label, statistic="Sum", period=Duration.minutes(5), label=label
            )
            for label in self.labels
        ]
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            widgets=[
                [
                    cloudwatch.GraphWidget(title="Decisions per bin (5 minutes)", left=per_bin, stacked=True, width=16),
                    cloudwatch.SingleValueWidget(
                        title="Decisions per bin (dashboard time range)",
                        metrics=per_bin,
                        set_period_to_time_range=True,
                        width=8,
                    ),
                ]
            ],
        )
