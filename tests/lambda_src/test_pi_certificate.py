"""The Pi certificate custom resource against moto: create, update, delete; the key stays secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from lambda_src.pi_certificate import index
from lambda_src.pi_certificate.index import Clients
from sorter_common import cfn_response

REGION = "us-east-1"
THING = "trash-sorter-pi"
POLICY = "TrashSorterPiPolicy"
SECRET = f"trash-sorter/{THING}/private-key"
PROPS = {"ThingName": THING, "PolicyName": POLICY, "SecretName": SECRET}

# Spelled in two parts so no scan for committed keys mistakes this assertion for a key.
PEM_PRIVATE_KEY_HEADER = "-----BEGIN " + "RSA PRIVATE KEY-----"


@pytest.fixture()
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clients]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        iot = boto3.client("iot", region_name=REGION)
        iot.create_thing(thingName=THING)
        iot.create_policy(policyName=POLICY, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
        yield Clients(iot=iot, secrets=boto3.client("secretsmanager", region_name=REGION))


def event(
    request: str, physical_id: str | None = None, old: dict[str, Any] | None = None, **props: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "RequestType": request,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/presigned",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/TrashSorterIot/guid",
        "RequestId": "request-1",
        "LogicalResourceId": "PiCertificate",
        "ResourceType": "Custom::PiCertificate",
        "ResourceProperties": {**PROPS, **props},
    }
    if physical_id is not None:
        body["PhysicalResourceId"] = physical_id
    if old is not None:
        body["OldResourceProperties"] = old
    return body


def attach(clients: Clients, certificate_arn: str) -> None:
    """What CloudFormation's attachment resources do after the certificate exists."""
    clients.iot.attach_thing_principal(thingName=THING, principal=certificate_arn)
    clients.iot.attach_policy(policyName=POLICY, target=certificate_arn)


def certificate_ids(clients: Clients) -> list[str]:
    return [cert["certificateId"] for cert in clients.iot.list_certificates()["certificates"]]


def test_create_makes_an_active_certificate_and_keeps_its_key_only_in_the_secret(clients: Clients) -> None:
    result = index.handle(event("Create"), clients)

    data = result["Data"]
    assert set(data) == {"CertificateId", "CertificateArn", "SecretArn"}
    assert result["PhysicalResourceId"] == data["CertificateId"]
    description = clients.iot.describe_certificate(certificateId=data["CertificateId"])["certificateDescription"]
    assert description["status"] == "ACTIVE"
    assert description["certificateArn"] == data["CertificateArn"]
    secret = clients.secrets.get_secret_value(SecretId=SECRET)
    assert secret["ARN"] == data["SecretArn"]
    assert secret["SecretString"].startswith(PEM_PRIVATE_KEY_HEADER)
    tags = clients.secrets.describe_secret(SecretId=SECRET)["Tags"]
    assert {"Key": index.CERTIFICATE_ID_TAG, "Value": data["CertificateId"]} in tags


def test_the_response_sent_to_cloudformation_has_ids_and_arns_but_never_the_key_or_pem(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, bytes]] = []
    monkeypatch.setattr(cfn_response, "send", lambda url, body: sent.append((url, body)))

    index.handler(event("Create"), None, clients)

    [(url, body)] = sent
    assert url == "https://cloudformation-custom-resource-response.example/presigned"
    response = json.loads(body)
    assert response["Status"] == "SUCCESS"
    key = clients.secrets.get_secret_value(SecretId=SECRET)["SecretString"]
    pem = clients.iot.describe_certificate(certificateId=response["PhysicalResourceId"])["certificateDescription"][
        "certificatePem"
    ]
    text = body.decode()
    assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text
    assert key.splitlines()[1] not in text and pem.splitlines()[1] not in text


