"""Every setting of the edge targets, declared once: name, default, bounds, help.

From this one list come the Greengrass recipe's DefaultConfiguration and its Run script's
`{configuration:/Key}` placeholders (stacks/constructs/inference_component.py), the component's
command-line flags (device/greengrass_component/settings.py), the DeepLens function's environment
(stacks/deeplens_stack.py and lambda_src/deeplens_inference/settings.py) and the README's table
(tools/edge_settings_table.py). Each value is checked here, once, whichever way it arrived.

No heavy imports: the CDK stacks import this module at synth time, and it travels to the DeepLens
(Python 3.7 syntax) and to every camera.
"""

from __future__ import annotations

import argparse
import re
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from edge_core.model_files import PRECISION_AUTO, PRECISIONS
from sorter_common.topics import DEFAULT_TOPIC_PREFIX, topic_level_problem
from sorter_common.training_pipeline import DATASET_NAME_PATTERN, DEFAULT_DATASET

GREENGRASS_V2 = "greengrass-v2"
DEEPLENS = "deeplens"
BOTH = (GREENGRASS_V2, DEEPLENS)
# The Run script hands the configuration value `Key` of setting `--flag` to the component as this
# environment variable (see inference_component.lifecycle for why never inline).
RUN_VARIABLE_PREFIX = "TRASH_SORTER_"


def _topic_prefix_problem(value: Any) -> str:
    problems = [topic_level_problem(level) for level in str(value).split("/")]
    return next((problem for problem in problems if problem), "")


def parse_switch(text: str) -> bool:
    """A configuration switch as the recipe hands it over ("true"/"false"), or on/off, yes/no, 1/0."""
    value = text.strip().lower()
    if value in ("true", "on", "yes", "1"):
        return True
    if value in ("false", "off", "no", "0", ""):
        return False
    # argparse prints this message as it is (a flag's type error); no environment carries a switch.
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _precision_problem(value: Any) -> str:
    if value in PRECISIONS:
        return ""
    if str(value).strip().lower() == "int8":
        return (
            "cannot be forced: the camera runs model.int8.onnx only where the export preferred it; "
            "use auto (the export's choice) or fp32"
        )
    return "is not " + " or ".join(PRECISIONS)


def _dataset_problem(value: Any) -> str:
    if re.match(DATASET_NAME_PATTERN, str(value)):
        return ""
    return "is not a dataset name (letters, digits, inner hyphens)"


class Setting(NamedTuple):
    """One edge setting. `field` names it in EdgeSettings (or the component's own settings)."""

    field: str
    kind: Callable[[str], Any]  # int, float or str: parses the text of a flag or an environment variable
    default: Any  # None: no default here, the deployment supplies it (the stack config's value)
    help: str
    flag: str  # the component's command-line flag
    key: str = ""  # the component configuration key; "" when the recipe does not carry it (flag only)
    environment: str = ""  # the DeepLens function's environment variable; "" when DeepLens has no use for it
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    minimum_excluded: bool = False  # the value must be above minimum, not equal to it
    check: Optional[Callable[[Any], str]] = None  # any other rule: why a value cannot be used, or ""
    allowed: str = ""  # what is allowed, in words, where no bounds say it

    @property
    def targets(self) -> Tuple[str, ...]:
        return tuple(target for target, name in ((GREENGRASS_V2, self.flag), (DEEPLENS, self.environment)) if name)

    @property
    def run_variable(self) -> str:
        """The Run script's environment variable for this setting: --min-interval -> TRASH_SORTER_MIN_INTERVAL."""
        return RUN_VARIABLE_PREFIX + self.flag.lstrip("-").upper().replace("-", "_")

    def bounds_text(self) -> str:
        if self.allowed:
            return self.allowed
        if self.minimum is not None and self.maximum is not None:
            return f"{_number(self.minimum)}..{_number(self.maximum)}"
        if self.minimum is not None:
            return "{} {}".format("above" if self.minimum_excluded else "at least", _number(self.minimum))
        return ""

    def problem(self, value: Any) -> str:
        """Why `value` cannot be used for this setting, or ""."""
        if self.minimum is not None and (value <= self.minimum if self.minimum_excluded else value < self.minimum):
            return "is not " + self.bounds_text() if self.maximum is not None else "must be " + self.bounds_text()
        if self.maximum is not None and value > self.maximum:
            return "is not " + self.bounds_text()
        return self.check(value) if self.check is not None else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# In the order the recipe's configuration and the Run script list them.
