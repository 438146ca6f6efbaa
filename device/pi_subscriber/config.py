"""The subscriber's settings: defaults < config file (TOML) < environment < command-line flags.

The config folder (default /etc/trash-sorter, written by `python -m device.provision`) holds
subscriber.toml and the credentials under the file names below, so a provisioned Pi needs no
flags at all. Relative paths in subscriber.toml are relative to its folder.

The project's class ids and topic prefix come from the deployed stack (provision writes them
as `classes` and `topic_prefix`): the subscriber accepts exactly those labels, and draws each
with its [bins.<class>] style, the built-in style of a default class, or the next free entry of
a default palette.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import socket
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sorter_common.classes import DEFAULT_CLASSES, ClassListError, normalize_classes
from sorter_common.iot_identity import DISCOVERY_CACHE_FILE, PI_CONFIG_DIR, PI_STATE_DIR
from sorter_common.topics import DEFAULT_TOPIC_PREFIX, all_predictions_filter, all_status_filter

Colour = tuple[int, int, int]

DEFAULT_CONFIG_DIR = Path(PI_CONFIG_DIR)
CONFIG_FILE = "subscriber.toml"
# File names device.provision writes into the config folder.
CERT_FILE = "device.cert.pem"
KEY_FILE = "device.private.key"
CA_FILE = "AmazonRootCA1.pem"
ENV_PREFIX = "TRASH_SORTER_"
DEFAULT_PORT = 8883  # AWS IoT Core's MQTT-over-TLS port without ALPN
DEFAULT_DISCOVERY_CACHE = Path(PI_STATE_DIR) / DISCOVERY_CACHE_FILE
# An AWS IoT Core ATS data endpoint; its region names the Greengrass discovery endpoint
# (greengrass-ats.iot.<region>.amazonaws.com, Greengrass V2 developer guide, "Greengrass discovery RESTful API").
_IOT_ENDPOINT = re.compile(r"^[a-z0-9]+-ats\.iot\.([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com$")

DISPLAYS = ("auto", "sensehat", "emu", "terminal")
DIRECTIONS = ("up", "down", "left", "right", "up-left", "up-right", "down-left", "down-right")
ROTATIONS = (0, 90, 180, 270)
UNSURE_COLOUR: Colour = (255, 150, 0)  # amber
OFFLINE_COLOUR: Colour = (255, 0, 0)
# One corner pixel while only one path to the cameras is left: top-left local only, top-right cloud only.
PATH_MARK_COLOUR: Colour = (255, 0, 255)


class SubscriberConfigError(ValueError):
    """A bad setting; the message is one line naming the setting, the value and what is allowed."""


@dataclass(frozen=True)
class BinStyle:
    """How a bin is shown: its colour and the direction in which it physically stands."""

    colour: Colour
    direction: str


DEFAULT_BINS: dict[str, BinStyle] = {
    "recycling": BinStyle((0, 90, 255), "left"),
    "compost": BinStyle((0, 200, 40), "down"),
    "landfill": BinStyle((140, 140, 140), "right"),
}
# For classes with no style of their own: colours far from the default bins' and from the
# amber "unsure" and the red offline mark, and the directions the default bins leave free.
PALETTE_COLOURS: tuple[Colour, ...] = (
    (170, 0, 255), (0, 220, 220), (255, 60, 170), (255, 255, 255), (170, 255, 0), (120, 60, 0),
)
PALETTE_DIRECTIONS = ("up", "up-left", "up-right", "down-left", "down-right", "left", "down", "right")
# AWS IoT Core: a topic filter is at most 256 bytes of UTF-8 (MQTT itself allows 65535).
MAX_TOPIC_FILTER_BYTES = 256


@dataclass(frozen=True)
class DimSchedule:
    """Low-light mode: always, never, or between two local times (a window may cross midnight)."""

    always: bool = False
    start: datetime.time | None = None
    end: datetime.time | None = None

    def active(self, now: datetime.time) -> bool:
        if self.always:
            return True
        if self.start is None or self.end is None:
            return False
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


@dataclass(frozen=True)
class SubscriberConfig:
    endpoint: str
    client_id: str
    cert: Path
    key: Path
    ca: Path
    port: int = DEFAULT_PORT
    topics: tuple[str, ...] = (all_predictions_filter(), all_status_filter())
    topic_prefix: str = DEFAULT_TOPIC_PREFIX
    display: str = "auto"
    rotation: int = 0
    bins: Mapping[str, BinStyle] = field(default_factory=lambda: dict(DEFAULT_BINS))
    idle_after_s: float = 30.0
    offline_after_s: float = 90.0
    stale_after_s: float = 10.0
    dim: DimSchedule = DimSchedule()
    events_path: Path | None = None
    log_level: str = "INFO"
    joystick: bool = True
    # The local path (README "When the internet is down"): the camera's own broker, found by discovery.
    local_path: bool = True
    discovery_host: str | None = None  # None: no discovery endpoint known (not an AWS IoT endpoint, none given)
    discovery_port: int | None = None  # None: the SDK's choice (443 with ALPN, else 8443)
    discovery_cache: Path = DEFAULT_DISCOVERY_CACHE

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted(self.bins))


# Settings device.provision writes from the stack's outputs and rewrites on every run.
PROVISIONED = ("endpoint", "client_id", "classes", "topic_prefix")
# name: (flag, help); every one can also come from the file or from TRASH_SORTER_<NAME>.
SETTING_HELP: dict[str, str] = {
    "endpoint": "broker host: your AWS IoT data endpoint, or 127.0.0.1 for a local broker",
    "port": f"broker port, given explicitly (default {DEFAULT_PORT})",
    "cert": f"client certificate (PEM; default <config-dir>/{CERT_FILE})",
    "key": f"client private key (PEM; default <config-dir>/{KEY_FILE})",
    "ca": f"CA that signed the broker's certificate (default <config-dir>/{CA_FILE})",
    "client_id": "MQTT client id; AWS IoT allows only the thing's own name (default trash-sorter-pi-<host>)",
    "topic": "topic filter to subscribe to, repeatable (default: every sorter camera's predictions and status)",
    "classes": "the project's class ids, comma-separated (written by device.provision from the stack)",
    "topic_prefix": f"the project's topic prefix (written by device.provision; default {DEFAULT_TOPIC_PREFIX})",
    "display": "where to draw: auto (Sense HAT if present, else the emulator), sensehat, emu, terminal",
    "rotation": "rotate the LED matrix to match how the Pi is mounted: 0, 90, 180, 270",
    "idle_after": "seconds after a decision before the idle screen (default 30)",
    "offline_after": "seconds without a heartbeat from the camera before the offline mark (default 90)",
    "stale_after": "messages older than this many seconds are not shown (default 10)",
    "dim": "low-light mode: off, on, or a local time window such as 21:30-07:00",
    "events": "append one JSON line per event (shown, ignored, connected...) to this file",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "joystick": "on (default) or off: the Sense HAT joystick corrects the decision on the screen and the "
    "correction goes to the camera on <prefix>/<camera>/corrections",
    "local_path": "on (default) or off: also listen to the camera's own MQTT broker on the LAN (Greengrass client "
    "devices), found by Greengrass discovery, so the display keeps working when the internet is down",
    "discovery_endpoint": "Greengrass discovery host[:port] (default: greengrass-ats.iot.<region>.amazonaws.com, "
    "the region read from the endpoint)",
    "discovery_cache": f"where the last discovery answer is kept, for a restart without internet "
    f"(default {DEFAULT_DISCOVERY_CACHE})",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m device.pi_subscriber",
        description="Show on the Sense HAT which bin the trash sorter camera chose.",
    )
    parser.add_argument(
        "--config-dir", help=f"folder with {CONFIG_FILE} and credentials (default {DEFAULT_CONFIG_DIR})"
    )
    for name, text in SETTING_HELP.items():
        flag = "--" + name.replace("_", "-")
        if name == "topic":
            parser.add_argument(flag, action="append", help=text)
        elif name == "display":
            parser.add_argument(flag, choices=DISPLAYS, help=text)
        else:
            parser.add_argument(flag, help=text)
    return parser


def _bad(name: str, value: object, allowed: str) -> SubscriberConfigError:
    return SubscriberConfigError(f"setting {name!r} = {value!r} is not allowed; {allowed}")


def _string(name: str, value: object) -> str:
    """A setting that must be text: a TOML list or number where text belongs is refused, not str()-ed."""
    if not isinstance(value, str):
        raise _bad(name, value, "expected a string")
    return value


def _number(name: str, value: object, *, minimum: float, maximum: float | None = None, integer: bool = False) -> Any:
    try:
        if isinstance(value, bool):
            raise ValueError
        number: float = int(str(value)) if integer else float(str(value))
    except ValueError:
        raise _bad(name, value, "expected a number") from None
    if number < minimum or (maximum is not None and number > maximum) or number != number:
        limit = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise _bad(name, value, f"expected a number in {limit}")
    return number


def _colour(name: str, value: object) -> Colour:
    if isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))
    if (isinstance(value, (list, tuple)) and len(value) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)):
        return (value[0], value[1], value[2])
    raise _bad(name, value, "expected '#rrggbb' or [r, g, b] with 0..255")


def _switch(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("on", "true", "yes", "1"):
        return True
    if text in ("off", "false", "no", "0"):
        return False
    raise _bad(name, value, "expected on or off")


def parse_dim(value: object) -> DimSchedule:
    text = str(value).strip().lower()
    if text in ("off", "false", "no", ""):
        return DimSchedule()
    if text in ("on", "true", "yes"):
        return DimSchedule(always=True)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", text)
    try:
        if match is None:
            raise ValueError
        hours_a, minutes_a, hours_b, minutes_b = (int(part) for part in match.groups())
        return DimSchedule(start=datetime.time(hours_a, minutes_a), end=datetime.time(hours_b, minutes_b))
    except ValueError:
        raise _bad("dim", value, "expected off, on, or a window HH:MM-HH:MM") from None


def _bins(value: object, classes: Sequence[str]) -> dict[str, BinStyle]:
    """A style for every class: from [bins.<class>], else the default bins', else the palette's."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _bad("bins", value, "expected a table of bins, e.g. [bins.recycling] colour = '#0050ff'")
    unknown = sorted(set(value) - set(classes))
    if unknown:
        raise _bad(
            f"bins.{unknown[0]}", value[unknown[0]],
            f"'{unknown[0]}' is not one of the project's classes ({', '.join(classes)}); fix the name or remove it",
        )
    chosen: dict[str, tuple[Colour | None, str | None]] = {}
    for bin_id in classes:
        style = value.get(bin_id, {})
        if not isinstance(style, dict):
            raise _bad(f"bins.{bin_id}", style, "expected a table with colour and direction")
        default = DEFAULT_BINS.get(bin_id)
        colour = style.get("colour", style.get("color", default.colour if default else None))
        direction = style.get("direction", default.direction if default else None)
        if direction is not None and direction not in DIRECTIONS:
            raise _bad(f"bins.{bin_id}.direction", direction, f"expected one of {', '.join(DIRECTIONS)}")
        chosen[bin_id] = (_colour(f"bins.{bin_id}.colour", colour) if colour is not None else None, direction)
    return _fill_from_palette(chosen)


