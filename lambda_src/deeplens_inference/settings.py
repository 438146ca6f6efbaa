"""The function's settings, from the environment variables the Greengrass function definition sets.

The tuning (threshold, window, heartbeat, rate limit, retries, status interval) is declared once
in edge_core.settings, with the Greengrass V2 component's defaults and bounds.
"""

from __future__ import annotations

import os
from typing import Mapping, NamedTuple

from edge_core.settings import EdgeSettings
from edge_core.settings import from_environment as tuning_from_environment

# Where a DeepLens deployment extracts the project's model.tar.gz.
ARTIFACTS_DIR = "/opt/awscam/artifacts"
# The DeepLens "project stream": a FIFO the device's video server reads MJPEG from.
RESULTS_PATH = "/tmp/results.mjpeg"
_TUNING = tuple(field for field in EdgeSettings._fields if field != "thing_name")


class Settings(NamedTuple):
    edge: EdgeSettings  # the thing name and the shared runtime's tuning
    artifacts_dir: str
    results_path: str
    backend: str


def from_environment(environ: Mapping[str, str] = os.environ) -> Settings:
    """ValueError names a variable whose value cannot be used."""
    # Greengrass V1 sets AWS_IOT_THING_NAME to the core's thing name; THING_NAME overrides it.
    thing = environ.get("THING_NAME") or environ.get("AWS_IOT_THING_NAME") or "deeplens"
    return Settings(
        edge=EdgeSettings(thing, **tuning_from_environment(environ, _TUNING)),
        artifacts_dir=environ.get("ARTIFACTS_DIR", ARTIFACTS_DIR),
        results_path=environ.get("RESULTS_PATH", RESULTS_PATH),
        backend=environ.get("BACKEND", "awscam"),
    )
