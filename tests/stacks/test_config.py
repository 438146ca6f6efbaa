"""Each config rule: a good value parses, a bad one fails with one line naming key, value and rule."""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import CONTEXT_KEY, SETTINGS, ConfigError, TrashSorterConfig, load_config
from tools.cdk_context import DEEPLENS_CERTIFICATE_ARN, DEEPLENS_MODEL_KEY, DEEPLENS_THING_ARN, cdk_json_context


def config_with(**overrides: Any) -> TrashSorterConfig:
    return load_config({**cdk_json_context(), **overrides})


def error_for(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        config_with(**overrides)
    message = str(caught.value)
    assert "\n" not in message, "config errors are one line"
    return message


def test_defaults_give_the_documented_config() -> None:
    config = load_config({})
    assert config.data.bucket_name is None
    assert config.region == "us-east-1"
    assert config.edge_targets == ("greengrass-v2",)
    assert config.classes == ("compost", "landfill", "recycling")
    assert config.topic_prefix == "trash-sorter"
    assert 0 < config.training.accuracy_gate <= 1
    assert config.data.termination_protection is True
    assert config.iot.pi_thing_name == "trash-sorter-pi"


def test_cdk_json_values_are_read_and_command_line_strings_override_them() -> None:
    config = config_with(
        bucketName="deeplens-my-sorter",
        edgeTargets="greengrass-v2,deeplens",
        deeplensCoreThingArn=DEEPLENS_THING_ARN,
        deeplensCoreCertificateArn=DEEPLENS_CERTIFICATE_ARN,
        deeplensModelKey=DEEPLENS_MODEL_KEY,
        classes="recycling, compost ,landfill,glass",
        accuracyGate="0.75",
        epochs="3",
        useSpotTraining="true",
        trainingSchedule="rate(7 days)",
    )
    assert config.data.bucket_name == "deeplens-my-sorter"
    assert config.edge_targets == ("greengrass-v2", "deeplens")
    assert config.classes == ("compost", "glass", "landfill", "recycling")  # index = sorted position
    assert config.training.accuracy_gate == 0.75
    assert config.training.epochs == 3
    assert config.training.use_spot is True
    assert config.training.schedule == "rate(7 days)"


def test_json_types_from_cdk_json_are_accepted() -> None:
    config = load_config(
        {
            CONTEXT_KEY: {"edgeTargets": ["deeplens"], "accuracyGate": 1, "classes": ["b", "a"]},
            "deeplensCoreThingArn": DEEPLENS_THING_ARN,
            "deeplensCoreCertificateArn": DEEPLENS_CERTIFICATE_ARN,
            "deeplensModelKey": DEEPLENS_MODEL_KEY,
        }
    )
    assert config.edge_targets == ("deeplens",)
    assert config.training.accuracy_gate == 1.0
    assert config.classes == ("a", "b")


def test_every_default_is_valid_and_every_key_is_documented_once() -> None:
    keys = [setting.key for setting in SETTINGS]
    assert len(keys) == len(set(keys))
    assert isinstance(load_config({}), TrashSorterConfig)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("bucketName", "mybucket", "must start with 'deeplens-'"),
        ("bucketName", "deeplens-UPPER", "lower-case letters"),
        ("bucketName", "deeplens-" + "x" * 60, "3-63 characters"),
        ("bucketName", "deeplens-a..b", "'..'"),
        ("bucketName", "deeplens-trailing-", "starting and ending with a letter or digit"),
        ("bucketName", "deeplens-logs-s3alias", "reserves that prefix or suffix"),
        ("region", "moon-1", "AWS region code"),
        ("edgeTargets", "greengrass-v1", "greengrass-v2, deeplens"),
        ("edgeTargets", "", "greengrass-v2, deeplens"),
        ("classes", "", "class list is empty"),
        ("classes", "compost", "needs at least two"),
        ("classes", "compost,compost", "repeats an id"),
        ("classes", "Compost,landfill", "lower-case letters"),
        ("classes", "unsure,landfill", "reserved"),
        ("topicPrefix", "trash/#", "no wildcards"),
        ("accuracyGate", "1.5", "[0.0, 1.0]"),
        ("accuracyGate", "-0.1", "[0.0, 1.0]"),
        ("accuracyGate", "high", "[0.0, 1.0]"),
        ("epochs", "0", "from 1 to 500"),
        ("epochs", "2.5", "whole number"),
        ("batchSize", "0", "from 1 to 1024"),
        ("learningRate", "0", "(0.0, 1.0]"),
        ("networkDepth", "101", "resnet18, resnet34, resnet50, mobilenetv2_1.0 (or a ResNet depth: 18, 34, 50)"),
        ("networkArchitecture", "mobilenet", "resnet18, resnet34, resnet50, mobilenetv2_1.0"),
        ("trainingInstanceType", "p3.2xlarge", "ml.g4dn.xlarge"),
        ("useSpotTraining", "maybe", "true or false"),
        ("modelApprovalStatus", "Rejected", "PendingManualApproval, Approved"),
        ("trainingSchedule", "every sunday", "rate(7 days)"),
        # EventBridge's documented syntax (stacks/schedule_expression.py), checked at synth, not at deploy.
        ("trainingSchedule", "rate(0 days)", "rate value '0' is not a positive whole number"),
        ("trainingSchedule", "rate(1 days)", "must be written rate(1 day)"),
        ("trainingSchedule", "rate(2 day)", "must be written rate(2 days)"),
        ("trainingSchedule", "rate(5 weeks)", "minute(s), hour(s) or day(s)"),
        ("trainingSchedule", "cron(hello)", "cron needs six fields"),
        ("trainingSchedule", "cron(0 3 * * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("trainingSchedule", "cron(0 24 ? * SUN *)", "hours value '24' is not in 0-23"),
        ("trainingSchedule", "cron(0 3 ? * FUN *)", "day-of-week value 'FUN'"),
        ("trainingSchedule", "cron(0 3 ? * SUN 1969)", "year value '1969'"),
        ("trainingSchedule", "cron(? 3 1 * ? *)", "'?' is allowed only in day-of-month or day-of-week"),
        ("noncurrentVersionDays", "0", "from 1 to 3650"),
        ("incompleteUploadDays", "0", "from 1 to 365"),
        ("accessLogRetentionDays", "-1", "from 1 to 3650"),
        ("terminationProtection", "perhaps", "true or false"),
        ("piThingName", "pi:kitchen", "letters, digits, '_' or '-'"),
        ("piThingName", "", "letters, digits, '_' or '-'"),
        ("greengrassThingGroup", "cameras/kitchen", "IoT thing group name"),
        ("greengrassFrameSource", "webcam", "camera index"),
        ("greengrassFrameSource", "/videos/a\nb.mp4", "control characters"),
        ("greengrassThingNamePrefix", "cams/", "letters, digits, '_' or '-'"),
        ("greengrassThingNamePrefix", "cam+", "letters, digits, '_' or '-'"),
        ("greengrassInitialModelKey", "datasets/x/model.tar.gz", "model.tar.gz under models/"),
        ("deeplensModelKey", "models/../datasets/model.tar.gz", "model.tar.gz under models/"),
        ("deeplensCoreThingArn", "deeplens_abc", "arn:aws:iot:us-east-1:123456789012:thing/"),
        ("deeplensCoreThingArn", "arn:aws:iot:us-east-1:1234:thing/x", "an ARN like"),
        ("deeplensCoreCertificateArn", "arn:aws:iot:us-east-1:123456789012:cert/xyz", "cert/<64 hex digits>"),
        ("deeplensFunctionVersionArn", "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST", "an ARN like"),
        ("deeplensFunctionVersionArn", "arn:aws:lambda:us-east-1:123456789012:function:f", "an ARN like"),
    ],
)
def test_bad_value_names_key_value_and_rule(key: str, value: str, expected: str) -> None:
    message = error_for(**{key: value})
    assert f"{key}={value!r}" in message
    assert expected in message