def _fill_from_palette(chosen: Mapping[str, tuple[Colour | None, str | None]]) -> dict[str, BinStyle]:
    """Each missing colour or direction: the palette's next one that no other bin uses (cycling if all are)."""
    used_colours = {colour for colour, _ in chosen.values() if colour is not None}
    used_directions = {direction for _, direction in chosen.values() if direction is not None}
    free_colours = [c for c in PALETTE_COLOURS if c not in used_colours] or list(PALETTE_COLOURS)
    free_directions = [d for d in PALETTE_DIRECTIONS if d not in used_directions] or list(PALETTE_DIRECTIONS)
    bins: dict[str, BinStyle] = {}
    colour_index = direction_index = 0
    for bin_id, (colour, direction) in chosen.items():
        if colour is None:
            colour = free_colours[colour_index % len(free_colours)]
            colour_index += 1
        if direction is None:
            direction = free_directions[direction_index % len(free_directions)]
            direction_index += 1
        bins[bin_id] = BinStyle(colour, direction)
    return bins


def _classes(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise _bad("classes", value, "expected a list of class ids, e.g. [\"compost\", \"landfill\", \"recycling\"]")
    try:
        return tuple(normalize_classes(items))
    except ClassListError as error:
        raise _bad("classes", value, str(error)) from None


def check_topic_filter(topic_filter: str) -> str | None:
    """Why topic_filter is not a valid MQTT topic filter for AWS IoT, or None."""
    if not topic_filter:
        return "a topic filter cannot be empty"
    if len(topic_filter.encode("utf-8")) > MAX_TOPIC_FILTER_BYTES:
        return f"longer than {MAX_TOPIC_FILTER_BYTES} bytes"
    if "\0" in topic_filter:
        return "contains a NUL character"
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


def _topics(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise _bad("topic", value, "expected a list of MQTT topic filters")
    topics: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _bad("topic", value, "expected a list of MQTT topic filters")
        reason = check_topic_filter(item.strip())
        if reason is not None:
            raise _bad("topic", item, f"not an MQTT topic filter: {reason}")
        topics.append(item.strip())
    return tuple(topics)


_TOPIC_PREFIX = re.compile(r"^[a-zA-Z0-9_-]+(/[a-zA-Z0-9_-]+)*$")


def _topic_prefix(value: object) -> str:
    prefix = _string("topic_prefix", value).strip()
    if not _TOPIC_PREFIX.match(prefix):
        raise _bad("topic_prefix", value, "expected topic levels of letters, digits, '_' or '-' separated by '/'")
    return prefix


def _events(value: object) -> Path | None:
    if value is None or value == "":
        return None
    path = Path(_string("events", value))
    if not path.parent.is_dir():
        raise _bad("events", value, f"the folder {path.parent} does not exist; create it or choose another file")
    if path.is_dir():
        raise _bad("events", value, "that is a folder; give a file name")
    return path


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as error:
        raise SubscriberConfigError(f"config file {path} is not valid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise SubscriberConfigError(
            f"config file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8"
        ) from None
    except OSError as error:
        raise SubscriberConfigError(f"config file {path} cannot be read: {error.strerror}") from None
    unknown = sorted(set(data) - set(SETTING_HELP) - {"topics", "bins"})
    if unknown:
        raise SubscriberConfigError(
            f"config file {path} has unknown setting {unknown[0]!r}; known: {', '.join(SETTING_HELP)}, bins"
        )
    # Paths in the file are relative to the file's folder, so the folder can move as a whole.
    for name in ("cert", "key", "ca", "events", "discovery_cache"):
        if name in data:
            data[name] = str(path.parent / _string(name, data[name]))
    if "topics" in data:
        data["topic"] = data.pop("topics")
    return data


def load_config(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> SubscriberConfig:
    """Merge every source into one validated config; raises SubscriberConfigError with a one-line reason."""
    environ = os.environ if environ is None else environ
    args = vars(build_parser().parse_args(argv))
    config_dir = Path(args.pop("config_dir") or environ.get(ENV_PREFIX + "CONFIG_DIR") or DEFAULT_CONFIG_DIR)
    merged: dict[str, Any] = _read_file(config_dir / CONFIG_FILE)
    for name in SETTING_HELP:
        from_env = environ.get(ENV_PREFIX + name.upper())
        if from_env:
            merged[name] = from_env.split(",") if name == "topic" else from_env
        if args.get(name) is not None:
            merged[name] = args[name]

    endpoint = _string("endpoint", merged.get("endpoint", "")).strip()
    if not endpoint:
        raise SubscriberConfigError(
            f"setting 'endpoint' is missing; give --endpoint, {ENV_PREFIX}ENDPOINT, "
            f"or endpoint = \"...\" in {config_dir / CONFIG_FILE}"
        )
    topic_prefix = _topic_prefix(merged.get("topic_prefix", DEFAULT_TOPIC_PREFIX))
    topics = _topics(merged.get("topic") or [all_predictions_filter(topic_prefix), all_status_filter(topic_prefix)])
    display = _string("display", merged.get("display", "auto"))
    if display not in DISPLAYS:
        raise _bad("display", display, f"expected one of {', '.join(DISPLAYS)}")
    rotation = _number("rotation", merged.get("rotation", 0), minimum=0, maximum=270, integer=True)
    if rotation not in ROTATIONS:
        raise _bad("rotation", rotation, "expected 0, 90, 180 or 270")
    log_level = _string("log_level", merged.get("log_level", "INFO")).upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise _bad("log_level", log_level, "expected DEBUG, INFO, WARNING or ERROR")
    client_id = _string("client_id", merged.get("client_id") or f"trash-sorter-pi-{socket.gethostname()}")
    paths = {name: _string(name, merged[name]) for name in ("cert", "key", "ca") if merged.get(name)}
    return SubscriberConfig(
        endpoint=endpoint,
        port=_number("port", merged.get("port", DEFAULT_PORT), minimum=1, maximum=65535, integer=True),
        cert=Path(paths.get("cert") or config_dir / CERT_FILE),
        key=Path(paths.get("key") or config_dir / KEY_FILE),
        ca=Path(paths.get("ca") or config_dir / CA_FILE),
        client_id=client_id,
        topics=topics,
        topic_prefix=topic_prefix,
        display=display,
        rotation=rotation,
        bins=_bins(merged.get("bins"), _classes(merged.get("classes", list(DEFAULT_CLASSES)))),
        idle_after_s=_number("idle_after", merged.get("idle_after", 30), minimum=0.1),
        offline_after_s=_number("offline_after", merged.get("offline_after", 90), minimum=0.1),
        stale_after_s=_number("stale_after", merged.get("stale_after", 10), minimum=0.1),
        dim=parse_dim(merged.get("dim", "off")),
        events_path=_events(merged.get("events")),
        log_level=log_level,
        joystick=_switch("joystick", merged.get("joystick", True)),
        local_path=_switch("local_path", merged.get("local_path", True)),
        **_discovery(endpoint, merged.get("discovery_endpoint")),
        discovery_cache=_discovery_cache(merged.get("discovery_cache")),
    )


def _discovery(endpoint: str, value: object) -> dict[str, Any]:
    """discovery_host and discovery_port: the setting's, else the region's endpoint read from `endpoint`."""
    if value is None or value == "":
        match = _IOT_ENDPOINT.match(endpoint)
        host = f"greengrass-ats.iot.{match.group(1)}.amazonaws.com" if match else None
        return {"discovery_host": host, "discovery_port": None}
    text = _string("discovery_endpoint", value).strip()
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host or not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        raise _bad("discovery_endpoint", value, "expected host or host:port, e.g. greengrass-ats.iot.eu-west-1."
                   "amazonaws.com")
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise _bad("discovery_endpoint", value, "the port must be a number in 1..65535")
    return {"discovery_host": host, "discovery_port": int(port) if port else None}


def _discovery_cache(value: object) -> Path:
    if value is None or value == "":
        return DEFAULT_DISCOVERY_CACHE
    path = Path(_string("discovery_cache", value))
    if path.is_dir():
        raise _bad("discovery_cache", value, "that is a folder; give a file name")
    return path
