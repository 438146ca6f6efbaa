"""Synthesis time of the whole app next to an empty CDK app (the jsii start-up floor), same run.

The whole app is what `make synth` builds: cdk.json's config (default edge target greengrass-v2);
the all-targets app (with the legacy DeepLens stack) is measured too.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from tools.cdk_context import ALL_TARGETS_CONTEXT, PROJECT_ROOT, cdk_json_context

EMPTY_APP = "import aws_cdk as cdk; cdk.App().synth()"
# One stack with one bucket: what the CDK itself costs as soon as there is any stack to synthesize.
ONE_BUCKET_APP = (
    "import aws_cdk as cdk; from aws_cdk import aws_s3 as s3; app = cdk.App(); "
    "s3.Bucket(cdk.Stack(app, 'S'), 'B'); app.synth()"
)
ROUNDS = 5


def _timed_synth(command: list[str], context: dict[str, Any]) -> float:
    with tempfile.TemporaryDirectory() as outdir:
        # The CDK CLI hands the app its context and output folder through these variables.
        env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": outdir}
        started = time.perf_counter()
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
        return time.perf_counter() - started


def run() -> dict[str, dict[str, Any]]:
    default_app = cdk_json_context()
    all_targets = {**default_app, **ALL_TARGETS_CONTEXT}
    empty, one_bucket, whole, everything = [], [], [], []
    for _ in range(ROUNDS):  # interleaved, so machine load hits all alike
        empty.append(_timed_synth([sys.executable, "-c", EMPTY_APP], default_app))
        one_bucket.append(_timed_synth([sys.executable, "-c", ONE_BUCKET_APP], default_app))
        whole.append(_timed_synth([sys.executable, "app.py"], default_app))
        everything.append(_timed_synth([sys.executable, "app.py"], all_targets))
    empty_s, one_bucket_s, whole_s, everything_s = (
        statistics.median(times) for times in (empty, one_bucket, whole, everything)
    )
    return {
        "synth_one_bucket_app_s": {"value": round(one_bucket_s, 2), "unit": "s", "goal": "reference: 1 stack"},
        "synth_ratio_one_bucket_to_empty": {
            "value": round(one_bucket_s / empty_s, 2),
            "unit": "x",
            "goal": "reference: the CDK's own cost of any stack",
        },
        "synth_whole_app_s": {"value": round(whole_s, 2), "unit": "s", "goal": "cdk.json as is (4 stacks)"},
        "synth_all_targets_app_s": {"value": round(everything_s, 2), "unit": "s", "goal": "with deeplens (5 stacks)"},
        "synth_empty_app_s": {"value": round(empty_s, 2), "unit": "s", "goal": "jsii start-up floor"},
        "synth_ratio_whole_to_empty": {"value": round(whole_s / empty_s, 2), "unit": "x", "goal": "< 2"},
        "synth_ratio_all_targets_to_empty": {"value": round(everything_s / empty_s, 2), "unit": "x", "goal": "report"},
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