def test_a_misspelt_command_line_key_fails_with_a_suggestion() -> None:
    message = error_for(bucketname="deeplens-x")
    assert "unknown config key 'bucketname'" in message
    assert "did you mean 'bucketName'?" in message


@pytest.mark.parametrize("key", ["BucketName", "bucket_name", "bucket-name", "BUCKETNAME"])
def test_a_config_key_in_another_case_or_separator_style_is_refused(key: str) -> None:
    message = error_for(**{key: "deeplens-x"})
    assert f"unknown config key '{key}'" in message
    assert "did you mean 'bucketName'?" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "schedule",
    ["rate(1 day)", "rate(1 minute)", "rate(12 hours)", "cron(0 3 ? * SUN *)", "cron(0/15 8-17 ? * MON-FRI *)",
     "cron(0 10 L * ? 2030)", "cron(0 10 ? * 6L *)", "cron(0 10 ? * 3#2 *)", "cron(15 12 3W JAN,JUL ? *)"],
)
def test_documented_schedule_expressions_are_accepted(schedule: str) -> None:
    assert load_config({"trainingSchedule": schedule}).training.schedule == schedule


def test_a_misspelt_cdk_json_key_fails() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key .acuracyGate. in cdk\.json"):
        load_config({CONTEXT_KEY: {"acuracyGate": 0.5}})


