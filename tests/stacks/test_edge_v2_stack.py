"""TrashSorterEdgeV2: recipes, artifacts in the stack's own bucket, deployment, access scoping, promotion, outputs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Match, Template

from sorter_common.greengrass_components import APPLICATION_COMPONENT, MODEL_COMPONENT
from stacks.app_builder import build_stacks
from stacks.config import load_config
from tests.stacks.synth import SynthesizedApp
from tools.cdk_context import cdk_json_context

STACK = "TrashSorterEdgeV2"


def recipes(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Inline recipes by component name, with CloudFormation's Fn::Join rendered (tokens kept as {Ref})."""
    found = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::GreengrassV2::ComponentVersion":
            recipe = resource["Properties"]["InlineRecipe"]
            text = (
                recipe
                if isinstance(recipe, str)
                else "".join(part if isinstance(part, str) else json.dumps(part) for part in recipe["Fn::Join"][1])
            )
            found_recipe = _loose_parse(text)
            found[found_recipe["ComponentName"]] = found_recipe
    return found


def _loose_parse(text: str) -> dict[str, Any]:
    # Tokens are JSON objects spliced into strings; make each a placeholder before parsing.
    return dict(json.loads(re.sub(r'\{"(Ref|Fn::[A-Za-z]+)":[^{}]*(\{[^{}]*\}[^{}]*)*\}', "TOKEN", text)))


def test_the_application_recipe_is_valid_with_lifecycle_platforms_and_its_own_artifact(
    synthesized_app: SynthesizedApp,
) -> None:
    template = synthesized_app.templates[STACK]
    recipe = recipes(template)[APPLICATION_COMPONENT]
    assert recipe["RecipeFormatVersion"] == "2020-01-25"
    assert recipe["ComponentVersion"].startswith("1.0.")
    assert recipe["ComponentDependencies"][MODEL_COMPONENT]["DependencyType"] == "HARD"
    manifests = recipe["Manifests"]
    assert sorted(m["Platform"]["architecture"] for m in manifests) == ["aarch64", "amd64"]
    assert all(m["Platform"]["os"] == "linux" for m in manifests)
    stack = synthesized_app.stacks.edge_v2
    assert stack is not None
    key = stack.application.artifact_key
    for manifest in manifests:
        install, run = manifest["Lifecycle"]["Install"]["Script"], manifest["Lifecycle"]["Run"]["Script"]
        setenv = manifest["Lifecycle"]["Setenv"]
        assert (
            'python3 -m venv "$TRASH_SORTER_VENV"' in install and '-r "$TRASH_SORTER_APP/requirements.txt"' in install
        )
        assert "--only-binary=:all:" in install  # a missing wheel fails at once, never a source build on a Pi
        assert setenv["TRASH_SORTER_VENV"] == "{work:path}/venv" and setenv["TRASH_SORTER_APP"] == "{work:path}/app"
        assert "-m device.greengrass_component --transport ipc" in run
        assert setenv["TRASH_SORTER_MODEL"] == "{" + MODEL_COMPONENT + ":artifacts:path}/model.tar.gz"
        (artifact,) = manifest["Artifacts"]
        # s3://<the data bucket, the same Fn::Join as the data stack>/edge/...: the stack's own asset.
        assert artifact["Uri"] == f"s3://TOKEN/{key}"
    assert key.startswith("edge/com.trashsorter.Inference/") and key.endswith("/trash-sorter-inference.tar.gz")
    # At deploy time the archive named in the recipe is copied from its CDK asset to exactly that key.
    (copy,) = synthesized_app.template(STACK).find_resources("Custom::AWS").values()
    create = json.dumps(copy["Properties"]["Create"])
    assert '\\"action\\":\\"copyObject\\"' in create and f'\\"Key\\":\\"{key}\\"' in create
    defaults = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    assert defaults["Source"] == "0" and 0 < defaults["ConfidenceThreshold"] < 1
    assert defaults["accessControl"]["aws.greengrass.ipc.mqttproxy"]


def test_the_component_archive_holds_the_component_its_core_and_pinned_requirements() -> None:
    import tarfile

    from stacks.constructs.inference_component import BUILD_DIR, component_archive_files
    from stacks.training_pipeline.source_bundle import write_archive

    archive = write_archive(component_archive_files(), BUILD_DIR, "check.tar.gz")
    with tarfile.open(archive) as opened:
        names = set(opened.getnames())
        requirements = opened.extractfile("requirements.txt").read().decode()  # type: ignore[union-attr]
    assert {
        "device/greengrass_component/__main__.py",
        "edge_core/loop.py",
        "sorter_common/message.py",
        "device/mqtt_link.py",
    } <= names
    assert not any("__pycache__" in name for name in names)
    assert not any(name.startswith("testbed/") for name in names)  # scaffolding never ships
    pins = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins)


