"""TrashSorterIot: the Pi's identity (thing, certificate, policy), the decision and correction metrics."""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Fn, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct

from sorter_common.iot_identity import (
    METRICS_NAMESPACE,
    OUTPUT_CERTIFICATE_ARN,
    OUTPUT_CERTIFICATE_ID,
    OUTPUT_CLASSES,
    OUTPUT_PROVISION_COMMAND,
    OUTPUT_SECRET_ARN,
    OUTPUT_THING_NAME,
    OUTPUT_TOPIC_PREFIX,
    PI_CONFIG_DIR,
    private_key_secret_name,
)
from stacks.config import IotConfig
from stacks.constructs.decision_metrics import DecisionMetrics
from stacks.constructs.field_corrections import FieldCorrections
from stacks.constructs.pi_identity import PiIdentity

LOG_RETENTION = logs.RetentionDays.ONE_YEAR


class IotStack(Stack):
    """Everything the Pi needs in AWS IoT; `python -m device.provision` reads its outputs."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: IotConfig,
        classes: tuple[str, ...],
        topic_prefix: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)

        self.pi = PiIdentity(
            self,
            "Pi",
            thing_name=config.pi_thing_name,
            topic_prefix=topic_prefix,
            secret_name=private_key_secret_name(config.pi_thing_name),
            log_retention=LOG_RETENTION,
        )
        self.metrics = DecisionMetrics(
            self,
            "Decisions",
            topic_prefix=topic_prefix,
            classes=classes,
            namespace=METRICS_NAMESPACE,
            log_retention=LOG_RETENTION,
        )
        self.corrections = FieldCorrections(
            self,
            "Corrections",
            topic_prefix=topic_prefix,
            classes=classes,
            namespace=METRICS_NAMESPACE,
            error_log_group=self.metrics.error_log_group,
            dashboard=self.metrics.dashboard,
        )

        certificate = self.pi.certificate
        CfnOutput(self, OUTPUT_THING_NAME, value=self.pi.thing.ref, description="The Pi's IoT thing and client id")
        CfnOutput(self, OUTPUT_CERTIFICATE_ID, value=certificate.certificate_id, description="The Pi's certificate")
        CfnOutput(self, OUTPUT_CERTIFICATE_ARN, value=certificate.certificate_arn, description="The Pi's certificate")
        CfnOutput(
            self,
            OUTPUT_SECRET_ARN,
            value=certificate.secret_arn,
            description="Secrets Manager secret holding the Pi's private key (the ARN, never the value)",
        )
        CfnOutput(
            self,
            OUTPUT_PROVISION_COMMAND,
            value=Fn.join(
                "",
                [
                    f"python -m device.provision --stack {self.stack_name} --region ",
                    Aws.REGION,
                    f" --out {PI_CONFIG_DIR}",
                ],
            ),
            description="Run with your AWS credentials to write the Pi's certificate, key, CA, endpoint and classes",
        )
        # The Pi shows exactly these classes and subscribes under this prefix (device.provision copies them).
        CfnOutput(
            self, OUTPUT_CLASSES, value=",".join(classes), description="The project's class ids, comma-separated"
        )
        CfnOutput(self, OUTPUT_TOPIC_PREFIX, value=topic_prefix, description="The cameras' MQTT topic prefix")
        CfnOutput(self, "DashboardName", value=self.metrics.dashboard.dashboard_name, description="Decisions per bin")