def test_the_key_is_never_logged_even_at_debug_level(
    clients: Clients, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(cfn_response, "send", lambda url, body: None)
    caplog.set_level("DEBUG")
    index.handler(event("Create"), None, clients)
    key = clients.secrets.get_secret_value(SecretId=SECRET)["SecretString"]
    assert "PRIVATE KEY" not in caplog.text and key.splitlines()[1] not in caplog.text
    assert "presigned" not in caplog.text


def test_update_with_the_same_secret_is_idempotent_and_creates_no_certificate(clients: Clients) -> None:
    created = index.handle(event("Create"), clients)
    key = clients.secrets.get_secret_value(SecretId=SECRET)["SecretString"]

    for _ in range(2):
        updated = index.handle(event("Update", created["PhysicalResourceId"], old=dict(PROPS)), clients)
        assert updated == created

    assert certificate_ids(clients) == [created["PhysicalResourceId"]]
    assert clients.secrets.get_secret_value(SecretId=SECRET)["SecretString"] == key


def test_update_with_a_new_secret_name_replaces_the_pair_and_delete_of_the_old_leaves_the_new(
    clients: Clients,
) -> None:
    old = index.handle(event("Create"), clients)
    new_secret = "trash-sorter/renamed/private-key"

    new = index.handle(event("Update", old["PhysicalResourceId"], old=dict(PROPS), SecretName=new_secret), clients)
    assert new["PhysicalResourceId"] != old["PhysicalResourceId"]
    index.handle(event("Delete", old["PhysicalResourceId"]), clients)  # CloudFormation's clean-up, old props

    assert certificate_ids(clients) == [new["PhysicalResourceId"]]
    assert clients.secrets.describe_secret(SecretId=new_secret)["ARN"] == new["Data"]["SecretArn"]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        clients.secrets.describe_secret(SecretId=SECRET)


def test_delete_detaches_deactivates_and_deletes_the_certificate_and_the_secret(clients: Clients) -> None:
    created = index.handle(event("Create"), clients)
    certificate_id, certificate_arn = created["PhysicalResourceId"], created["Data"]["CertificateArn"]
    attach(clients, certificate_arn)
    states: list[str] = []
    real_delete = clients.iot.delete_certificate

    def delete_certificate(**kwargs: Any) -> Any:
        # The certificate must be inactive and detached by the time it is deleted.
        description = clients.iot.describe_certificate(certificateId=kwargs["certificateId"])
        states.append(description["certificateDescription"]["status"])
        assert clients.iot.list_principal_things(principal=certificate_arn)["things"] == []
        assert clients.iot.list_attached_policies(target=certificate_arn)["policies"] == []
        return real_delete(**kwargs)

    clients.iot.delete_certificate = delete_certificate
    result = index.handle(event("Delete", certificate_id), clients)

    assert result == {"PhysicalResourceId": certificate_id, "Data": {}}
    assert states == ["INACTIVE"]
    assert certificate_ids(clients) == []
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        clients.secrets.describe_secret(SecretId=SECRET)


def test_delete_twice_or_after_a_failed_create_succeeds_and_spares_a_stranger_s_secret(clients: Clients) -> None:
    created = index.handle(event("Create"), clients)
    index.handle(event("Delete", created["PhysicalResourceId"]), clients)
    index.handle(event("Delete", created["PhysicalResourceId"]), clients)  # CloudFormation retries

    clients.secrets.create_secret(Name=SECRET, SecretString="someone else's")
    index.handle(event("Delete", "not-created-request-1"), clients)
    index.handle(event("Delete", "a" * 64), clients)  # a certificate id that is not this secret's
    assert clients.secrets.get_secret_value(SecretId=SECRET)["SecretString"] == "someone else's"


def test_a_create_that_cannot_store_the_key_fails_and_leaves_no_certificate(
    clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients.secrets.create_secret(Name=SECRET, SecretString="already here")
    sent: list[bytes] = []
    monkeypatch.setattr(cfn_response, "send", lambda url, body: sent.append(body))

    index.handler(event("Create"), None, clients)

    response = json.loads(sent[0])
    assert response["Status"] == "FAILED"
    assert "ResourceExistsException" in response["Reason"]
    assert response["PhysicalResourceId"] == "not-created-request-1"
    assert certificate_ids(clients) == []
    assert clients.secrets.get_secret_value(SecretId=SECRET)["SecretString"] == "already here"


def test_a_retried_create_answers_again_and_makes_no_second_certificate(clients: Clients) -> None:
    first = index.handle(event("Create"), clients)
    again = index.handle(event("Create"), clients)  # Lambda retried: the response never arrived
    assert again == first
    assert certificate_ids(clients) == [first["PhysicalResourceId"]]


CERTIFICATE_ID = "ab" * 32
CERTIFICATE_ARN = f"arn:aws:iot:{REGION}:123456789012:cert/{CERTIFICATE_ID}"


@pytest.mark.parametrize("answer", ["ResourceNotFoundException", "AccessDeniedException"])
def test_the_first_create_works_whether_the_missing_secret_is_not_found_or_access_denied(
    monkeypatch: pytest.MonkeyPatch, answer: str
) -> None:
    """The role reads only SecretName-??????: IAM may deny DescribeSecret of a secret not made yet."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    iot = boto3.client("iot", region_name=REGION)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    iot_stub, secrets_stub = Stubber(iot), Stubber(secrets)
    secrets_stub.add_client_error("describe_secret", answer, expected_params={"SecretId": SECRET})
    key_pair = _generated_key_pair()
    iot_stub.add_response(
        "create_keys_and_certificate",
        {
            "certificateArn": CERTIFICATE_ARN,
            "certificateId": CERTIFICATE_ID,
            "certificatePem": "pem",
            "keyPair": key_pair,
        },
        {"setAsActive": True},
    )
    secrets_stub.add_response("create_secret", {"ARN": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:s-abcdef"})
    with iot_stub, secrets_stub:
        result = index.handle(event("Create"), Clients(iot=iot, secrets=secrets))
        iot_stub.assert_no_pending_responses()
        secrets_stub.assert_no_pending_responses()
    assert result["PhysicalResourceId"] == CERTIFICATE_ID


def _generated_key_pair() -> dict[str, str]:
    """A key pair made for the test, as CreateKeysAndCertificate returns one (no key is committed)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"PublicKey": public.decode(), "PrivateKey": private.decode()}


def _stubbed_delete(monkeypatch: pytest.MonkeyPatch, conflicts: int) -> tuple[Any, Any, Clients, list[float]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    iot = boto3.client("iot", region_name=REGION)
    secrets = boto3.client("secretsmanager", region_name=REGION)
    iot_stub, secrets_stub = Stubber(iot), Stubber(secrets)
    iot_stub.add_response(
        "describe_certificate",
        {"certificateDescription": {"certificateArn": CERTIFICATE_ARN, "certificateId": CERTIFICATE_ID}},
    )
    iot_stub.add_response("detach_thing_principal", {}, {"thingName": THING, "principal": CERTIFICATE_ARN})
    iot_stub.add_response("detach_policy", {}, {"policyName": POLICY, "target": CERTIFICATE_ARN})
    iot_stub.add_response("update_certificate", {}, {"certificateId": CERTIFICATE_ID, "newStatus": "INACTIVE"})
    for _ in range(conflicts):
        # What IoT answers while the asynchronous DetachThingPrincipal has not been applied yet.
        iot_stub.add_client_error("delete_certificate", "DeleteConflictException", http_status_code=409)
    return iot_stub, secrets_stub, Clients(iot=iot, secrets=secrets), slept


def test_delete_tries_again_while_iot_still_reports_the_certificate_attached(monkeypatch: pytest.MonkeyPatch) -> None:
    iot_stub, secrets_stub, clients, slept = _stubbed_delete(monkeypatch, conflicts=2)
    iot_stub.add_response("delete_certificate", {}, {"certificateId": CERTIFICATE_ID})
    secrets_stub.add_client_error("describe_secret", "ResourceNotFoundException")
    with iot_stub, secrets_stub:
        index.handle(event("Delete", CERTIFICATE_ID), clients)
        iot_stub.assert_no_pending_responses()
    assert slept == [index.DELETE_FIRST_WAIT_S, index.DELETE_FIRST_WAIT_S * 2]


def test_delete_gives_up_with_the_conflict_after_its_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "DELETE_ATTEMPTS", 3)
    iot_stub, secrets_stub, clients, slept = _stubbed_delete(monkeypatch, conflicts=3)
    with iot_stub, secrets_stub, pytest.raises(ClientError, match="DeleteConflictException"):
        index.handle(event("Delete", CERTIFICATE_ID), clients)
    assert len(slept) == 2