def test_the_deployment_targets_the_thing_group_with_the_application(synthesized_app: SynthesizedApp) -> None:
    template = synthesized_app.template(STACK)
    template.has_resource_properties("AWS::IoT::ThingGroup", {"ThingGroupName": "trash-sorter-cameras"})
    stack = synthesized_app.stacks.edge_v2
    assert stack is not None
    template.has_resource_properties(
        "AWS::GreengrassV2::Deployment",
        {
            "TargetArn": Match.object_like({"Fn::Join": Match.any_value()}),
            "Components": {APPLICATION_COMPONENT: {"ComponentVersion": stack.application.version}},
            "DeploymentPolicies": Match.object_like({"FailureHandlingPolicy": "ROLLBACK"}),
        },
    )
    # No initial model configured: only the application component version is in the stack.
    assert len(template.find_resources("AWS::GreengrassV2::ComponentVersion")) == 1


def test_an_initial_model_key_adds_the_model_component_from_models(tmp_path: Any) -> None:
    app = cdk.App(
        outdir=str(tmp_path),
        context={**cdk_json_context(), "greengrassInitialModelKey": "models/job-1/output/model.tar.gz"},
    )
    stacks = build_stacks(app, load_config(app.node.get_all_context()))
    assert stacks.edge_v2 is not None and stacks.deeplens is None
    template = Template.from_stack(stacks.edge_v2)
    found = recipes(template.to_json())
    model = found[MODEL_COMPONENT]
    assert model["ComponentVersion"] == "0.1.0"
    assert model["Manifests"][0]["Artifacts"][0]["Uri"] == "s3://TOKEN/models/job-1/output/model.tar.gz"


def _statements(template: Template, resource_type: str) -> list[dict[str, Any]]:
    found = []
    for resource in template.find_resources(resource_type).values():
        properties = resource["Properties"]
        documents = [p["PolicyDocument"] for p in properties.get("Policies", [])] if "Policies" in properties else []
        documents += [properties["PolicyDocument"]] if "PolicyDocument" in properties else []
        found += [statement for document in documents for statement in document["Statement"]]
    return found


def test_the_token_exchange_role_reads_only_the_artifact_prefixes(synthesized_app: SynthesizedApp) -> None:
    template = synthesized_app.template(STACK)
    roles = template.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": Match.object_like(
                    {"Statement": [Match.object_like({"Principal": {"Service": "credentials.iot.amazonaws.com"}})]}
                )
            }
        },
    )
    (role,) = roles.values()
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statements] == ["s3:GetObject", "s3:GetBucketLocation"]
    suffixes = [resource["Fn::Join"][1][-1] for resource in statements[0]["Resource"]]
    assert suffixes == ["/edge/*", "/models/*"]
    template.has_resource_properties("AWS::IoT::RoleAlias", {"RoleAlias": "trash-sorter-greengrass-tes"})


def test_the_core_policy_is_scoped_by_the_camera_naming_rule_without_thing_policy_variables(
    synthesized_app: SynthesizedApp,
) -> None:
    template = synthesized_app.template(STACK)
    (policy,) = template.find_resources("AWS::IoT::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    # Greengrass does not support thing policy variables for core devices (device-auth docs).
    assert "${iot:" not in json.dumps(statements)
    by_action = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            by_action[action] = json.dumps(statement["Resource"])
    cameras = "trash-sorter-cam-*"
    # The nucleus's extra connections are <thing>#2, #3...: the naming rule as a prefix, nothing wider.
    assert by_action["iot:Connect"].endswith(f':client/{cameras}"]]}}')
    assert f"topic/trash-sorter/{cameras}/predictions" in by_action["iot:Publish"]
    assert f"topic/$aws/things/{cameras}/*" in by_action["iot:Publish"]
    assert by_action["greengrass:ListThingGroupsForCoreDevice"].endswith(f':coreDevices:{cameras}"]]}}')
    assert not any(action.endswith("*") for action in by_action)


def test_the_naming_rule_comes_from_the_config(tmp_path: Any) -> None:
    app = cdk.App(outdir=str(tmp_path), context={**cdk_json_context(), "greengrassThingNamePrefix": "kitchen-cam-"})
    stacks = build_stacks(app, load_config(app.node.get_all_context()))
    assert stacks.edge_v2 is not None
    template = Template.from_stack(stacks.edge_v2).to_json()
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IoT::Policy"]
    assert ":client/kitchen-cam-*" in json.dumps(policy) and "trash-sorter-cam-" not in json.dumps(policy)
    install = json.dumps(template["Outputs"]["InstallNucleusCommand"]["Value"])
    assert "--thing-name kitchen-cam-<device-name> " in install


def test_approvals_in_our_group_reach_the_promotion_function_with_a_dlq_and_an_alarm(
    synthesized_app: SynthesizedApp,
) -> None:
    template = synthesized_app.template(STACK)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {"ModelPackageGroupName": ["trash-sorter-models"], "ModelApprovalStatus": ["Approved"]},
            },
            "Targets": [Match.object_like({"DeadLetterConfig": Match.any_value(), "RetryPolicy": Match.any_value()})],
        },
    )
    template.has_resource_properties("AWS::Lambda::Function", {"Runtime": "python3.14", "Handler": "index.handler"})
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"DestinationConfig": {"OnFailure": Match.any_value()}}
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 1},
    )


