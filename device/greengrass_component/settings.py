"""The component's settings: command-line flags, which the recipe fills from the component configuration."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from edge_core.model_files import PRECISION_AUTO
from edge_core.settings import SETTINGS, EdgeSettings, Setting, problems_of
from sorter_common.topics import topic_level_problem

from .corrections import CorrectionSettings, settings_from

TRANSPORTS = ("ipc", "mqtt", "stdout")
DEFAULT_WORK_DIR = Path.home() / ".cache" / "trash-sorter-component"
# The declared settings the runtime takes (the rest are the component's own: source, queue, threads, precision).
_EDGE_FIELDS = frozenset(EdgeSettings._fields) - {"thing_name"}
COMPONENT_SETTINGS = tuple(setting for setting in SETTINGS if setting.flag)


@dataclass(frozen=True)
class MqttOptions:
    endpoint: str
    port: int
    cert: Path
    key: Path
    ca: Path
    client_id: str


@dataclass(frozen=True)
class ComponentSettings:
    edge: EdgeSettings  # the thing name and the shared runtime's tuning
    source: str
    model: Path
    work_dir: Path
    transport: str
    queue_frames: int
    loop_source: bool
    threads: int
    mqtt: MqttOptions | None
    corrections: CorrectionSettings = field(default_factory=CorrectionSettings)
    local_path: bool = True  # ipc: PublishToTopic (the MQTT bridge relays), else PublishToIoTCore
    precision: str = PRECISION_AUTO  # which ONNX file: the export's choice (auto) or model.onnx (fp32)


class _OneLineParser(argparse.ArgumentParser):
    """A bad setting is one line in the component's log (Greengrass keeps stderr), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (--help lists the settings)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="python -m device.greengrass_component",
        description=(
            "Classify camera frames with the trash-sorter model (ONNX Runtime) and publish a prediction "
            "message on <topic-prefix>/<thing-name>/predictions, status on .../status."
        ),
    )
    parser.add_argument("--model", required=True, type=Path, help="the model.tar.gz, or a folder it was extracted to")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="where model.tar.gz is extracted")
    parser.add_argument(
        "--thing-name",
        default=os.environ.get("AWS_IOT_THING_NAME"),
        help="the device name in topics and messages (default: $AWS_IOT_THING_NAME, which Greengrass sets)",
    )
    parser.add_argument("--transport", choices=TRANSPORTS, default="ipc", help="ipc under Greengrass (default)")
    parser.add_argument("--loop", action="store_true", help="restart a folder or video file at its end")
    declared = parser.add_argument_group("settings (edge_core.settings; the recipe sets those with a key)")
    for setting in COMPONENT_SETTINGS:
        declared.add_argument(setting.flag, **_flag_options(setting))
    mqtt = parser.add_argument_group("--transport mqtt (outside Greengrass: any broker with mutual TLS)")
    mqtt.add_argument("--endpoint")
    mqtt.add_argument("--port", type=int, default=8883)
    mqtt.add_argument("--cert", type=Path)
    mqtt.add_argument("--key", type=Path)
    mqtt.add_argument("--ca", type=Path)
    mqtt.add_argument("--client-id", help="default: the thing name")
    return parser


def _flag_options(setting: Setting) -> dict[str, Any]:
    text = setting.help
    options: dict[str, Any] = {"dest": setting.field, "type": setting.kind, "metavar": setting.flag[2:].upper()}
    if setting.key:
        text += f" (configuration {setting.key})"
    if setting.default is None:
        return {**options, "required": True, "help": text}
    return {**options, "default": setting.default, "help": text + " (default: %(default)s)"}


def parse_settings(argv: Sequence[str] | None = None) -> ComponentSettings:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.thing_name:
        parser.error("--thing-name is required outside Greengrass (AWS_IOT_THING_NAME is not set)")
    problem = topic_level_problem(args.thing_name)
    if problem:
        # It is a level of every topic the component publishes to: with '/', '+' or '#' each
        # publish would fail or land where nobody listens.
        parser.error(f"thing name {args.thing_name!r} cannot be used: {problem}; rename the thing")
    values = {setting.field: getattr(args, setting.field) for setting in COMPONENT_SETTINGS}
    problems = problems_of(values, _flag)
    if problems:
        parser.error("; ".join(problems))
    mqtt = None
    if args.transport == "mqtt":
        missing = [name for name in ("endpoint", "cert", "key", "ca") if getattr(args, name) is None]
        if missing:
            parser.error("--transport mqtt needs " + ", ".join(f"--{name}" for name in missing))
        mqtt = MqttOptions(args.endpoint, args.port, args.cert, args.key, args.ca, args.client_id or args.thing_name)
    return ComponentSettings(
        edge=EdgeSettings(args.thing_name, **{field: getattr(args, field) for field in _EDGE_FIELDS}),
        source=args.source,
        model=args.model,
        work_dir=args.work_dir,
        transport=args.transport,
        queue_frames=args.queue_frames,
        loop_source=args.loop,
        threads=args.threads,
        mqtt=mqtt,
        corrections=settings_from(values),
        local_path=args.local_path,
        precision=args.precision,
    )


def _flag(setting: Setting) -> str:
    return setting.flag
