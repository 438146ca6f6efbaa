"""`python -m device.provision`: write the Pi's credentials, endpoint and the project's classes into its config folder,
and associate the Pi with the cameras as a Greengrass client device (the local path; device.core_association).

Runs with the operator's AWS credentials (never on the Pi's own identity): reads the
TrashSorterIot outputs, fetches the certificate PEM, the private key from Secrets Manager and
the account's IoT data endpoint, and writes the files the subscriber expects. The keys this tool
owns in subscriber.toml (endpoint, client_id, classes, topic_prefix) are rewritten on every run;
every other setting of an existing file is kept.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from device.core_association import AssociationError, associate
from device.pi_subscriber.config import (
    CA_FILE,
    CERT_FILE,
    CONFIG_FILE,
    DEFAULT_CONFIG_DIR,
    DEFAULT_PORT,
    KEY_FILE,
    PROVISIONED,
)
from sorter_common.atomic_build import replace_file
from sorter_common.aws_errors import describe_aws_error
from sorter_common.classes import ClassListError, normalize_classes
from sorter_common.greengrass_components import EDGE_V2_STACK_NAME
from sorter_common.iot_identity import (
    IOT_STACK_NAME,
    OUTPUT_CERTIFICATE_ID,
    OUTPUT_CLASSES,
    OUTPUT_SECRET_ARN,
    OUTPUT_THING_NAME,
    OUTPUT_TOPIC_PREFIX,
)

# Amazon Root CA 1, the CA of AWS IoT Core's ATS endpoints; shipped because a Pi being set up
# may not reach amazontrust.com, and nothing is downloaded here.
AMAZON_ROOT_CA = Path(__file__).with_name("AmazonRootCA1.pem")
_OWNED_KEYS = re.compile(r"^\s*(" + "|".join(PROVISIONED) + r")\s*=")
_REQUIRED_OUTPUTS = (OUTPUT_THING_NAME, OUTPUT_CERTIFICATE_ID, OUTPUT_SECRET_ARN, OUTPUT_CLASSES, OUTPUT_TOPIC_PREFIX)


class ProvisionError(Exception):
    """A one-line reason provisioning cannot go on."""


@dataclass(frozen=True)
class Credentials:
    thing_name: str
    endpoint: str
    certificate_pem: str
    private_key: str
    classes: tuple[str, ...]
    topic_prefix: str


def fetch(session: Any, stack: str) -> Credentials:
    """Everything the Pi needs, read with the session's credentials."""
    try:
        outputs = _stack_outputs(session.client("cloudformation"), stack)
        iot = session.client("iot")
        certificate = iot.describe_certificate(certificateId=outputs[OUTPUT_CERTIFICATE_ID])
        key = session.client("secretsmanager").get_secret_value(SecretId=outputs[OUTPUT_SECRET_ARN])
        endpoint = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    except (ClientError, BotoCoreError) as error:
        raise ProvisionError(describe_aws_error(error) or str(error)) from None
    try:
        classes = tuple(normalize_classes(outputs[OUTPUT_CLASSES].split(",")))
    except ClassListError as error:
        raise ProvisionError(f"stack {stack} output {OUTPUT_CLASSES} is not a class list: {error}") from None
    return Credentials(
        thing_name=outputs[OUTPUT_THING_NAME],
        endpoint=endpoint,
        certificate_pem=certificate["certificateDescription"]["certificatePem"],
        private_key=key["SecretString"],
        classes=classes,
        topic_prefix=outputs[OUTPUT_TOPIC_PREFIX],
    )


def _stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error.response["Error"].get("Message", "")):
            raise ProvisionError(
                f"stack {stack} not found in {cloudformation.meta.region_name}; deploy it with `cdk deploy {stack}`"
            ) from None
        raise
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    missing = [key for key in _REQUIRED_OUTPUTS if key not in outputs]
    if missing:
        raise ProvisionError(
            f"stack {stack} has no output {missing[0]}; is it the TrashSorterIot stack, deployed by this version "
            f"(`cdk deploy {IOT_STACK_NAME}`)?"
        )
    return outputs


def _toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def subscriber_toml(credentials: Credentials, existing: str = "") -> str:
    """The keys this tool owns first (top-level keys must precede tables); everything else kept."""
    kept = [
        line for line in existing.splitlines()
        if not _OWNED_KEYS.match(line) and not line.startswith("# endpoint, client_id, classes")
        and not line.startswith("# endpoint and client_id are written")
    ]
    head = [
        "# endpoint, client_id, classes and topic_prefix are written by `python -m device.provision`.",
        f"endpoint = {_toml_string(credentials.endpoint)}",
        f"client_id = {_toml_string(credentials.thing_name)}",
        "classes = [" + ", ".join(_toml_string(class_id) for class_id in credentials.classes) + "]",
        f"topic_prefix = {_toml_string(credentials.topic_prefix)}",
    ]
    if not any(re.match(r"^\s*port\s*=", line) for line in kept):
        head.append(f"port = {DEFAULT_PORT}")
    return "\n".join([*head, *kept]) + "\n"


def write(credentials: Credentials, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / CONFIG_FILE
    existing = config.read_text() if config.exists() else ""
    replace_file(folder / CERT_FILE, credentials.certificate_pem, 0o644)
    replace_file(folder / KEY_FILE, credentials.private_key, 0o600)
    replace_file(folder / CA_FILE, AMAZON_ROOT_CA.read_text(), 0o644)
    replace_file(config, subscriber_toml(credentials, existing), 0o640)
    return [folder / name for name in (CERT_FILE, KEY_FILE, CA_FILE, CONFIG_FILE)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m device.provision",
        description="Write the Pi's certificate, private key, Amazon root CA and IoT endpoint into its config folder.",
    )
    parser.add_argument("--stack", default=IOT_STACK_NAME, help=f"the IoT stack's name (default {IOT_STACK_NAME})")
    parser.add_argument("--out", type=Path, default=DEFAULT_CONFIG_DIR, help=f"folder (default {DEFAULT_CONFIG_DIR})")
    parser.add_argument("--region", help="AWS region of the stack (default: your AWS configuration's)")
    parser.add_argument("--profile", help="AWS named profile to use")
    parser.add_argument(
        "--camera", action="append", default=[],
        help="a camera's core thing name to associate the Pi with (repeatable; default: every camera of the "
        f"{EDGE_V2_STACK_NAME} stack's thing group)",
    )
    parser.add_argument(
        "--local-path", choices=("on", "off"), default="on",
        help="on (default): associate the Pi with the cameras, so it also listens to their local brokers",
    )
    return parser


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if session is None:
            session = boto3.Session(profile_name=args.profile, region_name=args.region)
        credentials = fetch(session, args.stack)
        written = write(credentials, args.out)
        notes = associate(session, credentials.thing_name, cameras=args.camera) if args.local_path == "on" else []
    except (ProvisionError, AssociationError) as error:
        print(f"provision: {error}", file=sys.stderr)
        return 1
    except BotoCoreError as error:  # e.g. an unknown --profile
        print(f"provision: {describe_aws_error(error) or error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"provision: cannot write {error.filename}: {error.strerror}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
