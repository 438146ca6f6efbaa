"""`python -m device.provision` associates the Pi with the cameras as a Greengrass client device (issue 16).

BatchAssociateClientDeviceWithCoreDevice and ListCoreDevices through botocore's Stubber (checked
against the real greengrassv2 service model; moto has neither), the thing group in moto's IoT, the
stacks' outputs stubbed as CloudFormation reports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from device import provision
from tests.device.provision_session import EDGE_STACK, REGION, ProvisionSession
from tests.device.test_provision import aws, stack_outputs, stubbed_cloudformation  # noqa: F401 - the fixture

PI = "trash-sorter-pi"
GROUP = "trash-sorter-cameras"


def edge_outputs(group: str = GROUP) -> dict[str, Any]:
    return {
        "Stacks": [{
            "StackName": EDGE_STACK, "CreationTime": "2026-11-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE",
            "Outputs": [{"OutputKey": "ThingGroupName", "OutputValue": group}],
        }]
    }


@pytest.fixture
def group_arn(aws: dict[str, str]) -> str:  # noqa: F811 - pytest's fixture injection
    return str(boto3.client("iot", region_name=REGION).create_thing_group(thingGroupName=GROUP)["thingGroupArn"])


@pytest.fixture
def greengrass() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("greengrassv2", region_name=REGION)
    stubber = Stubber(client)
    stubber.activate()
    yield client, stubber
    stubber.assert_no_pending_responses()  # every call the test expected was made


def expect_association(stubber: Stubber, core: str, errors: list[dict[str, str]] | None = None) -> None:
    stubber.add_response(
        "batch_associate_client_device_with_core_device",
        {"errorEntries": errors} if errors else {},
        expected_params={"coreDeviceThingName": core, "entries": [{"thingName": PI}]},
    )


def test_the_pi_is_associated_with_every_camera_of_the_group(
    aws: dict[str, str], group_arn: str, greengrass: tuple[Any, Stubber], tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, stubber = greengrass
    stubber.add_response(
        "list_core_devices",
        {"coreDevices": [{"coreDeviceThingName": "trash-sorter-cam-kitchen", "status": "HEALTHY"}], "nextToken": "2"},
        expected_params={"thingGroupArn": group_arn},
    )
    stubber.add_response(
        "list_core_devices",
        {"coreDevices": [{"coreDeviceThingName": "trash-sorter-cam-hall", "status": "HEALTHY"}]},
        expected_params={"thingGroupArn": group_arn, "nextToken": "2"},
    )
    expect_association(stubber, "trash-sorter-cam-kitchen")
    expect_association(stubber, "trash-sorter-cam-hall")
    session = ProvisionSession(stubbed_cloudformation(stack_outputs(aws), edge=edge_outputs()), client)

    assert provision.main(["--out", str(tmp_path)], session=session) == 0

    out = capsys.readouterr().out
    assert f"associated {PI} with camera trash-sorter-cam-kitchen" in out
    assert f"associated {PI} with camera trash-sorter-cam-hall" in out


def test_named_cameras_are_associated_without_reading_the_group(
    aws: dict[str, str], greengrass: tuple[Any, Stubber], tmp_path: Path,  # noqa: F811
) -> None:
    client, stubber = greengrass
    expect_association(stubber, "trash-sorter-cam-1")
    session = ProvisionSession(stubbed_cloudformation(stack_outputs(aws), edge=None), client)
    # Only the IoT stack is read: the edge stack's answer stays queued, unasked for.
    assert provision.main(["--out", str(tmp_path), "--camera", "trash-sorter-cam-1"], session=session) == 0


def test_a_refused_association_is_one_line_and_exit_status_1(
    aws: dict[str, str], greengrass: tuple[Any, Stubber], tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, stubber = greengrass
    expect_association(stubber, "trash-sorter-cam-x", [
        {"thingName": PI, "code": "ResourceNotFoundException", "message": "core device not found"}
    ])
    session = ProvisionSession(stubbed_cloudformation(stack_outputs(aws)), client)

    assert provision.main(["--out", str(tmp_path), "--camera", "trash-sorter-cam-x"], session=session) == 1

    assert capsys.readouterr().err == (
        f"provision: cannot associate {PI} with camera trash-sorter-cam-x: ResourceNotFoundException: "
        "core device not found\n"
    )


def test_a_group_with_no_camera_yet_says_to_provision_again_and_succeeds(
    aws: dict[str, str], group_arn: str, greengrass: tuple[Any, Stubber], tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, stubber = greengrass
    stubber.add_response("list_core_devices", {"coreDevices": []}, expected_params={"thingGroupArn": group_arn})
    session = ProvisionSession(stubbed_cloudformation(stack_outputs(aws), edge=edge_outputs()), client)

    assert provision.main(["--out", str(tmp_path)], session=session) == 0

    assert f"no camera of {GROUP} runs Greengrass yet; run provisioning again" in capsys.readouterr().out


def test_no_edge_stack_and_local_path_off_associate_nothing(
    aws: dict[str, str], greengrass: tuple[Any, Stubber], tmp_path: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, _ = greengrass  # no call expected
    session = ProvisionSession(stubbed_cloudformation(stack_outputs(aws)), client)
    assert provision.main(["--out", str(tmp_path)], session=session) == 0
    assert f"no stack {EDGE_STACK}" in capsys.readouterr().out

    session = ProvisionSession(stubbed_cloudformation(stack_outputs(aws)), client)
    assert provision.main(["--out", str(tmp_path), "--local-path", "off"], session=session) == 0
    assert "associated" not in capsys.readouterr().out
