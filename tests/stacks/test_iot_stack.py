"""TrashSorterIot: the Pi may only listen, its key never appears in the template, decisions are counted."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from sorter_common.iot_identity import (
    OUTPUT_CERTIFICATE_ARN,
    OUTPUT_PROVISION_COMMAND,
    OUTPUT_SECRET_ARN,
    OUTPUT_THING_NAME,
)
from stacks.constructs.pi_certificate import RESOURCE_TYPE
from tests.stacks.synth import SynthesizedApp

IOT = "TrashSorterIot"


def iot_arn(suffix: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:aws:iot:us-east-1:", {"Ref": "AWS::AccountId"}, f":{suffix}"]]}


def only(app: SynthesizedApp, resource_type: str) -> tuple[str, dict[str, Any]]:
    resources = app.template(IOT).find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {list(resources)}"
    name, resource = next(iter(resources.items()))
    return name, dict(resource)


def decision_rule(app: SynthesizedApp) -> dict[str, Any]:
    """The predictions rule (the corrections rule is tested in test_field_corrections)."""
    rules = app.template(IOT).find_resources("AWS::IoT::TopicRule")
    (rule,) = [r for r in rules.values() if "/predictions'" in r["Properties"]["TopicRulePayload"]["Sql"]]
    return dict(rule)


def test_the_pi_policy_allows_exactly_connect_as_itself_listening_publishing_corrections_and_discovery(
    synthesized_app: SynthesizedApp,
) -> None:
    _, policy = only(synthesized_app, "AWS::IoT::Policy")
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "iot:Connect",
            "Resource": iot_arn("client/trash-sorter-pi"),
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
        },
        {
            "Effect": "Allow",
            "Action": "iot:Subscribe",
            "Resource": [
                iot_arn("topicfilter/trash-sorter/+/predictions"),
                iot_arn("topicfilter/trash-sorter/+/status"),
            ],
        },
        {
            "Effect": "Allow",
            "Action": "iot:Receive",
            "Resource": [iot_arn("topic/trash-sorter/*/predictions"), iot_arn("topic/trash-sorter/*/status")],
        },
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": iot_arn("topic/trash-sorter/*/corrections")},
        # The local path: Greengrass discovery for its own thing only.
        {"Effect": "Allow", "Action": "greengrass:Discover", "Resource": iot_arn("thing/trash-sorter-pi")},
    ]


def test_the_certificate_is_made_by_the_custom_resource_and_attached_to_the_thing_and_the_policy(
    synthesized_app: SynthesizedApp,
) -> None:
    template = synthesized_app.template(IOT)
    thing_id, thing = only(synthesized_app, "AWS::IoT::Thing")
    policy_id, _ = only(synthesized_app, "AWS::IoT::Policy")
    certificate_id, certificate = only(synthesized_app, RESOURCE_TYPE)
    function_id, function = only(synthesized_app, "AWS::Lambda::Function")

    assert thing["Properties"]["ThingName"] == "trash-sorter-pi"
    assert certificate["Properties"] == {
        "ServiceToken": {"Fn::GetAtt": [function_id, "Arn"]},
        "ThingName": {"Ref": thing_id},
        "PolicyName": {"Ref": policy_id},
        "SecretName": "trash-sorter/trash-sorter-pi/private-key",
    }
    assert function["Properties"]["Runtime"] == "python3.14"
    assert function["Properties"]["Handler"] == "index.handler"
    certificate_arn = {"Fn::GetAtt": [certificate_id, "CertificateArn"]}
    template.has_resource_properties(
        "AWS::IoT::ThingPrincipalAttachment", {"ThingName": {"Ref": thing_id}, "Principal": certificate_arn}
    )
    template.has_resource_properties(
        "AWS::IoT::PolicyPrincipalAttachment", {"PolicyName": {"Ref": policy_id}, "Principal": certificate_arn}
    )


def test_the_certificate_function_may_touch_only_certificates_its_thing_and_its_own_secret(
    synthesized_app: SynthesizedApp,
) -> None:
    _, function = only(synthesized_app, "AWS::Lambda::Function")
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = synthesized_app.template(IOT).to_json()["Resources"][role_id]
    statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    by_action = {
        action: s["Resource"]
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert set(by_action) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "iot:CreateKeysAndCertificate",
        "iot:DescribeCertificate",
        "iot:UpdateCertificate",
        "iot:DeleteCertificate",
        "iot:DetachPolicy",
        "iot:DetachThingPrincipal",
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
        "secretsmanager:DescribeSecret",
        "secretsmanager:DeleteSecret",
    }
    assert by_action["iot:CreateKeysAndCertificate"] == "*"  # the action has no resource-level permissions
    assert by_action["iot:DeleteCertificate"] == iot_arn("cert/*")
    assert by_action["secretsmanager:DeleteSecret"] == {
        "Fn::Join": [
            "",
            [
                "arn:aws:secretsmanager:us-east-1:",
                {"Ref": "AWS::AccountId"},
                ":secret:trash-sorter/trash-sorter-pi/private-key-??????",
            ],
        ]
    }
    assert role.get("DependsOn") is None and function.get("DependsOn") is None


def test_the_lambda_logs_to_a_log_group_with_retention(synthesized_app: SynthesizedApp) -> None:
    _, function = only(synthesized_app, "AWS::Lambda::Function")
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = synthesized_app.template(IOT).to_json()["Resources"][log_group_id]
    assert log_group["Properties"]["RetentionInDays"] == 365


def test_no_private_key_or_certificate_pem_anywhere_in_the_template(synthesized_app: SynthesizedApp) -> None:
    text = json.dumps(synthesized_app.templates[IOT])
    # PEM armour, or the CreateKeysAndCertificate / GetSecretValue fields that would carry them.
    for forbidden in ("PRIVATE KEY", "BEGIN CERTIFICATE", '"PrivateKey"', "certificatePem", "keyPair", "SecretString"):
        assert forbidden not in text
    certificate_id, _ = only(synthesized_app, RESOURCE_TYPE)
    attributes = {
        value["Fn::GetAtt"][1]
        for value in (output["Value"] for output in synthesized_app.templates[IOT]["Outputs"].values())
        if "Fn::GetAtt" in value and value["Fn::GetAtt"][0] == certificate_id
    }
    assert attributes == {"CertificateId", "CertificateArn", "SecretArn"}


def test_outputs_name_the_thing_certificate_secret_and_the_provisioning_command(
    synthesized_app: SynthesizedApp,
) -> None:
    certificate_id, _ = only(synthesized_app, RESOURCE_TYPE)
    thing_id, _ = only(synthesized_app, "AWS::IoT::Thing")
    outputs = synthesized_app.templates[IOT]["Outputs"]
    assert outputs[OUTPUT_THING_NAME]["Value"] == {"Ref": thing_id}
    assert outputs[OUTPUT_CERTIFICATE_ARN]["Value"] == {"Fn::GetAtt": [certificate_id, "CertificateArn"]}
    assert outputs[OUTPUT_SECRET_ARN]["Value"] == {"Fn::GetAtt": [certificate_id, "SecretArn"]}
    assert outputs[OUTPUT_PROVISION_COMMAND]["Value"] == {
        "Fn::Join": [
            "",
            [
                "python -m device.provision --stack TrashSorterIot --region ",
                {"Ref": "AWS::Region"},
                " --out /etc/trash-sorter",
            ],
        ]
    }


def test_the_rule_counts_known_labels_per_bin_and_logs_its_errors(synthesized_app: SynthesizedApp) -> None:
    rule = decision_rule(synthesized_app)
    payload = rule["Properties"]["TopicRulePayload"]
    assert payload["Sql"] == (
        "SELECT label FROM 'trash-sorter/+/predictions' WHERE v = 1 AND "
        "(label = 'compost' OR label = 'landfill' OR label = 'recycling' OR label = 'unsure')"
    )
    [action] = payload["Actions"]
    metric = action["CloudwatchMetric"]
    assert (metric["MetricNamespace"], metric["MetricName"], metric["MetricValue"], metric["MetricUnit"]) == (
        "TrashSorter",
        "${label}",
        "1",
        "Count",
    )
    assert "CloudwatchLogs" in payload["ErrorAction"]


def test_the_rule_role_may_only_put_metrics_in_the_sorter_namespace(synthesized_app: SynthesizedApp) -> None:
    rule = decision_rule(synthesized_app)
    role_id = rule["Properties"]["TopicRulePayload"]["Actions"][0]["CloudwatchMetric"]["RoleArn"]["Fn::GetAtt"][0]
    synthesized_app.template(IOT).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role_id}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "cloudwatch:PutMetricData",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"cloudwatch:namespace": "TrashSorter"}},
                    }
                ]
            },
        },
    )
    synthesized_app.template(IOT).has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Principal": {"Service": "iot.amazonaws.com"},
                            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        }
                    )
                ]
            }
        },
    )


def test_the_dashboard_graphs_every_bin(synthesized_app: SynthesizedApp) -> None:
    _, dashboard = only(synthesized_app, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for label in ("compost", "landfill", "recycling", "unsure"):
        assert f'[\\"TrashSorter\\",\\"{label}\\"' in body
