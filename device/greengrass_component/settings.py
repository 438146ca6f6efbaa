"""The component's settings: command-line flags, which the recipe fills from the component configuration."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from edge_core.defaults import DEFAULT_HEARTBEAT_S, DEFAULT_MIN_INTERVAL_S, DEFAULT_THRESHOLD, DEFAULT_WINDOW
from sorter_common.topics import DEFAULT_TOPIC_PREFIX, topic_level_problem

from .corrections import CorrectionSettings, add_arguments, settings_from

TRANSPORTS = ("ipc", "mqtt", "stdout")
DEFAULT_QUEUE_FRAMES = 2
DEFAULT_WORK_DIR = Path.home() / ".cache" / "trash-sorter-component"


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
    thing_name: str
    source: str
    model: Path
    work_dir: Path
    transport: str
    topic_prefix: str
    threshold: float
    window: int
    heartbeat_s: float
    min_interval_s: float
    queue_frames: int
    loop_source: bool
    retry_initial_s: float
    retry_max_s: float
    status_interval_s: float
    threads: int
    mqtt: MqttOptions | None
    corrections: CorrectionSettings = field(default_factory=CorrectionSettings)


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
    parser.add_argument(
        "--source",
        required=True,
        help="frame source: a V4L2 camera index (0) or device (/dev/video0), an rtsp:// or http(s):// stream URL, "
        "a video file, or a folder of images",
    )
    parser.add_argument("--model", required=True, type=Path, help="the model.tar.gz, or a folder it was extracted to")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="where model.tar.gz is extracted")
    parser.add_argument(
        "--thing-name",
        default=os.environ.get("AWS_IOT_THING_NAME"),
        help="the device name in topics and messages (default: $AWS_IOT_THING_NAME, which Greengrass sets)",
    )
    parser.add_argument("--transport", choices=TRANSPORTS, default="ipc", help="ipc under Greengrass (default)")
    parser.add_argument("--topic-prefix", default=DEFAULT_TOPIC_PREFIX)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="below it the label is 'unsure'")
    parser.add_argument("--window", type=int, default=DEFAULT_WINDOW, help="frames averaged by the smoothing")
    parser.add_argument("--heartbeat", type=float, default=DEFAULT_HEARTBEAT_S, help="seconds between repeats")
    parser.add_argument("--min-interval", type=float, default=DEFAULT_MIN_INTERVAL_S, help="rate limit, seconds")
    parser.add_argument("--queue-frames", type=int, default=DEFAULT_QUEUE_FRAMES, help="live frames kept waiting")
    parser.add_argument("--loop", action="store_true", help="restart a folder or video file at its end")
    parser.add_argument("--retry-initial", type=float, default=1.0, help="first wait before reopening a source")
    parser.add_argument("--retry-max", type=float, default=60.0, help="longest wait before reopening a source")
    parser.add_argument("--status-interval", type=float, default=60.0, help="at most one error status per interval")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: its default)")
    mqtt = parser.add_argument_group("--transport mqtt (outside Greengrass: any broker with mutual TLS)")
    mqtt.add_argument("--endpoint")
    mqtt.add_argument("--port", type=int, default=8883)
    mqtt.add_argument("--cert", type=Path)
    mqtt.add_argument("--key", type=Path)
    mqtt.add_argument("--ca", type=Path)
    mqtt.add_argument("--client-id", help="default: the thing name")
    add_arguments(parser)
    return parser


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
    prefix_problems = [topic_level_problem(level) for level in args.topic_prefix.split("/")]
    if any(prefix_problems):
        parser.error(f"--topic-prefix {args.topic_prefix!r} is not valid: {next(p for p in prefix_problems if p)}")
    if not 0.0 <= args.threshold <= 1.0:
        parser.error(f"--threshold {args.threshold} is not within 0..1")
    if args.window < 1 or args.queue_frames < 1:
        parser.error("--window and --queue-frames must be at least 1")
    if args.heartbeat <= 0 or args.min_interval < 0 or args.min_interval > args.heartbeat:
        parser.error("--heartbeat must be positive and --min-interval between 0 and the heartbeat")
    mqtt = None
    if args.transport == "mqtt":
        missing = [name for name in ("endpoint", "cert", "key", "ca") if getattr(args, name) is None]
        if missing:
            parser.error("--transport mqtt needs " + ", ".join(f"--{name}" for name in missing))
        mqtt = MqttOptions(args.endpoint, args.port, args.cert, args.key, args.ca, args.client_id or args.thing_name)
    return ComponentSettings(
        thing_name=args.thing_name,
        source=args.source,
        model=args.model,
        work_dir=args.work_dir,
        transport=args.transport,
        topic_prefix=args.topic_prefix,
        threshold=args.threshold,
        window=args.window,
        heartbeat_s=args.heartbeat,
        min_interval_s=args.min_interval,
        queue_frames=args.queue_frames,
        loop_source=args.loop,
        retry_initial_s=args.retry_initial,
        retry_max_s=args.retry_max,
        status_interval_s=args.status_interval,
        threads=args.threads,
        mqtt=mqtt,
        corrections=settings_from(args, parser),
    )
