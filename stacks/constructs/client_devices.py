"""The local path on the cameras (README "When the internet is down"): the AWS-provided Greengrass
client-device components in the camera group's deployment, configured so that the project's Pi, and
only it, may connect to a camera's local broker and subscribe to the cameras' predictions and status.

Components (Greengrass V2 developer guide, "Interact with local IoT devices"; each page cited below):
- aws.greengrass.clientdevices.Auth: client device auth. Its `deviceGroups` admit the Pi's thing by a
  thingName selection rule; the policy allows mqtt:connect as its own client id and mqtt:subscribe to
  exactly the two topic filters the Pi subscribes to ("mqtt:topicfilter:" takes MQTT wildcards and
  allows exactly the filters listed). The bridge, a Greengrass component, is authorized by the
  component itself. https://docs.aws.amazon.com/greengrass/v2/developerguide/client-device-auth-component.html
  Its `security.clientDeviceTrustDurationMinutes` is set (cdk.json greengrassClientTrustMinutes): the
  docs' default, 1 minute, "effectively turns off offline authentication"
  (https://docs.aws.amazon.com/greengrass/v2/developerguide/offline-authentication.html), so a minute
  into an outage the camera would refuse any reconnect of the Pi (a Pi restart, a Wi-Fi blip, a broker
  restart): the very outage the local path is for. The daily refresh of what the camera trusts calls
  ListClientDevicesAssociatedWithCoreDevice; see stacks/constructs/greengrass_core_access.py for where
  that permission goes.
- aws.greengrass.clientdevices.mqtt.Moquette: the local MQTT 3.1.1 broker, port 8883 by default. The
  lightest that does the job: a plugin that runs inside the nucleus's JVM, where the EMQX (MQTT 5)
  component is a generic component that needs Docker on Linux cores (its page, "Requirements"); the
  Pi needs MQTT 3.1.1, QoS 1 and persistent sessions, all of which Moquette has.
  https://docs.aws.amazon.com/greengrass/v2/developerguide/mqtt-broker-moquette-component.html
- aws.greengrass.clientdevices.mqtt.Bridge: `mqttTopicMapping` relays what the inference component
  publishes once to local publish/subscribe to the local broker (the Pi) and to AWS IoT Core (the
  metrics rule). https://docs.aws.amazon.com/greengrass/v2/developerguide/mqtt-bridge-component.html
  The mappings' topics are filters (`<prefix>/+/predictions`): the page documents wildcards for the
  LocalMqtt and IotCore sources; for Pubsub the bridge matches filters since 2.3.0 (its source,
  aws-greengrass-mqtt-bridge commit a3a95e4, "remove supportsTopicFilter") and the nucleus
  subscribes local publish/subscribe with wildcards since 2.6.0, which the recipe needs anyway.
- aws.greengrass.clientdevices.IPDetector: reports the core's addresses to the cloud, so discovery
  answers them without anyone calling UpdateConnectivityInfo.
  https://docs.aws.amazon.com/greengrass/v2/developerguide/ip-detector-component.html

Versions are pinned (a deployment names exact versions): the newest release of each component
(the release tags of github.com/aws-greengrass/aws-greengrass-<component>, December 2026), which the
docs' dependency tables allow together (Moquette 2.3.7 requires Auth >=2.2.0 <2.6.0).
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import aws_greengrassv2 as greengrass

from sorter_common.topics import all_predictions_filter, all_status_filter

AUTH = "aws.greengrass.clientdevices.Auth"
BROKER = "aws.greengrass.clientdevices.mqtt.Moquette"
BRIDGE = "aws.greengrass.clientdevices.mqtt.Bridge"
IP_DETECTOR = "aws.greengrass.clientdevices.IPDetector"
VERSIONS = {AUTH: "2.5.2", BROKER: "2.3.7", BRIDGE: "2.3.2", IP_DETECTOR: "2.2.3"}
DEVICE_GROUP_FORMAT = "2021-03-05"
PI_GROUP = "TrashSorterPi"
PI_POLICY = "TrashSorterPiListens"


def pi_topic_filters(topic_prefix: str) -> list[str]:
    """What the Pi subscribes to on either path (device.pi_subscriber's default topics)."""
    return [all_predictions_filter(topic_prefix), all_status_filter(topic_prefix)]


def auth_configuration(*, pi_thing_name: str, topic_prefix: str, trust_minutes: int) -> dict[str, Any]:
    """Client device auth's deviceGroups (the Pi's thing, and no other, may connect and subscribe) and how
    many minutes a camera cut off from AWS keeps trusting what it last verified of the Pi."""
    return {
        "security": {"clientDeviceTrustDurationMinutes": trust_minutes},
        "deviceGroups": {
            "formatVersion": DEVICE_GROUP_FORMAT,
            "definitions": {PI_GROUP: {"selectionRule": f"thingName: {pi_thing_name}", "policyName": PI_POLICY}},
            "policies": {
                PI_POLICY: {
                    "Connect": {
                        "statementDescription": "Connect as itself (its thing name is its client id)",
                        "operations": ["mqtt:connect"],
                        "resources": [f"mqtt:clientId:{pi_thing_name}"],
                    },
                    "Subscribe": {
                        "statementDescription": "Listen to the cameras' predictions and status, nothing else",
                        "operations": ["mqtt:subscribe"],
                        "resources": [f"mqtt:topicfilter:{topic}" for topic in pi_topic_filters(topic_prefix)],
                    },
                }
            },
        }
    }


def bridge_configuration(*, topic_prefix: str) -> dict[str, Any]:
    """Local publish/subscribe -> the local broker (the Pi) and -> AWS IoT Core (the cloud metrics)."""
    mapping = {}
    for kind, topic in zip(("Predictions", "Status"), pi_topic_filters(topic_prefix), strict=True):
        mapping[f"{kind}ToLocalBroker"] = {"topic": topic, "source": "Pubsub", "target": "LocalMqtt"}
        mapping[f"{kind}ToIotCore"] = {"topic": topic, "source": "Pubsub", "target": "IotCore"}
    return {"mqttTopicMapping": mapping}


def deployment_components(
    *, pi_thing_name: str, topic_prefix: str, trust_minutes: int
) -> dict[str, greengrass.CfnDeployment.ComponentDeploymentSpecificationProperty]:
    """The four components for the camera group's deployment, each at its pinned version."""
    merges = {
        AUTH: auth_configuration(pi_thing_name=pi_thing_name, topic_prefix=topic_prefix, trust_minutes=trust_minutes),
        BRIDGE: bridge_configuration(topic_prefix=topic_prefix),
    }
    components = {}
    for name, version in VERSIONS.items():
        update = None
        if name in merges:
            update = greengrass.CfnDeployment.ComponentConfigurationUpdateProperty(
                merge=json.dumps(merges[name], sort_keys=True)
            )
        components[name] = greengrass.CfnDeployment.ComponentDeploymentSpecificationProperty(
            component_version=version, configuration_update=update
        )
    return components
