"""CloudFormation custom resource: the Pi's AWS IoT certificate, its private key only in Secrets Manager.

Properties: ThingName, PolicyName, SecretName.
Create: CreateKeysAndCertificate (active), then CreateSecret with the private key, tagged with the
  certificate id. The physical id is the certificate id.
Update: with the same SecretName nothing is created (same certificate, same secret). A new
  SecretName means a new certificate and secret; CloudFormation then deletes the old pair.
Delete: detach the certificate from the thing and the policy, UpdateCertificate INACTIVE,
  DeleteCertificate (tried again while IoT still reports it attached: DetachThingPrincipal is
  asynchronous), and delete the secret (only when it is tagged with this certificate's id).
Data returned: CertificateId, CertificateArn, SecretArn. Never the key, never the PEM, and nothing
from the event is logged (its ResponseURL is a pre-signed URL).
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sorter_common import cfn_response
from sorter_common.backoff import doubling_delays

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
# botocore's DEBUG wire log would print CreateKeysAndCertificate's response, key included.
for _noisy in ("boto3", "botocore", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

CERTIFICATE_ID_TAG = "iot-certificate-id"
# The CloudFormation request that made the secret: a retried Create finds its own earlier work.
REQUEST_ID_TAG = "cloudformation-request-id"
_CERTIFICATE_ID = re.compile(r"^[0-9a-f]{64}$")
_NOT_FOUND = ("ResourceNotFoundException",)
# The role may read only secrets named SecretName-??????. For a secret that does not exist yet IAM
# has no ARN to match, and whether Secrets Manager then answers "not found" or "access denied" is
# not documented: on the first Create both mean "no secret yet" (a real permission problem still
# fails at CreateSecret, with its own error).
_NO_SECRET_YET = (*_NOT_FOUND, "AccessDeniedException")
# DeleteCertificate while a detach is still being applied: DeleteConflictException.
DELETE_ATTEMPTS = 8
DELETE_FIRST_WAIT_S = 2.0
DELETE_MAX_WAIT_S = 15.0


class Clients:
    """The two AWS clients the handler uses; tests pass moto-backed ones."""

    def __init__(self, iot: Any = None, secrets: Any = None) -> None:
        self.iot = iot or boto3.client("iot")
        self.secrets = secrets or boto3.client("secretsmanager")


def _result(physical_id: str, certificate: dict[str, Any], secret_arn: str) -> dict[str, Any]:
    return {
        "PhysicalResourceId": physical_id,
        "Data": {
            "CertificateId": certificate["certificateId"],
            "CertificateArn": certificate["certificateArn"],
            "SecretArn": secret_arn,
        },
    }


def _made_by(request_id: str, secret_name: str, clients: Clients) -> str | None:
    """The certificate id of a secret this very request made earlier (Lambda retried us), else None."""
    try:
        tags = clients.secrets.describe_secret(SecretId=secret_name).get("Tags", [])
    except ClientError as error:
        if error.response["Error"]["Code"] in _NO_SECRET_YET:
            return None
        raise
    values = {tag["Key"]: tag["Value"] for tag in tags}
    return values.get(CERTIFICATE_ID_TAG) if values.get(REQUEST_ID_TAG) == request_id else None


def _create(props: dict[str, Any], clients: Clients, request_id: str) -> dict[str, Any]:
    earlier = _made_by(request_id, props["SecretName"], clients)
    if earlier is not None:  # our response never reached CloudFormation: answer again, make nothing
        return _existing(earlier, props, clients)
    created = clients.iot.create_keys_and_certificate(setAsActive=True)
    certificate_id = created["certificateId"]
    try:
        secret = clients.secrets.create_secret(
            Name=props["SecretName"],
            Description=f"Private key of AWS IoT certificate {certificate_id} (thing {props['ThingName']})",
            SecretString=created["keyPair"]["PrivateKey"],
            Tags=[
                {"Key": CERTIFICATE_ID_TAG, "Value": certificate_id},
                {"Key": REQUEST_ID_TAG, "Value": request_id},
            ],
        )
    except ClientError:
        # Without its key the certificate is useless: remove it rather than leave an orphan.
        _delete_certificate(certificate_id, created["certificateArn"], props, clients)
        raise
    LOG.info("created certificate %s and its key secret", certificate_id)
    return _result(certificate_id, created, secret["ARN"])


def _existing(physical_id: str, props: dict[str, Any], clients: Clients) -> dict[str, Any]:
    certificate = clients.iot.describe_certificate(certificateId=physical_id)["certificateDescription"]
    secret = clients.secrets.describe_secret(SecretId=props["SecretName"])
    LOG.info("certificate %s unchanged", physical_id)
    return _result(physical_id, certificate, secret["ARN"])


def _ignore_not_found(call: Any, **kwargs: Any) -> None:
    try:
        call(**kwargs)
    except ClientError as error:
        if error.response["Error"]["Code"] not in _NOT_FOUND:
            raise


def _delete_certificate(certificate_id: str, certificate_arn: str, props: dict[str, Any], clients: Clients) -> None:
    # CloudFormation deletes its attachments first; detaching again makes DeleteCertificate safe
    # when they were removed by hand or never created.
    _ignore_not_found(clients.iot.detach_thing_principal, thingName=props["ThingName"], principal=certificate_arn)
    _ignore_not_found(clients.iot.detach_policy, policyName=props["PolicyName"], target=certificate_arn)
    _ignore_not_found(clients.iot.update_certificate, certificateId=certificate_id, newStatus="INACTIVE")
    waits = itertools.islice(doubling_delays(DELETE_FIRST_WAIT_S, DELETE_MAX_WAIT_S), DELETE_ATTEMPTS)
    for attempt, wait in enumerate(waits, start=1):
        try:
            _ignore_not_found(clients.iot.delete_certificate, certificateId=certificate_id)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] != "DeleteConflictException" or attempt == DELETE_ATTEMPTS:
                raise
            # The detaches above are applied asynchronously (DetachThingPrincipal says so).
            LOG.info("certificate %s still attached; deleting again in %.0f s", certificate_id, wait)
            time.sleep(wait)


def _delete_secret_of(certificate_id: str, secret_name: str, clients: Clients) -> None:
    try:
        tags = clients.secrets.describe_secret(SecretId=secret_name).get("Tags", [])
    except ClientError as error:
        if error.response["Error"]["Code"] in _NOT_FOUND:
            return
        raise
    # Only this certificate's secret: a secret of the same name made by someone else stays.
    if {"Key": CERTIFICATE_ID_TAG, "Value": certificate_id} in tags:
        clients.secrets.delete_secret(SecretId=secret_name, ForceDeleteWithoutRecovery=True)


def _delete(physical_id: str, props: dict[str, Any], clients: Clients) -> dict[str, Any]:
    if _CERTIFICATE_ID.match(physical_id):  # otherwise Create failed and left nothing behind
        try:
            description = clients.iot.describe_certificate(certificateId=physical_id)["certificateDescription"]
        except ClientError as error:
            if error.response["Error"]["Code"] not in _NOT_FOUND:
                raise
        else:
            _delete_certificate(physical_id, description["certificateArn"], props, clients)
        _delete_secret_of(physical_id, props["SecretName"], clients)
        LOG.info("deleted certificate %s and its key secret", physical_id)
    return {"PhysicalResourceId": physical_id, "Data": {}}


def handle(event: dict[str, Any], clients: Clients) -> dict[str, Any]:
    """Do the request; returns PhysicalResourceId and Data (ids and ARNs only)."""
    request = event["RequestType"]
    props = event["ResourceProperties"]
    if request == "Create":
        return _create(props, clients, event["RequestId"])
    physical_id = event["PhysicalResourceId"]
    if request == "Update":
        if props["SecretName"] != event["OldResourceProperties"]["SecretName"]:
            return _create(props, clients, event["RequestId"])  # a replacement: CloudFormation deletes the old one
        return _existing(physical_id, props, clients)
    if request == "Delete":
        return _delete(physical_id, props, clients)
    raise ValueError(f"unknown request type {request!r}")


def handler(event: dict[str, Any], context: Any, clients: Clients | None = None) -> None:
    cfn_response.respond(event, lambda: handle(event, clients or Clients()))
