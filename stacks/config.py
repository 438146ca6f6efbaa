"""The project's configuration: every key, its default and its validation in one typed place.

`cdk.json` keeps flat camelCase keys; they are parsed into typed sections (data, training, IoT,
Greengrass, DeepLens) plus the few values several stacks share, so each stack takes only the
section it uses.

Values come from `cdk.json` (the `trashSorter` object under `context`) and can be overridden
with `cdk synth -c key=value`. Command-line values always arrive as strings, so every parser
accepts both the JSON type and its string form (lists as comma-separated strings).
A bad value raises ConfigError with one line: the key, the bad value and what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from sorter_common.bucket_layout import BUCKET_PREFIX, MODELS_PREFIX
from sorter_common.classes import DEFAULT_CLASSES, ClassListError, normalize_classes
from sorter_common.topics import DEFAULT_TOPIC_PREFIX
from sorter_common.training_pipeline import (
    ARCHITECTURES,
    DATASET_NAME_PATTERN,
    DEEPLENS_ARCHITECTURES,
    DEFAULT_ARCHITECTURE,
    DEFAULT_DATASET,
)
from stacks.schedule_expression import ScheduleError, check_schedule

CONTEXT_KEY = "trashSorter"
EDGE_TARGET_GREENGRASS_V2 = "greengrass-v2"
EDGE_TARGET_DEEPLENS = "deeplens"
EDGE_TARGETS = (EDGE_TARGET_GREENGRASS_V2, EDGE_TARGET_DEEPLENS)
# networkArchitecture's predecessor networkDepth took a ResNet depth; both still read as ResNet-<depth>.
NETWORK_DEPTHS = (18, 34, 50)
# Keys renamed since a release: the old name is still read (as the new key's value), never both at once.
RENAMED_KEYS = {"networkDepth": "networkArchitecture"}
APPROVAL_STATUSES = ("PendingManualApproval", "Approved")


class ConfigError(ValueError):
    """A configuration value that cannot be used; str() is the one-line message for the user."""


@dataclass(frozen=True)
class DataConfig:
    """The data bucket (TrashSorterData)."""

    bucket_name: str | None
    noncurrent_version_days: int
    incomplete_upload_days: int
    access_log_retention_days: int
    termination_protection: bool


@dataclass(frozen=True)
class TrainingConfig:
    """The SageMaker pipeline and what starts it (TrashSorterTraining)."""

    accuracy_gate: float
    epochs: int
    batch_size: int
    learning_rate: float
    architecture: str
    pretrained_weights_sha256: str | None
    instance_type: str
    use_spot: bool
    approval_status: str
    schedule: str | None


@dataclass(frozen=True)
class IotConfig:
    """The Pi's identity in AWS IoT (TrashSorterIot)."""

    pi_thing_name: str


@dataclass(frozen=True)
class GreengrassConfig:
    """The greengrass-v2 edge target: its cameras and what they run (TrashSorterEdgeV2)."""

    thing_group: str
    thing_name_prefix: str
    frame_source: str
    initial_model_key: str | None
    # "Wrong bin?" (README "Privacy"): what the cameras may upload; off by default.
    correction_capture: bool
    unsure_sample_per_hour: int
    correction_dataset: str
    # The local path (README "When the internet is down"): the client-device components on the cameras.
    local_path: bool
    # How long a camera keeps admitting the Pi on what it last verified while it cannot reach AWS.
    client_trust_minutes: int


@dataclass(frozen=True)
class DeepLensConfig:
    """The legacy deeplens edge target: the core a DeepLens registered and its model (TrashSorterDeepLens)."""

    core_thing_arn: str | None
    core_certificate_arn: str | None
    function_version_arn: str | None
    model_key: str | None


