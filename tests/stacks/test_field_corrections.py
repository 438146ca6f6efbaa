"""'Wrong bin?' in the templates: the corrections rule and dashboard, and what the cameras may
receive and write with capture off (the default: nothing) and on (exactly the dataset's field-*
names and unlabelled/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from sorter_common.greengrass_components import APPLICATION_COMPONENT
from stacks.app_builder import build_stacks
from stacks.config import ConfigError, load_config
from stacks.constructs.inference_component import CONFIGURATION_FLAGS, TOKEN_EXCHANGE_SERVICE
from tests.stacks.synth import SynthesizedApp
from tests.stacks.test_edge_v2_stack import recipes
from tools.cdk_context import cdk_json_context

IOT = "TrashSorterIot"
EDGE = "TrashSorterEdgeV2"
CLASSES = ("compost", "landfill", "recycling")


@pytest.fixture(scope="module")
def capture_on(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = cdk.App(
        outdir=str(tmp_path_factory.mktemp("capture-on")),
        context={
            **cdk_json_context(),
            "greengrassCorrectionCapture": "true",
            "greengrassUnsureSamplePerHour": "4",
            "correctionDataset": "field",
        },
    )
    stacks = build_stacks(app, load_config(app.node.get_all_context()))
    assert stacks.edge_v2 is not None
    return dict(Template.from_stack(stacks.edge_v2).to_json())


def corrections_rule(app: SynthesizedApp) -> dict[str, Any]:
    rules = app.template(IOT).find_resources("AWS::IoT::TopicRule")
    (rule,) = [r for r in rules.values() if "/corrections'" in r["Properties"]["TopicRulePayload"]["Sql"]]
    return dict(rule["Properties"]["TopicRulePayload"])


def test_the_rule_counts_valid_corrections_by_true_class_shown_label_and_pair(synthesized_app: SynthesizedApp) -> None:
    rule = corrections_rule(synthesized_app)
    assert rule["Sql"] == (
        "SELECT label, shown FROM 'trash-sorter/+/corrections' WHERE v = 1 AND "
        "(label = 'compost' OR label = 'landfill' OR label = 'recycling') AND "
        "(shown = 'compost' OR shown = 'landfill' OR shown = 'recycling' OR shown = 'unsure')"
    )
    metrics = [action["CloudwatchMetric"] for action in rule["Actions"]]
    assert [m["MetricName"] for m in metrics] == ["CorrectedTo/${label}", "CorrectedFrom/${shown}",
                                                  "Field/${shown}/${label}"]
    assert all((m["MetricNamespace"], m["MetricValue"], m["MetricUnit"]) == ("TrashSorter", "1", "Count")
               for m in metrics)
    assert "CloudwatchLogs" in rule["ErrorAction"]


def test_the_dashboard_has_a_field_confusion_table_of_every_shown_and_true_pair(
    synthesized_app: SynthesizedApp,
) -> None:
    (dashboard,) = synthesized_app.template(IOT).find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Field confusion" in body and '\\"view\\":\\"table\\"' in body
    for shown in (*CLASSES, "unsure"):
        for truth in CLASSES:
            assert f'[\\"TrashSorter\\",\\"Field/{shown}/{truth}\\"' in body
    for label in CLASSES:
        assert f'\\"CorrectedTo/{label}\\"' in body


def test_capture_off_the_cameras_may_write_nothing_and_need_no_token_exchange(synthesized_app: SynthesizedApp) -> None:
    template = synthesized_app.templates[EDGE]
    assert "s3:PutObject" not in json.dumps(
        [r for r in template["Resources"].values() if r["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy")
         and "credentials.iot" in json.dumps(r)]
    )
    recipe = recipes(template)[APPLICATION_COMPONENT]
    assert TOKEN_EXCHANGE_SERVICE not in recipe["ComponentDependencies"]
    defaults = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    assert (defaults["CorrectionCapture"], defaults["UnsureSamplePerHour"], defaults["CorrectionDataset"]) == (
        False, 0, "default"
    )


def test_the_recipe_feeds_every_correction_setting_to_its_flag_and_lets_the_camera_receive_its_own_topic(
    capture_on: dict[str, Any],
) -> None:
    recipe = recipes(capture_on)[APPLICATION_COMPONENT]
    defaults = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    assert (defaults["CorrectionCapture"], defaults["UnsureSamplePerHour"], defaults["CorrectionDataset"]) == (
        True, 4, "field"
    )
    assert defaults["Bucket"] == "TOKEN"  # the data bucket's name, resolved at deploy time
    run = recipe["Manifests"][0]["Lifecycle"]["Run"]["Script"]
    setenv = recipe["Manifests"][0]["Lifecycle"]["Setenv"]
    for variable, flag, key in CONFIGURATION_FLAGS:
        assert setenv[variable] == f"{{configuration:/{key}}}" and f'{flag}="${variable}"' in run
        assert key in defaults
    policies = defaults["accessControl"]["aws.greengrass.ipc.mqttproxy"]
    subscribe = [p for p in policies.values() if "aws.greengrass#SubscribeToIoTCore" in p["operations"]]
    assert len(subscribe) == 1
    assert subscribe[0]["resources"] == ["trash-sorter/{iot:thingName}/corrections"]
    assert recipe["ComponentDependencies"][TOKEN_EXCHANGE_SERVICE]["DependencyType"] == "HARD"


def test_capture_on_the_token_exchange_role_writes_exactly_the_field_names_and_unlabelled(
    capture_on: dict[str, Any],
) -> None:
    roles = [r for r in capture_on["Resources"].values()
             if r["Type"] == "AWS::IAM::Role" and "credentials.iot.amazonaws.com" in json.dumps(r)]
    (role,) = roles
    role_id = next(name for name, r in capture_on["Resources"].items() if r is role)
    statements = [
        statement
        for resource in capture_on["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    (write,) = [s for s in statements if s["Action"] == "s3:PutObject"]
    suffixes = [resource["Fn::Join"][1][-1] for resource in write["Resource"]]
    assert suffixes == [f"/datasets/field/{label}/field-*" for label in CLASSES] + ["/unlabelled/*"]


def test_the_core_policy_lets_cameras_receive_only_their_corrections_topic(capture_on: dict[str, Any]) -> None:
    (policy,) = [r for r in capture_on["Resources"].values() if r["Type"] == "AWS::IoT::Policy"]
    by_action: dict[str, str] = {}
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            by_action[action] = json.dumps(statement["Resource"])
    assert "topicfilter/trash-sorter/trash-sorter-cam-*/corrections" in by_action["iot:Subscribe"]
    assert "topic/trash-sorter/trash-sorter-cam-*/corrections" in by_action["iot:Receive"]
    assert "corrections" not in by_action["iot:Publish"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("greengrassUnsureSamplePerHour", "1000"), ("correctionDataset", "a/b"), ("greengrassCorrectionCapture", "maybe")],
)
def test_bad_correction_settings_fail_synth_naming_the_key(key: str, value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=key):
        load_config({**cdk_json_context(), key: value})
