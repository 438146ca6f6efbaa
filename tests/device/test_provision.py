"""`python -m device.provision` against moto (IoT, Secrets Manager) and a Stubber-checked CloudFormation."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from device import provision
from device.pi_subscriber.config import CA_FILE, CERT_FILE, CONFIG_FILE, KEY_FILE, load_config
from sorter_common.iot_identity import (
    OUTPUT_CERTIFICATE_ID,
    OUTPUT_CLASSES,
    OUTPUT_SECRET_ARN,
    OUTPUT_THING_NAME,
    OUTPUT_TOPIC_PREFIX,
)
from tests.device.provision_session import EDGE_STACK, ProvisionSession, expect_no_edge_stack

REGION = "us-east-1"
STACK = "TrashSorterIot"
THING = "trash-sorter-pi"
ATS_ENDPOINT = r"[a-z0-9]+-ats\.iot\.us-east-1\.amazonaws\.com"  # moto makes a new one per call




@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        iot = boto3.client("iot", region_name=REGION)
        created = iot.create_keys_and_certificate(setAsActive=True)
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name=f"trash-sorter/{THING}/private-key", SecretString=created["keyPair"]["PrivateKey"]
        )
        yield {
            "certificate_id": created["certificateId"],
            "pem": created["certificatePem"],
            "key": created["keyPair"]["PrivateKey"],
            "secret_arn": secret["ARN"],
        }


def stack_outputs(aws: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, Any]:
    outputs = {
        OUTPUT_THING_NAME: THING,
        OUTPUT_CERTIFICATE_ID: aws["certificate_id"],
        OUTPUT_SECRET_ARN: aws["secret_arn"],
        OUTPUT_CLASSES: "compost,landfill,recycling",
        OUTPUT_TOPIC_PREFIX: "trash-sorter",
        **(extra or {}),
    }
    return {
        "Stacks": [
            {
                "StackName": STACK,
                "CreationTime": "2026-11-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
            }
        ]
    }


def stubbed_cloudformation(
    response: dict[str, Any] | None = None, error: str | None = None, edge: dict[str, Any] | None = None
) -> Any:
    """The IoT stack's answer, then the edge stack's (`edge`, or: it does not exist)."""
    client = boto3.client("cloudformation", region_name=REGION)
    stubber = Stubber(client)
    if error:
        stubber.add_client_error("describe_stacks", "ValidationError", error, expected_params={"StackName": STACK})
    else:
        stubber.add_response("describe_stacks", response, expected_params={"StackName": STACK})
        if edge is not None:
            stubber.add_response("describe_stacks", edge, expected_params={"StackName": EDGE_STACK})
        else:
            expect_no_edge_stack(stubber)
    stubber.activate()
    return client


def test_writes_certificate_key_ca_and_a_config_the_subscriber_loads(aws: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "etc" / "trash-sorter"
    session = ProvisionSession(stubbed_cloudformation(stack_outputs(aws)))

    assert provision.main(["--stack", STACK, "--out", str(out)], session=session) == 0

    assert (out / CERT_FILE).read_text() == aws["pem"]
    assert (out / KEY_FILE).read_text() == aws["key"]
    assert stat.S_IMODE((out / KEY_FILE).stat().st_mode) == 0o600
    assert "BEGIN CERTIFICATE" in (out / CA_FILE).read_text()
    assert (out / CA_FILE).read_text() == provision.AMAZON_ROOT_CA.read_text()
    config = load_config(["--config-dir", str(out)], environ={})
    assert re.fullmatch(ATS_ENDPOINT, config.endpoint)
    assert (config.client_id, config.port) == (THING, 8883)
    assert (config.cert, config.key, config.ca) == (out / CERT_FILE, out / KEY_FILE, out / CA_FILE)


def test_reprovisioning_keeps_the_operator_s_other_settings(aws: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text(
        'endpoint = "old.example"\nclient_id = "old"\nrotation = 180\n\n[bins.recycling]\ncolour = "#0000ff"\n'
    )
    session = ProvisionSession(stubbed_cloudformation(stack_outputs(aws)))

    assert provision.main(["--out", str(tmp_path)], session=session) == 0

    config = load_config(["--config-dir", str(tmp_path)], environ={})
    assert re.fullmatch(ATS_ENDPOINT, config.endpoint)
    assert (config.client_id, config.rotation) == (THING, 180)
    assert config.bins["recycling"].colour == (0, 0, 255)


def test_a_missing_stack_is_one_clear_line(
    aws: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = ProvisionSession(stubbed_cloudformation(error=f"Stack with id {STACK} does not exist"))

    assert provision.main(["--out", str(tmp_path)], session=session) == 1

    err = capsys.readouterr().err
    assert err == f"provision: stack {STACK} not found in {REGION}; deploy it with `cdk deploy {STACK}`\n"
    assert list(tmp_path.iterdir()) == []


def test_no_credentials_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))

    assert provision.main(["--region", REGION, "--out", str(tmp_path / "out")]) == 1

    err = capsys.readouterr().err
    assert err == "provision: no AWS credentials found: run `aws configure` (or `aws sso login`), or set AWS_PROFILE\n"
    assert not (tmp_path / "out").exists()


def test_the_project_s_classes_and_topic_prefix_reach_the_subscriber(aws: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text(
        'endpoint = "old"\nclasses = ["a", "b"]\ntopic_prefix = "old"\nrotation = 90\n[bins.glass]\ndirection = "up"\n'
    )
    extra = {OUTPUT_CLASSES: "compost,glass,landfill,recycling", OUTPUT_TOPIC_PREFIX: "plant-7/sorters"}
    session = ProvisionSession(stubbed_cloudformation(stack_outputs(aws, extra)))

    assert provision.main(["--out", str(tmp_path)], session=session) == 0

    config = load_config(["--config-dir", str(tmp_path)], environ={})
    assert config.classes == ("compost", "glass", "landfill", "recycling")
    assert config.topics == ("plant-7/sorters/+/predictions", "plant-7/sorters/+/status")
    assert config.bins["glass"].direction == "up"  # the operator's style kept
    assert config.rotation == 90
    assert (tmp_path / CONFIG_FILE).read_text().count("classes =") == 1


def test_an_iot_stack_without_the_class_outputs_is_one_clear_line(
    aws: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    response = stack_outputs(aws)
    response["Stacks"][0]["Outputs"] = [
        output for output in response["Stacks"][0]["Outputs"] if output["OutputKey"] != OUTPUT_CLASSES
    ]
    session = ProvisionSession(stubbed_cloudformation(response))

    assert provision.main(["--out", str(tmp_path)], session=session) == 1

    assert capsys.readouterr().err.startswith(f"provision: stack {STACK} has no output {OUTPUT_CLASSES};")
    assert list(tmp_path.iterdir()) == []


def test_no_region_names_what_boto3_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # what the old message asked for: boto3 does not read it
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    assert provision.main(["--out", str(tmp_path / "out")]) == 1

    err = capsys.readouterr().err
    assert err == (
        "provision: no AWS region: pass --region, set AWS_DEFAULT_REGION, or set a region in your profile "
        "(aws configure)\n"
    )
    assert "AWS_REGION" not in err.replace("AWS_DEFAULT_REGION", "")
