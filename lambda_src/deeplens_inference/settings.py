"""The function's settings, from the environment variables the Greengrass function definition sets."""

from __future__ import annotations

import os
from typing import Mapping, NamedTuple

from edge_core.defaults import DEFAULT_HEARTBEAT_S, DEFAULT_MIN_INTERVAL_S, DEFAULT_THRESHOLD, DEFAULT_WINDOW
from sorter_common.topics import DEFAULT_TOPIC_PREFIX

# Where a DeepLens deployment extracts the project's model.tar.gz.
ARTIFACTS_DIR = "/opt/awscam/artifacts"
# The DeepLens "project stream": a FIFO the device's video server reads MJPEG from.
RESULTS_PATH = "/tmp/results.mjpeg"


class Settings(NamedTuple):
    thing_name: str
    topic_prefix: str
    artifacts_dir: str
    results_path: str
    backend: str
    threshold: float
    window: int
    heartbeat_s: float
    min_interval_s: float
    retry_initial_s: float
    retry_max_s: float
    status_interval_s: float


def from_environment(environ: Mapping[str, str] = os.environ) -> Settings:
    # Greengrass V1 sets AWS_IOT_THING_NAME to the core's thing name; THING_NAME overrides it.
    thing = environ.get("THING_NAME") or environ.get("AWS_IOT_THING_NAME") or "deeplens"
    return Settings(
        thing_name=thing,
        topic_prefix=environ.get("TOPIC_PREFIX", DEFAULT_TOPIC_PREFIX),
        artifacts_dir=environ.get("ARTIFACTS_DIR", ARTIFACTS_DIR),
        results_path=environ.get("RESULTS_PATH", RESULTS_PATH),
        backend=environ.get("BACKEND", "awscam"),
        threshold=float(environ.get("CONFIDENCE_THRESHOLD", DEFAULT_THRESHOLD)),
        window=int(environ.get("SMOOTHING_WINDOW", DEFAULT_WINDOW)),
        heartbeat_s=float(environ.get("HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_S)),
        min_interval_s=float(environ.get("MIN_INTERVAL_SECONDS", DEFAULT_MIN_INTERVAL_S)),
        retry_initial_s=float(environ.get("RETRY_INITIAL_SECONDS", 2.0)),
        retry_max_s=float(environ.get("RETRY_MAX_SECONDS", 120.0)),
        status_interval_s=float(environ.get("STATUS_INTERVAL_SECONDS", 60.0)),
    )
