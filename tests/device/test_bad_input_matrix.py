"""The bad-input matrix for the Pi and the camera's MQTT side: one row per hostile or careless input.

Each row gives the input, the exit code (or that the process keeps running), the one line the
user sees, and that nothing was lost: the subscriber still shows the next good message, a
config file is left as it was. Everything runs for real: mosquitto with mutual TLS,
`python -m device.pi_subscriber` as systemd runs it, the sense_emu screen read back.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from device.pi_subscriber import patterns
from device.pi_subscriber.config import DEFAULT_BINS
from device.pi_subscriber.message_filter import MAX_CLOCK_SKEW_S
from sorter_common.message import encode, prediction_dict
from sorter_common.topics import predictions_topic
from testbed.emu_screen import as_rgb565, read_emu_screen
from testbed.local_broker import LocalBroker
from testbed.local_pki import LocalPki, issue_client, make_ca

from .conftest import REPO_ROOT, Camera, SubscriberProcess, unique_client_id

StartSubscriber = Callable[..., SubscriberProcess]
NESTED_ARRAYS = b"[" * 1000 + b"]" * 1000  # 2,000 bytes: deeper than json's recursion limit


def shows(sub: SubscriberProcess, camera: Camera, label: str) -> None:
    """The next good message is drawn: the event says so and the screen holds that bin's arrow."""
    seq = camera.predict(label)
    sub.wait_event("shown", seq=seq, label=label, device=camera.device)
    style = DEFAULT_BINS[label]
    assert read_emu_screen()[0] == as_rgb565(patterns.arrow(style.direction, style.colour))


def payload(device: str, seq: int, ts: float, label: str = "landfill") -> bytes:
    return encode(prediction_dict(device, seq, ts, label, 0.9, [(label, 0.9)], "m-1"))


# --- messages: nothing a camera (or anyone who can publish) sends stops or misleads the display ---


def test_nested_arrays_are_refused_and_the_next_message_is_shown(
    start_subscriber: StartSubscriber, camera: Camera
) -> None:
    sub = start_subscriber()
    camera.raw(predictions_topic(camera.device), NESTED_ARRAYS)
    event = sub.wait_event("ignored", kind="malformed")
    assert event["device"] == camera.device
    shows(sub, camera, "compost")
    assert sub.process is not None and sub.process.poll() is None
    assert "ignoring malformed message (JSON nested too deeply)" in sub.stderr()


def test_a_retained_poison_message_does_not_stop_a_restarted_subscriber(
    start_subscriber: StartSubscriber, camera: Camera
) -> None:
    topic = predictions_topic(camera.device)
    camera.raw(topic, NESTED_ARRAYS, retain=True)
    try:
        for _ in range(2):  # a restart gets the retained message again
            sub = start_subscriber()
            sub.wait_event("ignored", kind="malformed")
            shows(sub, camera, "recycling")
            assert sub.stop() == 0
    finally:
        camera.raw(topic, b"", retain=True)  # an empty retained message clears it


def test_a_camera_cannot_speak_for_or_silence_another(
    start_subscriber: StartSubscriber, camera: Camera, broker: LocalBroker, pki: LocalPki
) -> None:
    victim_name = unique_client_id("victim")
    victim = Camera(broker, issue_client(pki, victim_name), pki.ca_path, victim_name)
    try:
        sub = start_subscriber()
        shows(sub, victim, "compost")
        # On its own topic, the attacker names the victim, with a huge seq and a far-future clock.
        camera.raw(predictions_topic(camera.device), payload(victim_name, 10**12, time.time() + 10**6))
        assert sub.wait_event("ignored", kind="future")["device"] == camera.device
        # Naming the victim with a plausible clock: accepted, but as the attacker's own decision.
        camera.raw(predictions_topic(camera.device), payload(victim_name, 10**12, time.time()))
        assert sub.wait_event("shown", seq=10**12)["device"] == camera.device
        shows(sub, victim, "recycling")  # the victim's next message (seq 2) is not out of order
    finally:
        victim.close()


def test_a_future_clock_is_refused_and_a_restarted_camera_is_shown_again(
    start_subscriber: StartSubscriber, camera: Camera
) -> None:
    sub = start_subscriber()
    topic = predictions_topic(camera.device)
    camera.raw(topic, payload(camera.device, 10**9, time.time() + MAX_CLOCK_SKEW_S + 60))
    sub.wait_event("ignored", kind="future", device=camera.device)
    for label in ("compost", "landfill", "recycling"):
        shows(sub, camera, label)
    camera.seq = 0  # the camera restarts: seq counts from 1 again
    shows(sub, camera, "compost")


# --- credentials: one line naming the file at fault, exit 2, for the Pi and the camera alike ---


def _garbage(folder: Path) -> Path:
    path = folder / "garbage.pem"
    path.write_text("not a certificate\n")
    return path


CREDENTIAL_CASES: dict[str, tuple[str, str]] = {
    # case: (which file is swapped, what the one line must say about it)
    "certificate is not PEM": ("cert", "the client certificate file {path} is not PEM"),
    "key is not PEM": ("key", "the private key file {path} is not PEM"),
    "CA is not PEM": ("ca", "the CA certificate file {path} is not PEM"),
    "key of another certificate": ("key", "the private key {path} does not belong to the client certificate"),
    "CA file is a folder": ("ca", "the CA certificate file {path} is a folder"),
    "certificate missing": ("cert", "the client certificate file {path} does not exist"),
    "CA did not sign the broker": ("ca", "presents a certificate that the CA file {path} did not sign"),
}