def test_outputs_give_the_exact_install_and_join_commands(synthesized_app: SynthesizedApp) -> None:
    outputs = synthesized_app.templates[STACK]["Outputs"]
    install = "".join(
        p if isinstance(p, str) else "<token>" for p in outputs["InstallNucleusCommand"]["Value"]["Fn::Join"][1]
    )
    for part in (
        "-jar ./GreengrassInstaller/lib/Greengrass.jar",
        "--thing-name trash-sorter-cam-<device-name> ",
        "--thing-group-name trash-sorter-cameras",
        "--thing-policy-name trash-sorter-greengrass-core",
        "--tes-role-alias-name trash-sorter-greengrass-tes",
        "--provision true",
        "--setup-system-service true",
        "--component-default-user ggc_user:ggc_group",
    ):
        assert part in install
    join = "".join(
        p if isinstance(p, str) else "<token>" for p in outputs["JoinThingGroupCommand"]["Value"]["Fn::Join"][1]
    )
    assert join.startswith("aws iot add-thing-to-thing-group --thing-group-name trash-sorter-cameras --thing-name ")


def test_the_stack_exists_only_for_the_greengrass_v2_target(tmp_path: Any) -> None:
    app = cdk.App(
        outdir=str(tmp_path),
        context={
            **cdk_json_context(),
            "edgeTargets": "deeplens",
            "deeplensCoreThingArn": "arn:aws:iot:us-east-1:123456789012:thing/deeplens_x",
            "deeplensCoreCertificateArn": "arn:aws:iot:us-east-1:123456789012:cert/" + "ab" * 32,
            "deeplensModelKey": "models/job-1/output/model.tar.gz",
        },
    )
    stacks = build_stacks(app, load_config(app.node.get_all_context()))
    assert stacks.edge_v2 is None and "TrashSorterEdgeV2" not in [s.stack_name for s in stacks.all()]


def test_the_artifact_copy_may_read_one_object_and_write_one_key(synthesized_app: SynthesizedApp) -> None:
    stack = synthesized_app.stacks.edge_v2
    assert stack is not None
    roles = synthesized_app.template(STACK).find_resources(
        "AWS::IAM::Role",
        {"Properties": {"Description": "Copies one Greengrass component artifact into the data bucket"}},
    )
    ((_, role),) = roles.items()
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = [action for statement in statements for action in _as_list(statement["Action"])]
    assert sorted(actions) == ["logs:CreateLogStream", "logs:PutLogEvents", "s3:GetObject", "s3:PutObject"]
    (put,) = [statement for statement in statements if statement["Action"] == "s3:PutObject"]
    assert json.dumps(put["Resource"]).endswith(f'"/{stack.application.artifact_key}"]]}}')
    assert "ManagedPolicyArns" not in role["Properties"]


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_cdk_destroy_detaches_the_installer_attached_core_policy_before_deleting_it(
    synthesized_app: SynthesizedApp,
) -> None:
    template = synthesized_app.templates[STACK]
    (policy_id,) = [key for key, r in template["Resources"].items() if r["Type"] == "AWS::IoT::Policy"]
    (detach,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::DetachPolicyOnDelete"]
    # It references the policy, so CloudFormation deletes it (running the detach) before the policy.
    assert detach["Properties"]["PolicyName"] == {"Ref": policy_id}
    assert "DeletionPolicy" not in template["Resources"][policy_id]
    roles = synthesized_app.template(STACK).find_resources(
        "AWS::IAM::Role", {"Properties": {"Description": Match.string_like_regexp("detaches the Greengrass core")}}
    )
    ((_, role),) = roles.items()
    actions = sorted(
        action
        for statement in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        for action in _as_list(statement["Action"])
    )
    assert actions == ["iot:DetachPolicy", "iot:ListTargetsForPolicy", "logs:CreateLogStream", "logs:PutLogEvents"]