def test_cdk_feature_flags_and_lookups_are_not_taken_for_config_keys() -> None:
    config = load_config({"@aws-cdk/core:newStyleStackSynthesis": True, "availability-zones:account=1": ["a"]})
    assert config.region == "us-east-1"


def test_the_deeplens_target_without_its_core_fails_with_one_line() -> None:
    message = error_for(edgeTargets="deeplens", deeplensCoreCertificateArn=DEEPLENS_CERTIFICATE_ARN)
    assert message.startswith("edgeTargets includes 'deeplens' but deeplensCoreThingArn is not set")


def test_the_deeplens_target_without_a_model_key_fails_with_one_line() -> None:
    message = error_for(
        edgeTargets="deeplens",
        deeplensCoreThingArn=DEEPLENS_THING_ARN,
        deeplensCoreCertificateArn=DEEPLENS_CERTIFICATE_ARN,
    )
    assert message.startswith("edgeTargets includes 'deeplens' but deeplensModelKey is not set")
    assert "models/" in message


def test_deeplens_arns_must_be_in_the_stacks_region() -> None:
    message = error_for(
        edgeTargets="deeplens",
        region="eu-west-1",
        deeplensCoreThingArn=DEEPLENS_THING_ARN,
        deeplensCoreCertificateArn=DEEPLENS_CERTIFICATE_ARN,
    )
    assert "deeplensCoreThingArn=" in message and "it is in us-east-1, the stacks in eu-west-1" in message


def test_a_published_function_version_is_accepted() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:deeplens-trash-sorter:7"
    config = config_with(
        edgeTargets="deeplens",
        deeplensCoreThingArn=DEEPLENS_THING_ARN,
        deeplensCoreCertificateArn=DEEPLENS_CERTIFICATE_ARN,
        deeplensModelKey=DEEPLENS_MODEL_KEY,
        deeplensFunctionVersionArn=arn,
    )
    assert config.deeplens.function_version_arn == arn


@pytest.mark.parametrize(
    "source",
    [
        "rtsp://viewer:pa'ss\"word@cam.local/stream",
        "/home/pi/my videos/it's `here` $(today).mp4",
        "http://cam/feed?a=1&b=$HOME;reboot",
    ],
)
def test_a_frame_source_with_quotes_spaces_and_shell_syntax_is_taken_as_a_plain_string(source: str) -> None:
    # The recipe passes it through an environment variable, never through shell parsing
    # (tests/stacks/test_greengrass_recipe_shell.py runs the script with such values).
    assert load_config({"greengrassFrameSource": source}).greengrass.frame_source == source


@pytest.mark.parametrize(
    ("given", "architecture"),
    [
        ({}, "resnet18"),
        ({"networkArchitecture": "mobilenetv2_1.0"}, "mobilenetv2_1.0"),
        ({"networkArchitecture": "resnet34"}, "resnet34"),
        ({"networkArchitecture": "50"}, "resnet50"),  # a ResNet depth, as networkDepth took
        ({"networkDepth": "34"}, "resnet34"),  # the old key still reads
        ({CONTEXT_KEY: {"networkDepth": 50}}, "resnet50"),
    ],
)
def test_the_architecture_key_takes_a_name_or_the_old_network_depth(given: dict[str, Any], architecture: str) -> None:
    assert load_config(given).training.architecture == architecture


def test_the_old_and_new_architecture_keys_together_are_refused() -> None:
    message = error_for(networkDepth="18", networkArchitecture="resnet18")
    assert "networkDepth and networkArchitecture are both set" in message and "\n" not in message


def test_deeplens_with_mobilenet_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(
            {
                CONTEXT_KEY: {"edgeTargets": ["deeplens"], "networkArchitecture": "mobilenetv2_1.0"},
                "deeplensCoreThingArn": DEEPLENS_THING_ARN,
                "deeplensCoreCertificateArn": DEEPLENS_CERTIFICATE_ARN,
                "deeplensModelKey": DEEPLENS_MODEL_KEY,
            }
        )
    message = str(raised.value)
    assert "networkArchitecture='mobilenetv2_1.0' cannot go to the 'deeplens' target" in message
    assert "clip" in message and "\n" not in message
