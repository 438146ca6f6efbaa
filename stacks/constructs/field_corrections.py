"""'Wrong bin?' in the cloud: what a camera may upload, and the corrections as CloudWatch metrics.

A correction (sorter_common.correction) travels from the Pi to the camera on
`<prefix>/<camera>/corrections`. The IoT rule here counts every one of them, whether or not any
camera captures frames: by true class (`CorrectedTo/<class>`), by the label that was shown
(`CorrectedFrom/<label>`), and per pair (`Field/<shown>/<true>`), the cells of the dashboard's
"field confusion" widget. A confirmation (middle press) is a pair on the diagonal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iot as iot
from aws_cdk import aws_logs as logs
from constructs import Construct

from sorter_common.bucket_layout import FIELD_IMAGE_PREFIX, UNLABELLED_PREFIX, class_folder
from sorter_common.classes import UNSURE
from sorter_common.correction import (
    CORRECTED_FROM_METRIC,
    CORRECTED_TO_METRIC,
    CORRECTION_VERSION,
    pair_metric_name,
)
from sorter_common.topics import all_corrections_filter
from stacks.constructs.iot_rule_roles import rule_errors_role, rule_metrics_role


def correction_upload_keys(*, dataset: str, classes: Sequence[str], capture: bool, unsure: bool) -> tuple[str, ...]:
    """The object keys a camera may write (IAM patterns): corrected frames, then unsure samples."""
    keys = [f"{class_folder(dataset, label)}{FIELD_IMAGE_PREFIX}*" for label in classes] if capture else []
    return (*keys, f"{UNLABELLED_PREFIX}*") if unsure else tuple(keys)


def correction_rule_sql(topic_prefix: str, classes: Sequence[str]) -> str:
    """Only this message version with a known true class and shown label: nobody mints metric names."""
    truth = " OR ".join(f"label = '{label}'" for label in classes)
    shown = " OR ".join(f"shown = '{label}'" for label in (*classes, UNSURE))
    return (
        f"SELECT label, shown FROM '{all_corrections_filter(topic_prefix)}' "
        f"WHERE v = {CORRECTION_VERSION} AND ({truth}) AND ({shown})"
    )


class FieldCorrections(Construct):
    """The corrections rule (three counts per correction) and the dashboard widgets that read them."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        topic_prefix: str,
        classes: Sequence[str],
        namespace: str,
        error_log_group: logs.ILogGroup,
        dashboard: cloudwatch.Dashboard,
    ) -> None:
        super().__init__(scope, id_)
        role = rule_metrics_role(self, namespace=namespace, description="IoT rule: put corrections")
        errors_role = rule_errors_role(self, log_group=error_log_group)

        def count(metric_name: str) -> iot.CfnTopicRule.ActionProperty:
            return iot.CfnTopicRule.ActionProperty(
                cloudwatch_metric=iot.CfnTopicRule.CloudwatchMetricActionProperty(
                    metric_namespace=namespace, metric_name=metric_name, metric_value="1", metric_unit="Count",
                    role_arn=role.role_arn,
                )
            )

        self.rule = iot.CfnTopicRule(
            self,
            "Rule",
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                description="Counts the corrections people make at the bin, by true class, shown label and pair",
                sql=correction_rule_sql(topic_prefix, classes),
                aws_iot_sql_version="2016-03-23",
                rule_disabled=False,
                actions=[
                    count(CORRECTED_TO_METRIC + "${label}"),
                    count(CORRECTED_FROM_METRIC + "${shown}"),
                    count(pair_metric_name("${shown}", "${label}")),
                ],
                error_action=iot.CfnTopicRule.ActionProperty(
                    cloudwatch_logs=iot.CfnTopicRule.CloudwatchLogsActionProperty(
                        log_group_name=error_log_group.log_group_name, role_arn=errors_role.role_arn
                    )
                ),
            ),
        )

        def metric(name: str, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace=namespace, metric_name=name, statistic="Sum", label=label,
                                     period=Duration.hours(1))

        shown_labels = (*classes, UNSURE)
        # One row per label shown, one column per true class: the confusion matrix people at the bin make.
        confusion: list[Any] = [
            metric(pair_metric_name(shown, truth), f"shown {shown} -> {truth}")
            for shown in shown_labels
            for truth in classes
        ]
        dashboard.add_widgets(
            cloudwatch.TableWidget(
                title="Field confusion: shown -> corrected to (dashboard time range)",
                metrics=confusion,
                summary=cloudwatch.TableSummaryProps(
                    columns=[cloudwatch.TableSummaryColumn.SUM], hide_non_summary_columns=True
                ),
                width=12,
                height=10,
            ),
            cloudwatch.GraphWidget(
                title="Corrections by true class and by shown label (1 hour)",
                left=[metric(CORRECTED_TO_METRIC + label, f"to {label}") for label in classes],
                right=[metric(CORRECTED_FROM_METRIC + label, f"from {label}") for label in shown_labels],
                width=12,
                height=10,
            ),
        )
