"""The local path in the synthesized TrashSorterEdgeV2 (issue 16): the client-device components in the
camera group's deployment admit the Pi's thing and no other, on the predictions and status topics only;
the bridge relays local publish/subscribe to the local broker and to AWS IoT Core; the recipe and the
core policy allow what that needs, and nothing of it is there with greengrassLocalPath off."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from sorter_common.greengrass_components import APPLICATION_COMPONENT
from stacks.app_builder import build_stacks
from stacks.config import ConfigError, load_config
from stacks.constructs.client_devices import AUTH, BRIDGE, BROKER, IP_DETECTOR, VERSIONS
from tests.stacks.synth import SynthesizedApp
from tests.stacks.test_edge_v2_stack import recipes
from tools.cdk_context import cdk_json_context

STACK = "TrashSorterEdgeV2"
PI = "trash-sorter-pi"  # cdk.json's piThingName
FILTERS = ["trash-sorter/+/predictions", "trash-sorter/+/status"]


def deployment_components(template: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::GreengrassV2::Deployment"]
    return dict(deployment["Properties"]["Components"])


def merged(components: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(json.loads(components[name]["ConfigurationUpdate"]["Merge"]))


def core_policy_actions(template: dict[str, Any]) -> dict[str, str]:
    (policy,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::IoT::Policy"]
    by_action = {}
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            by_action[action] = json.dumps(statement["Resource"])
    return by_action


def synth(tmp_path: Any, **context: Any) -> dict[str, Any]:
    app = cdk.App(outdir=str(tmp_path), context={**cdk_json_context(), **context})
    stacks = build_stacks(app, load_config(app.node.get_all_context()))
    assert stacks.edge_v2 is not None
    return dict(Template.from_stack(stacks.edge_v2).to_json())


def test_the_deployment_adds_the_four_client_device_components_at_pinned_versions(
    synthesized_app: SynthesizedApp,
) -> None:
    components = deployment_components(synthesized_app.templates[STACK])
    assert set(components) == {APPLICATION_COMPONENT, AUTH, BROKER, BRIDGE, IP_DETECTOR}
    for name in (AUTH, BROKER, BRIDGE, IP_DETECTOR):
        version = components[name]["ComponentVersion"]
        assert version == VERSIONS[name] and version.count(".") == 2 and "*" not in version and "^" not in version


def test_client_device_auth_admits_the_pi_s_thing_and_no_other_on_the_two_topics_only(
    synthesized_app: SynthesizedApp,
) -> None:
    groups = merged(deployment_components(synthesized_app.templates[STACK]), AUTH)["deviceGroups"]
    assert groups["formatVersion"] == "2021-03-05"
    (group,) = groups["definitions"].values()
    assert group["selectionRule"] == f"thingName: {PI}"  # one thing by name: no wildcard, no OR
    (policy,) = groups["policies"].values()
    assert set(groups["policies"]) == {group["policyName"]}
    granted = sorted((op, resource) for statement in policy.values() for op in statement["operations"]
                     for resource in statement["resources"])
    assert granted == [
        ("mqtt:connect", f"mqtt:clientId:{PI}"),
        *[("mqtt:subscribe", f"mqtt:topicfilter:{topic}") for topic in FILTERS],
    ]  # no publish, no "*" operation or resource


def test_the_bridge_relays_local_pubsub_to_the_local_broker_and_to_iot_core_and_nothing_back(
    synthesized_app: SynthesizedApp,
) -> None:
    mapping = merged(deployment_components(synthesized_app.templates[STACK]), BRIDGE)["mqttTopicMapping"]
    routes = sorted((m["topic"], m["source"], m["target"]) for m in mapping.values())
    assert routes == sorted(
        (topic, "Pubsub", target) for topic in FILTERS for target in ("LocalMqtt", "IotCore")
    )  # nothing from the local broker goes anywhere: a client device cannot speak for a camera


def test_the_component_publishes_to_local_pubsub_on_its_own_topics_only(synthesized_app: SynthesizedApp) -> None:
    recipe = recipes(synthesized_app.templates[STACK])[APPLICATION_COMPONENT]
    defaults = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    assert defaults["LocalPath"] is True
    (pubsub,) = defaults["accessControl"]["aws.greengrass.ipc.pubsub"].values()
    assert pubsub["operations"] == ["aws.greengrass#PublishToTopic"]
    assert pubsub["resources"] == ["trash-sorter/{iot:thingName}/predictions", "trash-sorter/{iot:thingName}/status"]
    proxy = defaults["accessControl"]["aws.greengrass.ipc.mqttproxy"].values()
    assert [p["operations"] for p in proxy] == [["aws.greengrass#SubscribeToIoTCore"]]  # the bridge publishes


def test_the_core_policy_verifies_only_the_pi_and_updates_only_the_cameras_connectivity(
    synthesized_app: SynthesizedApp,
) -> None:
    by_action = core_policy_actions(synthesized_app.templates[STACK])
    assert by_action["greengrass:VerifyClientDeviceIoTCertificateAssociation"].endswith(f':thing/{PI}"]]}}')
    for action in ("greengrass:GetConnectivityInfo", "greengrass:UpdateConnectivityInfo"):
        assert by_action[action].endswith(':/greengrass/things/trash-sorter-cam-*/connectivityInfo"]]}')
    assert {"greengrass:PutCertificateAuthorities", "greengrass:VerifyClientDeviceIdentity"} <= set(by_action)


def test_the_pi_s_thing_name_comes_from_the_config(tmp_path: Any) -> None:
    template = synth(tmp_path, piThingName="bin-7-pi")
    components = deployment_components(template)
    groups = merged(components, AUTH)["deviceGroups"]
    assert [g["selectionRule"] for g in groups["definitions"].values()] == ["thingName: bin-7-pi"]
    assert "mqtt:clientId:bin-7-pi" in json.dumps(groups["policies"])
    assert core_policy_actions(template)["greengrass:VerifyClientDeviceIoTCertificateAssociation"].endswith(
        ':thing/bin-7-pi"]]}'
    )


def test_with_the_local_path_off_the_cameras_publish_straight_to_iot_core_as_before(tmp_path: Any) -> None:
    template = synth(tmp_path, greengrassLocalPath="false")
    assert set(deployment_components(template)) == {APPLICATION_COMPONENT}
    defaults = recipes(template)[APPLICATION_COMPONENT]["ComponentConfiguration"]["DefaultConfiguration"]
    assert defaults["LocalPath"] is False
    assert "aws.greengrass.ipc.pubsub" not in defaults["accessControl"]
    operations = [p["operations"] for p in defaults["accessControl"]["aws.greengrass.ipc.mqttproxy"].values()]
    assert ["aws.greengrass#PublishToIoTCore"] in operations
    assert not [action for action in core_policy_actions(template) if "ClientDevice" in action or "Connectivity" in
                action]


def test_a_bad_local_path_value_is_one_line_naming_the_key() -> None:
    with pytest.raises(ConfigError) as error:
        load_config({**cdk_json_context(), "greengrassLocalPath": "maybe"})
    assert str(error.value) == "greengrassLocalPath='maybe' is not valid: expected true or false"


def token_exchange_actions(template: dict[str, Any]) -> dict[str, str]:
    """Each action the token exchange role (trusted by credentials.iot) allows, with its resources as JSON."""
    (role,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"
        and "credentials.iot.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    ]
    role_ids = [name for name, r in template["Resources"].items() if r is role]
    documents = [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
    documents += [
        r["Properties"]["PolicyDocument"] for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_ids[0]} in r["Properties"]["Roles"]
    ]
    by_action = {}
    for document in documents:
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                by_action[action] = json.dumps(statement["Resource"])
    return by_action


def test_a_camera_keeps_admitting_the_pi_offline_for_a_week_by_default(synthesized_app: SynthesizedApp) -> None:
    # Client device auth's default trust duration, 1 minute, effectively turns offline authentication off.
    auth = merged(deployment_components(synthesized_app.templates[STACK]), AUTH)
    assert auth["security"] == {"clientDeviceTrustDurationMinutes": 7 * 24 * 60}


def test_the_offline_trust_duration_comes_from_the_config(tmp_path: Any) -> None:
    auth = merged(deployment_components(synth(tmp_path, greengrassClientTrustMinutes="90")), AUTH)
    assert auth["security"]["clientDeviceTrustDurationMinutes"] == 90


@pytest.mark.parametrize("value", ["0", "2147483648", "a week", "1.5"])
def test_a_bad_trust_duration_is_one_line_naming_the_key_and_the_bounds(value: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config({**cdk_json_context(), "greengrassClientTrustMinutes": value})
    assert str(error.value) == (
        f"greengrassClientTrustMinutes={value!r} is not valid: expected a whole number from 1 to 2147483647"
    )


def test_the_token_exchange_role_may_list_the_client_devices_of_the_cameras_own_cores(
    synthesized_app: SynthesizedApp,
) -> None:
    # Offline authentication's daily refresh; the component signs the call with the token exchange credentials.
    template = synthesized_app.templates[STACK]
    resources = token_exchange_actions(template)["greengrass:ListClientDevicesAssociatedWithCoreDevice"]
    assert resources.endswith(':coreDevices:trash-sorter-cam-*"]]}')
    assert "greengrass:ListClientDevicesAssociatedWithCoreDevice" not in core_policy_actions(template)


def test_with_the_local_path_off_the_token_exchange_role_lists_no_client_devices(tmp_path: Any) -> None:
    template = synth(tmp_path, greengrassLocalPath="false")
    assert "greengrass:ListClientDevicesAssociatedWithCoreDevice" not in token_exchange_actions(template)
    assert "s3:GetObject" in token_exchange_actions(template)