def _bad_credentials(case: str, tmp_path: Path, pki: LocalPki, name: str) -> dict[str, Path]:
    good = issue_client(pki, name)
    files = {"cert": good.cert_path, "key": good.key_path, "ca": pki.ca_path}
    role = CREDENTIAL_CASES[case][0]
    other = make_ca(tmp_path / "other", name="another CA")
    files[role] = {
        "certificate is not PEM": _garbage(tmp_path),
        "key is not PEM": _garbage(tmp_path),
        "CA is not PEM": _garbage(tmp_path),
        "key of another certificate": other.key_path,
        "CA file is a folder": tmp_path,
        "certificate missing": tmp_path / "nowhere.pem",
        "CA did not sign the broker": other.cert_path,
    }[case]
    return files


def _one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if " ERROR " in f" {line}" or line.startswith("ERROR")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return errors[0]


@pytest.mark.parametrize("case", list(CREDENTIAL_CASES))
def test_bad_credentials_stop_the_subscriber_with_one_line(
    case: str, tmp_path: Path, broker: LocalBroker, pki: LocalPki
) -> None:
    client_id = unique_client_id("pi")
    files = _bad_credentials(case, tmp_path, pki, client_id)
    run = subprocess.run(
        [sys.executable, "-m", "device.pi_subscriber", "--config-dir", str(tmp_path), "--display", "terminal",
         "--endpoint", broker.host, "--port", str(broker.port), "--client-id", client_id,
         *(f"--{name}={path}" for name, path in files.items())],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=90,
    )
    assert run.returncode == 2, run.stderr
    role, expected = CREDENTIAL_CASES[case]
    assert expected.format(path=files[role]) in _one_error_line(run.stderr)


@pytest.mark.parametrize("case", ["key is not PEM", "key of another certificate", "CA did not sign the broker"])
def test_bad_credentials_stop_the_camera_component_with_one_line(
    case: str, tmp_path: Path, broker: LocalBroker, pki: LocalPki
) -> None:
    thing = unique_client_id("cam")
    files = _bad_credentials(case, tmp_path, pki, thing)
    run = subprocess.run(
        [sys.executable, "-m", "device.greengrass_component", "--transport", "mqtt", "--thing-name", thing,
         "--source", str(tmp_path), "--model", str(tmp_path / "model.tar.gz"),
         "--endpoint", broker.host, "--port", str(broker.port),
         *(f"--{name}={path}" for name, path in files.items())],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=90,
    )
    assert run.returncode == 2, run.stderr
    role, expected = CREDENTIAL_CASES[case]
    assert expected.format(path=files[role]) in _one_error_line(run.stderr)


# --- the subscriber's own config: one line, exit 2, and the file left as it was ---

CONFIG_CASES: dict[str, tuple[bytes, str]] = {
    "topic filter with # inside": (
        b'endpoint = "h"\ntopics = ["trash-sorter/#/predictions"]\n',
        "setting 'topic' = 'trash-sorter/#/predictions' is not allowed; not an MQTT topic filter: '#' must be",
    ),
    "topic filter with a partial +": (
        b'endpoint = "h"\ntopics = ["trash-sorter/cam+/predictions"]\n', "'+' must be a whole level",
    ),
    "events file in a missing folder": (
        b'endpoint = "h"\nevents = "no/such/folder/events.jsonl"\n', "/no/such/folder does not exist",
    ),
    "not UTF-8": (b'endpoint = "caf\xe9"\n', "is not UTF-8 text"),
    "a list where a string belongs": (b'endpoint = ["a", "b"]\n', "setting 'endpoint' = ['a', 'b'] is not allowed"),
    "a list as the client id": (b'endpoint = "h"\nclient_id = ["pi"]\n', "setting 'client_id'"),
    "a table as the cert path": (b'endpoint = "h"\ncert = {a = 1}\n', "setting 'cert'"),
    "a bin that is not a class": (
        b'endpoint = "h"\n[bins.recyling]\ncolour = "#0000ff"\n',
        "'recyling' is not one of the project's classes (compost, landfill, recycling)",
    ),
    "a class list with a bad id": (b'endpoint = "h"\nclasses = ["Glass", "paper"]\n', "setting 'classes'"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_a_bad_subscriber_config_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    text, expected = CONFIG_CASES[case]
    config_file = tmp_path / "subscriber.toml"
    config_file.write_bytes(text)
    run = subprocess.run(
        [sys.executable, "-m", "device.pi_subscriber", "--config-dir", str(tmp_path), "--display", "terminal"],
        cwd=REPO_ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60,
    )
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert expected in run.stderr
    assert config_file.read_bytes() == text  # nothing the user wrote is touched


def test_an_unreadable_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "subscriber.toml").mkdir()  # root reads any file: a folder is what stays unreadable
    run = subprocess.run(
        [sys.executable, "-m", "device.pi_subscriber", "--config-dir", str(tmp_path), "--display", "terminal"],
        cwd=REPO_ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"ERROR device.pi_subscriber: config file {tmp_path / 'subscriber.toml'} cannot be read: Is a directory"
    ]


def test_a_partial_bins_table_keeps_every_other_class(tmp_path: Path) -> None:
    from device.pi_subscriber.config import BinStyle, load_config

    (tmp_path / "subscriber.toml").write_text('endpoint = "h"\n[bins.compost]\ndirection = "up"\n')
    config = load_config(["--config-dir", str(tmp_path)], environ={})
    assert config.classes == ("compost", "landfill", "recycling")
    assert config.bins["compost"] == BinStyle(DEFAULT_BINS["compost"].colour, "up")
    assert config.bins["landfill"] == DEFAULT_BINS["landfill"]
    assert config.bins["recycling"] == DEFAULT_BINS["recycling"]
