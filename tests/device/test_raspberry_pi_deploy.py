"""The systemd unit and the Raspberry Pi OS install script (checked here; they run on a Pi)."""

from __future__ import annotations

import configparser
import importlib.metadata
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "device" / "raspberry_pi"
UNIT = DEPLOY / "trash-sorter-display.service"
INSTALL = DEPLOY / "install.sh"
PREFIX = "/opt/trash-sorter"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read(UNIT)
    return parser


def dry_run() -> list[str]:
    result = subprocess.run(["bash", str(INSTALL), "--dry-run"], capture_output=True, text=True, check=True)
    return result.stdout.splitlines()


def test_unit_is_valid_for_systemd(tmp_path: Path) -> None:
    # systemd-analyze checks the executable exists, so point ExecStart at this interpreter.
    local = tmp_path / UNIT.name
    local.write_text(UNIT.read_text().replace(f"{PREFIX}/venv/bin/python", sys.executable))
    verify = subprocess.run(
        [shutil.which("systemd-analyze") or "systemd-analyze", "verify", str(local)], capture_output=True, text=True
    )
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr


def test_unit_runs_the_subscriber_as_the_installed_user_and_stops_it_with_sigterm() -> None:
    service = unit()["Service"]
    assert service["ExecStart"] == f"{PREFIX}/venv/bin/python -m device.pi_subscriber"
    assert service["WorkingDirectory"] == f"{PREFIX}/app"
    assert service["User"] == "trash-sorter"
    assert set(service["SupplementaryGroups"].split()) >= {"video", "i2c"}  # framebuffer and HAT sensors
    assert service["KillSignal"] == "SIGTERM"
    assert service["Restart"] == "always"
    assert "time-sync.target" in unit()["Unit"]["After"]  # certificates need a correct clock


def test_install_script_uses_the_os_sense_hat_and_the_tested_sdk_version() -> None:
    lines = dry_run()
    assert any("apt-get install" in line and "python3-sense-hat" in line for line in lines)
    sdk = importlib.metadata.version("awsiotsdk")
    assert f"+ {PREFIX}/venv/bin/pip install --no-cache-dir awsiotsdk=={sdk}" in lines
    assert f"+ python3 -m venv --system-site-packages {PREFIX}/venv" in lines
    assert any(line.startswith("+ useradd --system") and line.endswith("trash-sorter") for line in lines)
    assert f"+ systemctl enable {UNIT.stem}" in lines
    assert any(line.endswith(f"/etc/systemd/system/{UNIT.name}") for line in lines)


def test_the_files_the_script_copies_are_enough_to_run_the_subscriber(tmp_path: Path) -> None:
    # Replay only the script's copy steps into a scratch prefix, then start the copy from there.
    for line in dry_run():
        if line.startswith(("+ install -d -m 0755", "+ install -m 0644", "+ cp -r")) and f"{PREFIX}/app" in line:
            subprocess.run(shlex.split(line[2:].replace(PREFIX, str(tmp_path))), check=True)
    app = tmp_path / "app"
    help_run = subprocess.run(
        [sys.executable, "-m", "device.pi_subscriber", "--help"], cwd=app, capture_output=True, text=True
    )
    assert help_run.returncode == 0, help_run.stderr
    assert "--display {auto,sensehat,emu,terminal}" in help_run.stdout
    imported = subprocess.run(
        [sys.executable, "-c", "import device.pi_subscriber.app as a; print(a.__file__)"],
        cwd=app, capture_output=True, text=True, check=True,
    )
    assert imported.stdout.startswith(str(app))  # the copy, not this checkout
    # Test scaffolding (the local broker and PKI, the emulator screen reader) stays off the Pi.
    assert not (app / "testbed").exists()
    imports_testbed = re.compile(r"^\s*(from|import)\s+testbed\b", re.MULTILINE)
    assert not [path for path in app.rglob("*.py") if imports_testbed.search(path.read_text())]
