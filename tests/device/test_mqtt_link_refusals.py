"""Which failed connections are refusals (stop, name the file) and which are the network (retry): a TLS
handshake that timed out, or was cut under us on a flaky uplink, is not our identity being refused.

The errors are the CRT's own (awscrt's AwsCrtError with its aws-c-io names: a broker refusing our
certificate shows as AWS_IO_TLS_ERROR_READ_FAILURE against mosquitto, as a failed negotiation elsewhere,
and a reset mid-handshake reads the same); the broker is a real mosquitto with mutual TLS on 127.0.0.1,
and the one that does not answer is a port nobody listens on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from awscrt.exceptions import AwsCrtError

from device.mqtt_link import TRANSIENT_TLS_ERRORS, MqttSettings, _refusal_hint
from testbed.local_broker import LocalBroker, free_port
from testbed.local_pki import KeyPair, LocalPki, issue_client, make_untrusted_client

AMBIGUOUS = ["AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE", "AWS_IO_TLS_ERROR_READ_FAILURE", "AWS_IO_TLS_CLOSED_ABORT"]


def settings_for(pki: LocalPki, client: KeyPair, port: int) -> MqttSettings:
    return MqttSettings(endpoint="127.0.0.1", port=port, cert=client.cert_path, key=client.key_path, ca=pki.ca_path,
                        client_id="pi-refusals")


def crt_error(name: str) -> AwsCrtError:
    return AwsCrtError(0, name, "from the CRT")


@pytest.mark.parametrize("name", sorted(TRANSIENT_TLS_ERRORS))
def test_a_timed_out_handshake_is_retried_not_refused(pki: LocalPki, tmp_path: Path, name: str) -> None:
    rogue = make_untrusted_client(tmp_path, "rogue")
    with LocalBroker(pki) as broker:  # even from a broker that would refuse us: the name says the link failed
        assert _refusal_hint(crt_error(name), settings_for(pki, rogue, broker.port)) is None


@pytest.mark.parametrize("name", AMBIGUOUS)
def test_a_cut_handshake_with_a_broker_that_accepts_us_is_retried(pki: LocalPki, name: str) -> None:
    client = issue_client(pki, "pi-refusals")
    with LocalBroker(pki) as broker:
        assert _refusal_hint(crt_error(name), settings_for(pki, client, broker.port)) is None


@pytest.mark.parametrize("name", AMBIGUOUS)
def test_a_broker_that_refuses_our_certificate_is_named_in_one_line(pki: LocalPki, tmp_path: Path, name: str) -> None:
    rogue = make_untrusted_client(tmp_path, "rogue")
    with LocalBroker(pki) as broker:
        hint = _refusal_hint(crt_error(name), settings_for(pki, rogue, broker.port))
    assert hint is not None and "does not trust the client certificate" in hint and str(rogue.cert_path) in hint


def test_a_failed_negotiation_with_nobody_answering_is_the_network(pki: LocalPki) -> None:
    client = issue_client(pki, "pi-refusals")
    settings = settings_for(pki, client, free_port())
    assert _refusal_hint(crt_error("AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE"), settings) is None