@dataclass(frozen=True)
class TrashSorterConfig:
    """Where and what to deploy, the contracts several stacks share, and one section per stack.

    app_builder hands each stack its section plus the shared values it uses, never this whole object.
    """

    region: str
    edge_targets: tuple[str, ...]
    # Shared: the class ids (the pipeline trains them, the IoT stack counts decisions per class)
    # and the MQTT topic prefix (the IoT stack and both edge targets).
    classes: tuple[str, ...]
    topic_prefix: str
    data: DataConfig
    training: TrainingConfig
    iot: IotConfig
    greengrass: GreengrassConfig
    deeplens: DeepLensConfig

    def has_edge_target(self, target: str) -> bool:
        return target in self.edge_targets


# --- parsers: each returns the typed value or raises ValueError saying what is allowed ---


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value.strip()


def _optional_text(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def parse_optional(value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return parse(value)

    return parse_optional


def _string_list(value: Any) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ValueError("expected a list of strings or a comma-separated string")
    return [item.strip() for item in items if item.strip()]


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def parse_integer(value: Any) -> int:
        try:
            number = int(str(value).strip()) if not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return number

    return parse_integer


def _number(low: float, high: float, *, low_inclusive: bool = True) -> Callable[[Any], float]:
    def parse_number(value: Any) -> float:
        try:
            number = float(str(value).strip()) if not isinstance(value, bool) else None
        except ValueError:
            number = None
        in_range = number is not None and (low <= number if low_inclusive else low < number) and number <= high
        if number is None or not in_range:
            opening = "[" if low_inclusive else "("
            raise ValueError(f"expected a number in {opening}{low}, {high}]")
        return number

    return parse_number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueError("expected true or false")


def _architecture(value: Any) -> str:
    """A network training can build (sorter_common.training_pipeline.ARCHITECTURES), or a ResNet depth."""
    text = str(value).strip()
    if text in ARCHITECTURES:
        return text
    if text in {str(depth) for depth in NETWORK_DEPTHS}:
        return f"resnet{text}"
    raise ValueError(
        "expected one of "
        + ", ".join(ARCHITECTURES)
        + " (or a ResNet depth: "
        + ", ".join(map(str, NETWORK_DEPTHS))
        + ")"
    )


def _one_of(*allowed: Any) -> Callable[[Any], Any]:
    def parse_choice(value: Any) -> Any:
        for choice in allowed:
            if str(value).strip() == str(choice):
                return choice
        raise ValueError("expected one of " + ", ".join(str(choice) for choice in allowed))

    return parse_choice


def _matching(pattern: re.Pattern[str], expected: str) -> Callable[[Any], str]:
    """A string setting that must match pattern whole; `expected` says what is allowed."""

    def parse_matching(value: Any) -> str:
        text = _text(value)
        if not pattern.fullmatch(text):
            raise ValueError(expected)
        return text

    return parse_matching


def _sha256(value: Any) -> str:
    text = _text(value).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise ValueError("expected a sha256: 64 hex digits, as `python -m training weights` prints it")
    return text


_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
_BUCKET_FORBIDDEN_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_FORBIDDEN_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _bucket_name(value: Any) -> str:
    name = _text(value)
    if not name.startswith(BUCKET_PREFIX):
        raise ValueError(
            f"must start with '{BUCKET_PREFIX}' (the DeepLens and SageMaker roles only reach deeplens-* buckets), "
            "for example deeplens-trash-sorter-data"
        )
    if not 3 <= len(name) <= 63 or not _BUCKET_CHARS.match(name):
        raise ValueError(
            "S3 bucket names are 3-63 characters of lower-case letters, digits, '.' and '-', "
            "starting and ending with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        raise ValueError("S3 bucket names may not have '..', '.-' or '-.'")
    if name.startswith(_BUCKET_FORBIDDEN_PREFIXES) or name.endswith(_BUCKET_FORBIDDEN_SUFFIXES):
        raise ValueError("S3 reserves that prefix or suffix for its own bucket types")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name
    raise ValueError("S3 bucket names may not look like an IP address")


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


_region = _matching(_REGION, "expected an AWS region code such as us-east-1 or eu-west-1")


def _edge_targets(value: Any) -> tuple[str, ...]:
    targets = _string_list(value)
    unknown = [target for target in targets if target not in EDGE_TARGETS]
    if unknown or not targets:
        raise ValueError("expected one or more of " + ", ".join(EDGE_TARGETS) + " (comma-separated)")
    return tuple(dict.fromkeys(targets))


def _classes(value: Any) -> tuple[str, ...]:
    try:
        return tuple(normalize_classes(_string_list(value)))
    except ClassListError as error:
        raise ValueError(str(error)) from None


_TOPIC_PREFIX = re.compile(r"^[a-zA-Z0-9_-]+(/[a-zA-Z0-9_-]+)*$")


def _topic_prefix(value: Any) -> str:
    prefix = _text(value)
    if not _TOPIC_PREFIX.match(prefix) or len(prefix) > 64:
        raise ValueError("expected MQTT topic levels of letters, digits, '_' or '-' separated by '/', no wildcards")
    return prefix


_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


_instance_type = _matching(_INSTANCE_TYPE, "expected a SageMaker instance type such as ml.g4dn.xlarge or ml.m5.xlarge")


def _schedule(value: Any) -> str:
    schedule = _text(value)
    try:
        check_schedule(schedule)
    except ScheduleError as error:
        raise ValueError(
            f"{error}; expected an EventBridge expression such as 'rate(7 days)' or 'cron(0 3 ? * SUN *)'"
        ) from None
    return schedule


# IoT thing names allow ':' too, but the name is also the Pi's MQTT client id and part of its
# Secrets Manager secret name, which does not allow ':'.
_THING_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")


_thing_name = _matching(
    _THING_NAME, "expected 1-128 letters, digits, '_' or '-' (an IoT thing name and MQTT client id)"
)


_PARTITION_REGION_ACCOUNT = r"arn:aws(-[a-z]+)*:{service}:[a-z]{{2}}(-[a-z]+)+-\d{{1,2}}:\d{{12}}:"
_THING_ARN = re.compile(_PARTITION_REGION_ACCOUNT.format(service="iot") + r"thing/[a-zA-Z0-9:_-]{1,128}$")
_CERTIFICATE_ARN = re.compile(_PARTITION_REGION_ACCOUNT.format(service="iot") + r"cert/[0-9a-f]{64}$")
# A published version (or an alias) of a function; never $LATEST, which Greengrass V1 refuses.
_FUNCTION_VERSION_ARN = re.compile(
    _PARTITION_REGION_ACCOUNT.format(service="lambda")
    + r"function:[a-zA-Z0-9_-]{1,64}:(\d+|[a-zA-Z][a-zA-Z0-9_-]{0,127})$"
)


_THING_GROUP = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")


_thing_group = _matching(_THING_GROUP, "expected 1-128 letters, digits, ':', '_' or '-' (an IoT thing group name)")


# The cameras' thing names start with this: their IoT policy names it, since thing policy
# variables do not work for Greengrass core devices. Each name is also an MQTT topic level.
_THING_NAME_PREFIX = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


_thing_name_prefix = _matching(
    _THING_NAME_PREFIX, "expected 1-64 letters, digits, '_' or '-' (the start of every camera's IoT thing name)"
)


# What the component's --source accepts; the device checks that the path or camera exists. The
# value reaches the device as a plain string (never through a shell), so quotes, spaces, '$' and
# backticks are just characters of a path or URL; control characters are refused.
_FRAME_SOURCE = re.compile(r"^(\d{1,2}|/dev/video\d{1,2}|(rtsps?|https?)://.+|/.+)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _frame_source(value: Any) -> str:
    source = _text(value)
    if _CONTROL.search(source):
        raise ValueError("control characters (newline, tab, NUL...) are not allowed in a frame source")
    if not _FRAME_SOURCE.match(source):
        raise ValueError(
            "expected a camera index (0), a /dev/videoN device, an rtsp:// or http(s):// URL, "
            "or an absolute path to a video file or a folder of images on the device"
        )
    return source


_MODEL_KEY = re.compile(r"^" + re.escape(MODELS_PREFIX) + r"[A-Za-z0-9!_.*'()/-]+/model\.tar\.gz$")


def _model_key(value: Any) -> str:
    key = _text(value)
    if not _MODEL_KEY.match(key) or ".." in key:
        raise ValueError(f"expected the S3 key of a model.tar.gz under {MODELS_PREFIX} in the data bucket")
    return key


def _arn(pattern: re.Pattern[str], example: str) -> Callable[[Any], str]:
    return _matching(pattern, f"expected an ARN like {example}")


def arn_region(arn: str) -> str:
    return arn.split(":")[3]


def thing_name_of(thing_arn: str) -> str:
    return thing_arn.split(":thing/", 1)[1]


# The sections of TrashSorterConfig; a setting's `section` names one (None: a top-level field).
SECTIONS: dict[str, type[Any]] = {
    "data": DataConfig,
    "training": TrainingConfig,
    "iot": IotConfig,
    "greengrass": GreengrassConfig,
    "deeplens": DeepLensConfig,
}


@dataclass(frozen=True)
class Setting:
    key: str
    section: str | None
    field: str
    default: Any
    parse: Callable[[Any], Any]


# Every key, its default and how it is validated. Defaults pass through the parser too.
SETTINGS: tuple[Setting, ...] = (
    Setting("bucketName", "data", "bucket_name", None, _optional_text(_bucket_name)),
    Setting("region", None, "region", "us-east-1", _region),
    Setting("edgeTargets", None, "edge_targets", EDGE_TARGET_GREENGRASS_V2, _edge_targets),
    Setting("classes", None, "classes", ",".join(DEFAULT_CLASSES), _classes),
    Setting("topicPrefix", None, "topic_prefix", DEFAULT_TOPIC_PREFIX, _topic_prefix),
    Setting("accuracyGate", "training", "accuracy_gate", 0.9, _number(0.0, 1.0)),
    Setting("epochs", "training", "epochs", 15, _integer(1, 500)),
    Setting("batchSize", "training", "batch_size", 32, _integer(1, 1024)),
    Setting("learningRate", "training", "learning_rate", 0.001, _number(0.0, 1.0, low_inclusive=False)),
    Setting("networkArchitecture", "training", "architecture", DEFAULT_ARCHITECTURE, _architecture),
    # The checksum every Train step checks the pretrained/ weights against (None: not fetched yet,
    # and the Train step says to run `python -m training weights` and pin what it prints).
    Setting("pretrainedWeightsSha256", "training", "pretrained_weights_sha256", None, _optional_text(_sha256)),
    Setting("trainingInstanceType", "training", "instance_type", "ml.g4dn.xlarge", _instance_type),
    Setting("useSpotTraining", "training", "use_spot", False, _boolean),
    Setting("modelApprovalStatus", "training", "approval_status", "PendingManualApproval", _one_of(*APPROVAL_STATUSES)),
    Setting("trainingSchedule", "training", "schedule", None, _optional_text(_schedule)),
    Setting("noncurrentVersionDays", "data", "noncurrent_version_days", 90, _integer(1, 3650)),
    Setting("incompleteUploadDays", "data", "incomplete_upload_days", 7, _integer(1, 365)),
    Setting("accessLogRetentionDays", "data", "access_log_retention_days", 365, _integer(1, 3650)),
    Setting("terminationProtection", "data", "termination_protection", True, _boolean),
    Setting("piThingName", "iot", "pi_thing_name", "trash-sorter-pi", _thing_name),
    Setting(
        "deeplensCoreThingArn",
        "deeplens",
        "core_thing_arn",
        None,
        _optional_text(_arn(_THING_ARN, "arn:aws:iot:us-east-1:123456789012:thing/deeplens_abc123")),
    ),
    Setting(
        "deeplensCoreCertificateArn",
        "deeplens",
        "core_certificate_arn",
        None,
        _optional_text(_arn(_CERTIFICATE_ARN, "arn:aws:iot:us-east-1:123456789012:cert/<64 hex digits>")),
    ),
    Setting(
        "deeplensFunctionVersionArn",
        "deeplens",
        "function_version_arn",
        None,
        _optional_text(
            _arn(_FUNCTION_VERSION_ARN, "arn:aws:lambda:us-east-1:123456789012:function:deeplens-trash-sorter:1")
        ),
    ),
    # The model.tar.gz the DeepLens group delivers (a Greengrass V1 machine-learning resource).
    Setting("deeplensModelKey", "deeplens", "model_key", None, _optional_text(_model_key)),
    Setting("greengrassThingGroup", "greengrass", "thing_group", "trash-sorter-cameras", _thing_group),
    Setting("greengrassThingNamePrefix", "greengrass", "thing_name_prefix", "trash-sorter-cam-", _thing_name_prefix),
    Setting("greengrassFrameSource", "greengrass", "frame_source", "0", _frame_source),
    # None: the devices get a model with the first approval (see stacks/edge_v2_stack.py).
    Setting("greengrassInitialModelKey", "greengrass", "initial_model_key", None, _optional_text(_model_key)),
    # "Wrong bin?": off by default, no frame leaves a camera (README "Privacy").
    Setting("greengrassCorrectionCapture", "greengrass", "correction_capture", False, _boolean),
    Setting("greengrassUnsureSamplePerHour", "greengrass", "unsure_sample_per_hour", 0, _integer(0, 60)),
    # On by default: the bin display keeps working when the internet is down (stacks/constructs/client_devices.py).
    Setting("greengrassLocalPath", "greengrass", "local_path", True, _boolean),
    # Client device auth's security.clientDeviceTrustDurationMinutes (offline authentication): the docs'
    # bounds, 1 to 2,147,483,647 minutes; their default, 1, effectively turns offline authentication off,
    # so the Pi could not reconnect to a camera a minute into an outage. One week by default: an outage
    # of a weekend and more is covered, and a revoked Pi certificate stays trusted offline that long.
    Setting(
        "greengrassClientTrustMinutes", "greengrass", "client_trust_minutes", 7 * 24 * 60, _integer(1, 2_147_483_647)
    ),
    Setting(
        "correctionDataset",
        "greengrass",
        "correction_dataset",
        DEFAULT_DATASET,
        _matching(re.compile(DATASET_NAME_PATTERN), "a dataset name: letters, digits and inner hyphens"),
    ),
)
SETTINGS_BY_KEY = {setting.key: setting for setting in SETTINGS}
# Each field of the config and of every section is exactly one setting.
assert {(s.section, s.field) for s in SETTINGS} == {
    (None, f.name) for f in fields(TrashSorterConfig) if f.name not in SECTIONS
} | {(name, f.name) for name, section in SECTIONS.items() for f in fields(section)}
assert {f.name for f in fields(TrashSorterConfig)} >= SECTIONS.keys()

# Top-level context keys that look like ours (camelCase words) but are not: typos of config keys.
_CONFIG_LIKE_KEY = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _spelling(key: str) -> str:
    """A key with case, '_' and '-' ignored: BucketName, bucket_name and bucket-name all read bucketname."""
    return re.sub(r"[-_]", "", key).lower()


_KEYS_BY_SPELLING = {_spelling(key): key for key in SETTINGS_BY_KEY}


def _unknown_key_error(key: str, where: str) -> ConfigError:
    same = _KEYS_BY_SPELLING.get(_spelling(key))
    close = [same] if same else difflib.get_close_matches(key, list(SETTINGS_BY_KEY), n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ConfigError(f"unknown config key '{key}' in {where}; {hint}known keys: {', '.join(SETTINGS_BY_KEY)}")


def load_config(context: Mapping[str, Any]) -> TrashSorterConfig:
    """Build the config from the whole CDK context (cdk.json plus -c overrides)."""
    file_values = context.get(CONTEXT_KEY) or {}
    if not isinstance(file_values, Mapping):
        raise ConfigError(f"context key '{CONTEXT_KEY}' must be a JSON object of config keys in cdk.json")
    for key in file_values:
        if key not in SETTINGS_BY_KEY and key not in RENAMED_KEYS:
            raise _unknown_key_error(key, f"cdk.json context '{CONTEXT_KEY}'")
    for key in context:
        looks_like_ours = _CONFIG_LIKE_KEY.match(key) or _spelling(key) in _KEYS_BY_SPELLING
        if key != CONTEXT_KEY and key not in SETTINGS_BY_KEY and key not in RENAMED_KEYS and looks_like_ours:
            raise _unknown_key_error(key, "the context (-c)")

    spelled: dict[str, str] = {}  # a renamed key's new name -> the old name it was given as, for messages
    context = _renamed(context, "the context (-c)", spelled)
    file_values = _renamed(file_values, f"cdk.json context '{CONTEXT_KEY}'", spelled)
    values: dict[str | None, dict[str, Any]] = {None: {}, **{name: {} for name in SECTIONS}}
    for setting in SETTINGS:
        # A -c override beats cdk.json, which beats the default.
        raw = context.get(setting.key, file_values.get(setting.key, setting.default))
        try:
            values[setting.section][setting.field] = setting.parse(raw)
        except ValueError as error:
            raise ConfigError(f"{spelled.get(setting.key, setting.key)}={raw!r} is not valid: {error}") from None
    sections = {name: section(**values[name]) for name, section in SECTIONS.items()}
    config = TrashSorterConfig(**values[None], **sections)
    _check_deeplens(config)
    return config


def _renamed(values: Mapping[str, Any], where: str, spelled: dict[str, str]) -> Mapping[str, Any]:
    """values with each renamed key's value under its new name; both names at once is an error."""
    renamed = dict(values)
    for old, new in RENAMED_KEYS.items():
        if old in renamed:
            if new in renamed:
                raise ConfigError(
                    f"{old} and {new} are both set in {where}: {old} is {new}'s old name, keep only {new}"
                )
            renamed[new] = renamed.pop(old)
            spelled[new] = old
    return renamed


def _check_deeplens(config: TrashSorterConfig) -> None:
    """The deeplens target needs the core a DeepLens registered for itself, in the stack's region,
    and a network the DeepLens model optimizer can convert."""
    if not config.has_edge_target(EDGE_TARGET_DEEPLENS):
        return
    if config.training.architecture not in DEEPLENS_ARCHITECTURES:
        raise ConfigError(
            f"networkArchitecture={config.training.architecture!r} cannot go to the '{EDGE_TARGET_DEEPLENS}' target: "
            "the DeepLens model optimizer does not support its layers (ReLU6 exports as clip); "
            f"use one of {', '.join(DEEPLENS_ARCHITECTURES)} or drop '{EDGE_TARGET_DEEPLENS}' from edgeTargets"
        )
    deeplens = config.deeplens
    required = {
        "deeplensCoreThingArn": deeplens.core_thing_arn,
        "deeplensCoreCertificateArn": deeplens.core_certificate_arn,
    }
    missing = [key for key, value in required.items() if value is None]
    if missing:
        raise ConfigError(
            f"edgeTargets includes '{EDGE_TARGET_DEEPLENS}' but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set: give the ARNs of the core thing and certificate "
            "the DeepLens registered (AWS IoT console, or `aws iot list-things`)"
        )
    arns = {key: value for key, value in required.items() if value is not None}
    if deeplens.function_version_arn is not None:
        arns["deeplensFunctionVersionArn"] = deeplens.function_version_arn
    for key, arn in arns.items():
        if arn_region(arn) != config.region:
            raise ConfigError(f"{key}={arn!r} is not valid: it is in {arn_region(arn)}, the stacks in {config.region}")
    if deeplens.model_key is None:
        raise ConfigError(
            f"edgeTargets includes '{EDGE_TARGET_DEEPLENS}' but deeplensModelKey is not set: give the S3 key of the "
            f"approved model.tar.gz under {MODELS_PREFIX} in the data bucket (the model package's ModelDataUrl), "
            "for example models/pipelines-abc123-Train-XYZ/output/model.tar.gz"
        )
