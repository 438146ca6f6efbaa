"""TrashSorterDeepLens: the python3.7 function behind an alias, its pinned Greengrass V1 group, least privilege."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Match, Template

from stacks.config import load_config
from stacks.deeplens_stack import DeepLensStack
from tests.stacks.synth import SynthesizedApp
from tools.cdk_context import ALL_TARGETS_CONTEXT, DEEPLENS_CERTIFICATE_ARN, DEEPLENS_MODEL_KEY, DEEPLENS_THING_ARN

STACK = "TrashSorterDeepLens"


def only(template: Template, resource_type: str) -> Any:
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, resources
    return next(iter(resources.values()))


def test_the_function_is_python_3_7_with_an_alias_the_group_runs(synthesized_app: SynthesizedApp) -> None:
    template = synthesized_app.template(STACK)
    template.has_resource_properties(
        "AWS::Lambda::Function", {"Runtime": "python3.7", "Handler": "deeplens_inference.index.function_handler"}
    )
    alias_id = next(iter(template.find_resources("AWS::Lambda::Alias")))
    function = only(template, "AWS::Greengrass::FunctionDefinition")["Properties"]["InitialVersion"]["Functions"][0]
    assert function["FunctionArn"] == {"Ref": alias_id}  # the alias, never $LATEST
    configuration = function["FunctionConfiguration"]
    assert configuration["Pinned"] is True
    assert configuration["MemorySize"] == 1536 * 1024
    access = configuration["Environment"]["ResourceAccessPolicies"]
    policies = {policy["ResourceId"]: policy["Permission"] for policy in access}
    assert policies == {"gpu": "rw", "camera-output": "ro", "project-stream": "rw", "model": "rw"}
    assert configuration["Environment"]["Variables"]["THING_NAME"] == "deeplens_trash_sorter"


def test_subscriptions_send_predictions_and_status_to_the_cloud(synthesized_app: SynthesizedApp) -> None:
    template = synthesized_app.template(STACK)
    alias_id = next(iter(template.find_resources("AWS::Lambda::Alias")))
    subscriptions = only(template, "AWS::Greengrass::SubscriptionDefinition")["Properties"]["InitialVersion"]
    assert sorted((item["Subject"], item["Target"]) for item in subscriptions["Subscriptions"]) == [
        ("trash-sorter/deeplens_trash_sorter/predictions", "cloud"),
        ("trash-sorter/deeplens_trash_sorter/status", "cloud"),
    ]
    assert all(item["Source"] == {"Ref": alias_id} for item in subscriptions["Subscriptions"])
    core = only(template, "AWS::Greengrass::CoreDefinition")["Properties"]["InitialVersion"]["Cores"][0]
    assert core["ThingArn"] == DEEPLENS_THING_ARN


def test_the_group_delivers_the_configured_model_to_the_folder_mo_optimize_reads(
    synthesized_app: SynthesizedApp,
) -> None:
    template = synthesized_app.template(STACK)
    resources = only(template, "AWS::Greengrass::ResourceDefinition")["Properties"]["InitialVersion"]["Resources"]
    by_id = {resource["Id"]: resource["ResourceDataContainer"] for resource in resources}
    model = by_id["model"]["S3MachineLearningModelResourceData"]
    assert model["DestinationPath"] == "/opt/awscam/artifacts"
    uri = json.dumps(model["S3Uri"])
    assert uri.startswith('{"Fn::Join": ["", ["s3://", {"Fn::Join": ["-", ["deeplens-trash-sorter"')
    assert uri.endswith(f'"/{DEEPLENS_MODEL_KEY}"]]}}')
    # No local volume competes with the model resource for its folder.
    others = [json.dumps(container) for key, container in by_id.items() if key != "model"]
    assert others and all("/opt/awscam/artifacts" not in container for container in others)


def test_the_group_role_reads_exactly_the_model_object(synthesized_app: SynthesizedApp) -> None:
    template = synthesized_app.template(STACK)
    statements = [
        statement
        for role in template.find_resources("AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if "s3:GetObject" in _as_list(statement["Action"])
    ]
    assert len(statements) == 1
    assert _as_list(statements[0]["Action"]) == ["s3:GetObject"]
    resource = json.dumps(statements[0]["Resource"])
    assert resource.endswith(f'"/{DEEPLENS_MODEL_KEY}"]]}}') and "*" not in resource


def test_the_core_certificate_may_connect_as_the_core_and_publish_only_its_topics(
    synthesized_app: SynthesizedApp,
) -> None:
    template = synthesized_app.template(STACK)
    policy = only(template, "AWS::IoT::Policy")["Properties"]["PolicyDocument"]
    by_action = {statement["Action"]: json.dumps(statement["Resource"]) for statement in policy["Statement"]}
    assert set(by_action) == {"iot:Connect", "iot:Publish"}
    assert ":client/deeplens_trash_sorter\"" in by_action["iot:Connect"]
    assert ":client/deeplens_trash_sorter-*\"" in by_action["iot:Connect"]
    assert by_action["iot:Publish"].count(":topic/") == 2
    assert ":topic/trash-sorter/deeplens_trash_sorter/predictions\"" in by_action["iot:Publish"]
    assert ":topic/trash-sorter/deeplens_trash_sorter/status\"" in by_action["iot:Publish"]
    policy_id = next(iter(template.find_resources("AWS::IoT::Policy")))
    template.has_resource_properties(
        "AWS::IoT::PolicyPrincipalAttachment", {"PolicyName": {"Ref": policy_id}, "Principal": DEEPLENS_CERTIFICATE_ARN}
    )


def test_no_policy_has_a_wildcard_action_and_the_group_role_only_reads_its_model_and_writes_logs(
    synthesized_app: SynthesizedApp,
) -> None:
    template = synthesized_app.template(STACK)
    statements = [
        statement
        for role in template.find_resources("AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ] + [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    actions = [action for statement in statements for action in _as_list(statement["Action"])]
    assert actions and not any("*" in action for action in actions)
    assert set(actions) <= {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject"}
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {"Statement": [Match.object_like({"Principal": {"Service": "greengrass.amazonaws.com"}})]}
            )
        },
    )


def test_outputs_give_the_group_its_version_and_the_deploy_command(synthesized_app: SynthesizedApp) -> None:
    outputs = synthesized_app.templates[STACK]["Outputs"]
    assert {"GroupId", "GroupVersionId", "DeployCommand"} <= set(outputs)
    assert "aws greengrass create-deployment --deployment-type NewDeployment --group-id " in json.dumps(
        outputs["DeployCommand"]["Value"]
    )


def test_a_published_version_arn_replaces_the_function() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:deeplens-trash-sorter:4"
    app = cdk.App()
    config = load_config({**ALL_TARGETS_CONTEXT, "deeplensFunctionVersionArn": arn})
    stack = DeepLensStack(
        app, STACK, config=config.deeplens, topic_prefix=config.topic_prefix, bucket_name="deeplens-my-data"
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Lambda::Function", 0)
    function = only(template, "AWS::Greengrass::FunctionDefinition")["Properties"]["InitialVersion"]["Functions"][0]
    assert function["FunctionArn"] == arn
    assert json.dumps(template.to_json()).count("/aws/greengrass/Lambda/") == 1
    assert "deeplens-trash-sorter:*" in json.dumps(template.to_json())


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]
