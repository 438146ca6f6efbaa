"""Which failed connections are refusals (stop, name the file) and which are the network (retry): a TLS
handshake that timed out or was cut under us on a flaky uplink is not our identity being refused.

The errors are the CRT's own (awscrt's AwsCrtError with its aws-c-io names); the broker that answers is a
real mosquitto with mutual TLS on 127.0.0.1, the one that does not is a port nobody listens on.
"""

from __future__ import annotations

import pytest
from awscrt.exceptions import AwsCrtError

from device.mqtt_link import TRANSIENT_TLS_ERRORS, MqttSettings, _refusal_hint
from testbed.local_broker import LocalBroker, free_port
from testbed.local_pki import LocalPki, issue_client


def settings_for(pki: LocalPki, port: int) -> MqttSettings:
    client = issue_client(pki, "pi-refusals")
    return MqttSettings(endpoint="127.0.0.1", port=port, cert=client.cert_path, key=client.key_path, ca=pki.ca_path,
                        client_id="pi-refusals")


def crt_error(name: str) -> AwsCrtError:
    return AwsCrtError(0, name, "from the CRT")


@pytest.mark.parametrize("name", sorted(TRANSIENT_TLS_ERRORS))
def test_a_timed_out_or_cut_handshake_is_retried_not_refused(pki: LocalPki, name: str) -> None:
    with LocalBroker(pki) as broker:  # even with a broker that answers: the name says the link failed
        assert _refusal_hint(crt_error(name), settings_for(pki, broker.port)) is None


def test_a_failed_negotiation_with_nobody_answering_is_the_network(pki: LocalPki) -> None:
    # s2n reports a connection reset mid-handshake as a failed negotiation, the same name as a refusal.
    assert _refusal_hint(crt_error("AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE"), settings_for(pki, free_port())) is None


def test_a_failed_negotiation_with_a_broker_that_answers_still_names_the_certificate(pki: LocalPki) -> None:
    settings = settings_for(pki, 0)
    with LocalBroker(pki) as broker:
        hint = _refusal_hint(crt_error("AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE"),
                             MqttSettings(**{**settings.__dict__, "port": broker.port}))
    assert hint is not None and "does not trust the client certificate" in hint and str(settings.cert) in hint
