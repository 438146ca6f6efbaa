"""The Pi as a Greengrass client device of the cameras (the local path, README "When the internet is down").

Greengrass discovery answers a client device only the core devices it is associated with
(BatchAssociateClientDeviceWithCoreDevice). The association is made here, by `device.provision`,
and not by the stack: a camera's core thing is created by the Greengrass installer on the camera,
after `cdk deploy`, so the stack cannot name it. By default every core device of the cameras' thing
group (the TrashSorterEdgeV2 stack's ThingGroupName output) is associated; `--camera` names them.
Run provisioning again after adding a camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sorter_common.aws_errors import describe_aws_error
from sorter_common.greengrass_components import EDGE_V2_STACK_NAME, OUTPUT_THING_GROUP


class AssociationError(Exception):
    """A one-line reason the Pi could not be associated with a camera."""


def _thing_group(cloudformation: Any, stack: str) -> str | None:
    """The cameras' thing group from the edge stack's outputs; None when there is no such stack."""
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error.response["Error"].get("Message", "")):
            return None
        raise
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    if OUTPUT_THING_GROUP not in outputs:
        raise AssociationError(f"stack {stack} has no output {OUTPUT_THING_GROUP}; deploy it with this version")
    return str(outputs[OUTPUT_THING_GROUP])


def _core_devices(session: Any, group: str) -> list[str]:
    group_arn = session.client("iot").describe_thing_group(thingGroupName=group)["thingGroupArn"]
    greengrass = session.client("greengrassv2")
    cores: list[str] = []
    token: str | None = None
    while True:
        page = greengrass.list_core_devices(thingGroupArn=group_arn, **({"nextToken": token} if token else {}))
        cores += [device["coreDeviceThingName"] for device in page.get("coreDevices", [])]
        token = page.get("nextToken")
        if not token:
            return cores


def associate(
    session: Any, thing_name: str, *, cameras: Sequence[str] = (), stack: str = EDGE_V2_STACK_NAME
) -> list[str]:
    """Associate thing_name with the cameras (or every core device of the edge stack's group); what to print."""
    try:
        if not cameras:
            group = _thing_group(session.client("cloudformation"), stack)
            if group is None:
                return [f"local path: no stack {stack} (the greengrass-v2 edge target); the Pi listens to AWS IoT Core"]
            cameras = _core_devices(session, group)
            if not cameras:
                return [
                    f"local path: no camera of {group} runs Greengrass yet; run provisioning again after installing "
                    "one (until then the Pi listens to AWS IoT Core only)"
                ]
        lines = []
        greengrass = session.client("greengrassv2")
        for core in cameras:
            answer = greengrass.batch_associate_client_device_with_core_device(
                coreDeviceThingName=core, entries=[{"thingName": thing_name}]
            )
            errors = answer.get("errorEntries") or []
            if errors:
                error = errors[0]
                raise AssociationError(
                    f"cannot associate {thing_name} with camera {core}: {error.get('code')}: {error.get('message')}"
                )
            lines.append(f"associated {thing_name} with camera {core}: discovery now finds its local broker")
        return lines
    except (ClientError, BotoCoreError) as error:
        raise AssociationError(f"local path: {describe_aws_error(error) or error}") from None
