"""Settings from the config folder, the environment and flags, and one-line errors for bad ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from device.pi_subscriber.config import (
    CA_FILE,
    CERT_FILE,
    DEFAULT_BINS,
    KEY_FILE,
    BinStyle,
    SubscriberConfigError,
    load_config,
)
from sorter_common.topics import all_predictions_filter, all_status_filter


def write(folder: Path, text: str) -> Path:
    (folder / "subscriber.toml").write_text(text)
    return folder


def test_a_provisioned_folder_needs_no_flags(tmp_path: Path) -> None:
    write(tmp_path, 'endpoint = "abc-ats.iot.eu-west-1.amazonaws.com"\nclient_id = "trash-sorter-pi"\n')
    config = load_config(["--config-dir", str(tmp_path)], environ={})
    assert config.endpoint == "abc-ats.iot.eu-west-1.amazonaws.com"
    assert config.client_id == "trash-sorter-pi"
    assert (config.cert, config.key, config.ca) == (tmp_path / CERT_FILE, tmp_path / KEY_FILE, tmp_path / CA_FILE)
    assert config.port == 8883
    assert config.topics == (all_predictions_filter(), all_status_filter())
    assert config.bins == DEFAULT_BINS
    assert config.classes == ("compost", "landfill", "recycling")


def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    write(tmp_path, 'endpoint = "file-host"\nport = 1883\nidle_after = 5\ncert = "certs/pi.pem"\n')
    env = {"TRASH_SORTER_PORT": "9000", "TRASH_SORTER_ENDPOINT": "env-host", "TRASH_SORTER_TOPIC": "a/#,b/+"}
    config = load_config(["--config-dir", str(tmp_path), "--endpoint", "flag-host"], environ=env)
    assert config.endpoint == "flag-host"
    assert config.port == 9000
    assert config.idle_after_s == 5
    assert config.cert == tmp_path / "certs" / "pi.pem"  # relative to the file's folder
    assert config.topics == ("a/#", "b/+")
    flags = ["--config-dir", str(tmp_path), "--topic", "x/1", "--topic", "x/2", "--display", "terminal"]
    assert load_config(flags, environ={}).topics == ("x/1", "x/2")


def test_bins_colours_and_directions_come_from_the_file(tmp_path: Path) -> None:
    write(tmp_path, """
endpoint = "h"
classes = ["compost", "glass", "landfill", "recycling"]
[bins.recycling]
colour = "#0000ff"
direction = "up-left"
[bins.glass]
colour = [10, 200, 30]
direction = "up"
[bins.compost]
[bins.landfill]
direction = "down-right"
""")
    config = load_config(["--config-dir", str(tmp_path)], environ={})
    assert config.bins["recycling"] == BinStyle((0, 0, 255), "up-left")
    assert config.bins["glass"] == BinStyle((10, 200, 30), "up")
    assert config.bins["compost"] == DEFAULT_BINS["compost"]
    assert config.bins["landfill"] == BinStyle(DEFAULT_BINS["landfill"].colour, "down-right")
    assert config.classes == ("compost", "glass", "landfill", "recycling")


@pytest.mark.parametrize(
    ("args", "file_text", "message"),
    [
        ([], "", "setting 'endpoint' is missing"),
        (["--port", "0"], 'endpoint = "h"', "setting 'port' = '0'"),
        (["--port", "http"], 'endpoint = "h"', "expected a number"),
        (["--rotation", "45"], 'endpoint = "h"', "setting 'rotation' = 45"),
        (["--dim", "evenings"], 'endpoint = "h"', "setting 'dim' = 'evenings'"),
        (["--stale-after", "-1"], 'endpoint = "h"', "setting 'stale_after'"),
        ([], 'endpoint = "h"\n[bins.compost]\ncolour = "blue"\ndirection = "up"', "setting 'bins.compost.colour'"),
        ([], 'endpoint = "h"\n[bins.compost]\ncolour = "#ffffff"\ndirection = "north"', "bins.compost.direction"),
        ([], 'endpoint = "h"\ncolour = 1', "unknown setting 'colour'"),
        ([], 'endpoint = ', "is not valid TOML"),
    ],
)
def test_bad_settings_fail_with_one_line_naming_them(tmp_path: Path, args: list[str], file_text: str,
                                                     message: str) -> None:
    write(tmp_path, file_text)
    with pytest.raises(SubscriberConfigError) as error:
        load_config(["--config-dir", str(tmp_path), *args], environ={})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_the_command_reports_a_bad_setting_in_one_line_and_exits_2(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "device.pi_subscriber", "--config-dir", str(tmp_path), "--display", "terminal"],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"ERROR device.pi_subscriber: setting 'endpoint' is missing; give --endpoint, TRASH_SORTER_ENDPOINT, "
        f"or endpoint = \"...\" in {tmp_path / 'subscriber.toml'}"
    ]
