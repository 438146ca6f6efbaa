"""Issue 18: the project's classes and topic prefix reach the Pi, from `cdk.json` to the Sense HAT.

The TrashSorterIot stack is synthesized with a fourth class and another topic prefix; its
outputs, as CloudFormation would report them (a Stubber-checked DescribeStacks, IoT and Secrets
Manager in moto), are provisioned into a config folder; the subscriber started from that folder
shows the fourth class on the sense_emu screen in the default palette's first free colour and
direction, and the cameras are heard on the new prefix.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from device import provision
from device.pi_subscriber import patterns
from device.pi_subscriber.config import CONFIG_FILE, DEFAULT_BINS, PALETTE_COLOURS
from sorter_common.iot_identity import OUTPUT_CERTIFICATE_ID, OUTPUT_SECRET_ARN, private_key_secret_name
from sorter_common.message import encode, prediction_dict
from sorter_common.topics import predictions_topic
from stacks.config import load_config
from stacks.iot_stack import IotStack
from testbed.emu_screen import as_rgb565, read_emu_screen
from testbed.local_broker import LocalBroker
from testbed.local_pki import LocalPki, issue_client
from tests.device.provision_session import ProvisionSession, expect_no_edge_stack
from tools.cdk_context import cdk_json_context

from .conftest import Camera, SubscriberProcess, unique_client_id

REGION = "us-east-1"
CLASSES = "compost,glass,landfill,recycling"
PREFIX = "plant-7/sorters"


def synthesized_outputs() -> dict[str, str]:
    """The literal outputs of the TrashSorterIot template as `cdk synth` writes it with this config."""
    context = {**cdk_json_context(), "classes": CLASSES, "topicPrefix": PREFIX}
    app = cdk.App(context=context)
    config = load_config(app.node.get_all_context())
    stack = IotStack(app, "TrashSorterIot", config=config.iot, classes=config.classes, topic_prefix=config.topic_prefix,
                     env=cdk.Environment(region=REGION))
    template = app.synth().get_stack_by_name(stack.stack_name).template
    outputs = {key: output["Value"] for key, output in template["Outputs"].items()}
    resolved = {key: value for key, value in outputs.items() if isinstance(value, str)}
    for key, value in outputs.items():
        # Ref of an AWS::IoT::Thing is its name (CloudFormation's return values for the type).
        referenced = template["Resources"].get(value.get("Ref", "")) if isinstance(value, dict) else None
        if referenced is not None and referenced["Type"] == "AWS::IoT::Thing":
            resolved[key] = referenced["Properties"]["ThingName"]
    return resolved




def provision_from_stack(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = synthesized_outputs()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        iot = boto3.client("iot", region_name=REGION)
        created = iot.create_keys_and_certificate(setAsActive=True)
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=private_key_secret_name(outputs["PiThingName"]), SecretString=created["keyPair"]["PrivateKey"]
        )
        # What CloudFormation reports once deployed: the template's literal outputs, plus the
        # ones it resolves at deploy time (certificate id, secret ARN) taken from moto.
        reported = {**outputs, OUTPUT_CERTIFICATE_ID: created["certificateId"], OUTPUT_SECRET_ARN: secret["ARN"]}
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        stubber = Stubber(cloudformation)
        stubber.add_response(
            "describe_stacks",
            {"Stacks": [{
                "StackName": "TrashSorterIot", "CreationTime": "2026-12-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in reported.items()],
            }]},
            {"StackName": "TrashSorterIot"},
        )
        expect_no_edge_stack(stubber)  # this test is about the classes; the local path has its own tests
        stubber.activate()
        assert provision.main(["--out", str(out)], session=ProvisionSession(cloudformation)) == 0


def test_a_fourth_class_and_a_new_prefix_reach_the_sense_hat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broker: LocalBroker, pki: LocalPki,
    start_subscriber: Callable[..., SubscriberProcess],
) -> None:
    out = tmp_path / "etc-trash-sorter"
    provision_from_stack(out, monkeypatch)
    written = tomllib.loads((out / CONFIG_FILE).read_text())
    assert (written["classes"], written["topic_prefix"]) == (CLASSES.split(","), PREFIX)

    # The provisioned folder, with only the broker and credentials pointed at the local mosquitto.
    sub = start_subscriber("--config-dir", str(out))
    device = unique_client_id("cam")
    camera = Camera(broker, issue_client(pki, device), pki.ca_path, device)
    try:
        for seq, label in enumerate(["glass", "compost"], start=1):
            message = prediction_dict(device, seq, time.time(), label, 0.9, [(label, 0.9)], "m-4")
            camera.raw(predictions_topic(device, PREFIX), encode(message))
            sub.wait_event("shown", seq=seq, label=label, device=device)
            screen = read_emu_screen()[0]
            if label == "glass":
                # No style for glass: the palette's first colour and the first direction no default bin uses.
                assert screen == as_rgb565(patterns.arrow("up", PALETTE_COLOURS[0]))
            else:
                assert screen == as_rgb565(patterns.arrow("down", DEFAULT_BINS["compost"].colour))
        # The old prefix is no longer listened to: a message there, then one on the new prefix;
        # one connection's QoS 1 messages arrive in order, so the first would be seen before the second.
        now = time.time()
        camera.raw(predictions_topic(device), encode(prediction_dict(device, 3, now, "landfill", 0.9, [], "m")))
        camera.raw(predictions_topic(device, PREFIX), encode(prediction_dict(device, 4, now, "glass", 0.9, [], "m")))
        sub.wait_event("shown", seq=4, label="glass", device=device)
        assert not any(event.get("seq") == 3 for event in sub.events())
    finally:
        camera.close()