SETTINGS = (
    Setting(
        "source", str, None, "where frames come from; the stack sets it from greengrassFrameSource",
        flag="--source", key="Source",
        allowed="a V4L2 camera index (0) or device (/dev/video0), an rtsp:// or http(s):// stream URL, "
        "a video file, or a folder of images",
    ),
    Setting(
        "topic_prefix", str, DEFAULT_TOPIC_PREFIX,
        "first levels of the predictions and status topics; the stack sets it from topicPrefix",
        flag="--topic-prefix", key="TopicPrefix", environment="TOPIC_PREFIX", check=_topic_prefix_problem,
        allowed="MQTT topic levels separated by /, none empty, no + # or NUL",
    ),
    # The local path (README "When the internet is down"): each message goes to local publish/subscribe,
    # and the MQTT bridge relays it to the camera's local broker (the Pi on the LAN) and to AWS IoT Core.
    Setting(
        "local_path", parse_switch, True,
        "publish to local publish/subscribe, which the MQTT bridge relays to the local broker and to AWS IoT "
        "Core (false: straight to AWS IoT Core); the stack sets it from greengrassLocalPath",
        flag="--local-path", key="LocalPath", allowed="true or false",
    ),
    Setting(
        "threshold", float, 0.6, "smoothed probability below which the label is 'unsure'",
        flag="--threshold", key="ConfidenceThreshold", environment="CONFIDENCE_THRESHOLD", minimum=0.0, maximum=1.0,
    ),
    Setting(
        "window", int, 5, "frames averaged by the smoothing",
        flag="--window", key="SmoothingWindow", environment="SMOOTHING_WINDOW", minimum=1,
    ),
    Setting(
        "heartbeat_s", float, 30.0, "seconds between repeats of an unchanged decision",
        flag="--heartbeat", key="HeartbeatSeconds", environment="HEARTBEAT_SECONDS", minimum=0, minimum_excluded=True,
    ),
    Setting(
        "min_interval_s", float, 1.0, "rate limit: seconds between two messages at least (at most the heartbeat)",
        flag="--min-interval", key="MinIntervalSeconds", environment="MIN_INTERVAL_SECONDS", minimum=0,
    ),
    Setting(
        "queue_frames", int, 2, "live frames kept waiting for the inference",
        flag="--queue-frames", key="QueueFrames", minimum=1,
    ),
    Setting(
        "retry_initial_s", float, 1.0,
        "first wait before retrying what failed (reopening the camera; loading the DeepLens model)",
        flag="--retry-initial", environment="RETRY_INITIAL_SECONDS", minimum=0, minimum_excluded=True,
    ),
    Setting(
        "retry_max_s", float, 60.0, "longest wait between retries (the wait doubles up to it)",
        flag="--retry-max", environment="RETRY_MAX_SECONDS", minimum=0, minimum_excluded=True,
    ),
    Setting(
        "status_interval_s", float, 60.0, "at most one error status (with the failure counts) per interval, seconds",
        flag="--status-interval", environment="STATUS_INTERVAL_SECONDS", minimum=0,
    ),
    Setting(
        "threads", int, 0,
        "ONNX Runtime intra-op threads for the inference (0: one per core the device gives the component); "
        "one inter-op thread, no busy-waiting",
        flag="--threads", key="InferenceThreads", minimum=0, maximum=64,
    ),
    # The export measures int8 on the training instance's CPU, not the camera's (a Pi 4's Cortex-A72
    # lacks the dot-product instructions int8 kernels use): the owner can switch a camera back to fp32.
    # DeepLens runs MXNet through awscam, no ONNX file: no environment variable.
    Setting(
        "precision", str, PRECISION_AUTO,
        "which ONNX file the camera runs: auto, model.int8.onnx where model.json's int8 decision (measured "
        "at export on the training CPU) prefers it, else model.onnx; fp32, always model.onnx",
        flag="--precision", key="Precision", check=_precision_problem,
        allowed="auto or fp32",
    ),
    # "Wrong bin?" (device/greengrass_component/corrections.py): both switches off by default, and
    # then nothing is kept, subscribed to or uploaded (README "Privacy").
    Setting(
        "correction_capture", parse_switch, False,
        "upload the frame behind a decision the person at the bin corrected or confirmed; "
        "the stack sets it from greengrassCorrectionCapture",
        flag="--correction-capture", key="CorrectionCapture", allowed="true or false",
    ),
    Setting(
        "unsure_sample_per_hour", float, 0.0,
        "upload at most this many frames per hour the camera was unsure about (0: never); "
        "the stack sets it from greengrassUnsureSamplePerHour",
        flag="--unsure-sample-per-hour", key="UnsureSamplePerHour", minimum=0,
    ),
    Setting(
        "correction_dataset", str, DEFAULT_DATASET,
        "the dataset under datasets/ corrections join; the stack sets it from correctionDataset",
        flag="--dataset", key="CorrectionDataset", check=_dataset_problem,
        allowed="a dataset name: letters, digits, inner hyphens",
    ),
    Setting(
        "bucket", str, "", "the deeplens- bucket the pipeline trains from; the stack sets it",
        flag="--bucket", key="Bucket",
    ),
    Setting(
        "correction_buffer_frames", int, 16, "recent decisions whose frame is kept (JPEG) for a correction",
        flag="--correction-buffer-frames", minimum=1,
    ),
    Setting(
        "correction_buffer_mib", float, 16.0, "most memory those frames may take, MiB",
        flag="--correction-buffer-mib", minimum=0.0625,
    ),
    Setting(
        "correction_window_s", float, 120.0, "seconds after a decision during which a correction is accepted",
        flag="--correction-window", minimum=0, minimum_excluded=True,
    ),
    Setting(
        "corrections_per_pi_per_minute", float, 6.0, "a Pi sending more is a flood: ignored and counted",
        flag="--corrections-per-pi-per-minute", minimum=0, minimum_excluded=True,
    ),
)
BY_FIELD: Dict[str, Setting] = {setting.field: setting for setting in SETTINGS}


def setting(field: str) -> Setting:
    return BY_FIELD[field]


def default(field: str) -> Any:
    return BY_FIELD[field].default


class EdgeSettings(NamedTuple):
    """What the shared runtime (edge_core.runtime) needs, on either target."""

    thing_name: str
    topic_prefix: str = default("topic_prefix")
    threshold: float = default("threshold")
    window: int = default("window")
    heartbeat_s: float = default("heartbeat_s")
    min_interval_s: float = default("min_interval_s")
    retry_initial_s: float = default("retry_initial_s")
    retry_max_s: float = default("retry_max_s")
    status_interval_s: float = default("status_interval_s")


def relation_problems(values: Mapping[str, Any], name: Callable[[Setting], str]) -> List[str]:
    """Rules between settings: the rate limit cannot exceed the heartbeat, the retries must grow."""
    problems = []
    if "min_interval_s" in values and "heartbeat_s" in values and values["min_interval_s"] > values["heartbeat_s"]:
        problems.append(
            "{} {} is above {} {}".format(
                name(setting("min_interval_s")), values["min_interval_s"],
                name(setting("heartbeat_s")), values["heartbeat_s"],
            )
        )
    if "retry_initial_s" in values and "retry_max_s" in values and values["retry_initial_s"] > values["retry_max_s"]:
        problems.append(
            "{} {} is above {} {}".format(
                name(setting("retry_initial_s")), values["retry_initial_s"],
                name(setting("retry_max_s")), values["retry_max_s"],
            )
        )
    uploads = values.get("correction_capture") or values.get("unsure_sample_per_hour", 0) > 0
    if uploads and "bucket" in values and not values["bucket"]:
        problems.append(
            "{} or {} needs {}".format(
                name(setting("correction_capture")), name(setting("unsure_sample_per_hour")), name(setting("bucket"))
            )
        )
    return problems


def problems_of(values: Mapping[str, Any], name: Callable[[Setting], str]) -> List[str]:
    """Every problem of these values (by field), each one line naming the setting as `name` spells it."""
    problems = []
    for field, value in values.items():
        problem = BY_FIELD[field].problem(value)
        if problem:
            problems.append(f"{name(BY_FIELD[field])} {value!r} {problem}")
    return problems + relation_problems(values, name)


def from_environment(environ: Mapping[str, str], fields: Iterable[str]) -> Dict[str, Any]:
    """The named settings from their environment variables (the default where unset); ValueError names the bad one."""
    values = {}
    for field in fields:
        declared = BY_FIELD[field]
        text = environ.get(declared.environment)
        if text is None:
            values[field] = declared.default
            continue
        try:
            values[field] = declared.kind(text)
        except ValueError:
            raise ValueError("{}={!r} is not {} {}".format(
                declared.environment, text, "an" if declared.kind is int else "a", declared.kind.__name__
            )) from None
    problems = problems_of(values, lambda s: s.environment)
    if problems:
        raise ValueError("; ".join(problems))
    return values


def _deployed(
    deployment: Mapping[str, Any], declared: Sequence[Setting], name: Callable[[Setting], str]
) -> Dict[str, Any]:
    """Each declared setting's value: the deployment's (by field) or the default; refused out of bounds."""
    unknown = sorted(set(deployment) - {s.field for s in declared})
    if unknown:
        raise ValueError("not settings this target deploys: " + ", ".join(unknown))
    values = {s.field: deployment.get(s.field, s.default) for s in declared}
    missing = [name(s) for s in declared if values[s.field] is None]
    if missing:
        raise ValueError("no default for " + ", ".join(missing) + ": the deployment must give a value")
    problems = problems_of(values, name)
    if problems:
        raise ValueError("; ".join(problems))
    return values


def configured() -> List[Setting]:
    """The settings the recipe's configuration carries, in its order."""
    return [declared for declared in SETTINGS if declared.key]


def component_configuration(deployment: Mapping[str, Any]) -> Dict[str, Any]:
    """The recipe's DefaultConfiguration: each configured setting's default or the deployment's value.

    `deployment` gives values by field: the frame source, which has no default here, and what
    the stack config sets (the topic prefix).
    """
    values = _deployed(deployment, configured(), lambda s: s.key)
    return {s.key: values[s.field] for s in configured()}


def deeplens_environment(deployment: Mapping[str, Any]) -> Dict[str, str]:
    """The DeepLens function's environment: the settings both targets deploy, as the recipe does."""
    declared = [s for s in configured() if s.environment]
    values = _deployed(deployment, declared, lambda s: s.environment)
    return {s.environment: str(values[s.field]) for s in declared}
