"""Each edge setting is declared once (edge_core.settings); what the stacks ship must arrive as declared.

The recipe is the one in the synthesized template, its variables substituted as the nucleus does
(rehearse.camera.nucleus), its Run script run by `sh -c` up to the component's flags, which the
component's own parser reads. The DeepLens function gets its environment from its synthesized group.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from device.greengrass_component.settings import ComponentSettings, parse_settings
from edge_core.settings import SETTINGS, EdgeSettings, Setting, configured
from lambda_src.deeplens_inference.settings import from_environment
from rehearse.camera.nucleus import Component, Device, merge, resolve_lifecycle, run_step
from rehearse.camera.recipes import application_component
from sorter_common.greengrass_components import APPLICATION_COMPONENT, MODEL_COMPONENT
from tests.lambda_src.fakes.greengrass_core import Group
from tests.stacks.synth import SynthesizedApp

PROJECT_ROOT = Path(__file__).resolve().parents[2]
THING = "trash-sorter-cam-1"
DEEPLENS_STACK = "TrashSorterDeepLens"
COMPONENT = "-m device.greengrass_component"
# In place of the component: print the arguments the shell handed it, one JSON list.
PRINT_ARGUMENTS = "-c 'import json, sys; print(json.dumps(sys.argv[1:]))'"


def _recipe_defaults(synthesized_app: SynthesizedApp) -> dict[str, Any]:
    defaults: dict[str, Any] = application_component(synthesized_app.outdir).recipe["ComponentConfiguration"][
        "DefaultConfiguration"
    ]
    return defaults


def _arguments(synthesized_app: SynthesizedApp, tmp_path: Path, update: dict[str, Any]) -> list[str]:
    shipped = application_component(synthesized_app.outdir)
    device = Device(tmp_path / "greengrass", THING)
    defaults = shipped.recipe["ComponentConfiguration"]["DefaultConfiguration"]
    app = Component(APPLICATION_COMPONENT, shipped.recipe["ComponentVersion"], merge(defaults, update))
    lifecycle = resolve_lifecycle(
        shipped.recipe, device, app, {MODEL_COMPONENT: Component(MODEL_COMPONENT, "1.0.1", {})}
    )
    (device.work(APPLICATION_COMPONENT) / "app").mkdir(parents=True)
    (device.work(APPLICATION_COMPONENT) / "venv").symlink_to(PROJECT_ROOT / ".venv")
    script = lifecycle.script("run")
    assert COMPONENT in script
    result = run_step(lifecycle, "run", device, app, script=script.replace(COMPONENT, PRINT_ARGUMENTS), timeout=60)
    assert result.returncode == 0, result.stderr
    arguments: list[str] = json.loads(result.stdout)
    return arguments


# The declared correction settings, as the component's CorrectionSettings holds them.
CORRECTION_VALUES = {
    "correction_capture": lambda c: c.capture,
    "unsure_sample_per_hour": lambda c: c.unsure_per_hour,
    "correction_dataset": lambda c: c.dataset,
    "bucket": lambda c: c.bucket,
    "correction_buffer_frames": lambda c: c.buffer_frames,
    "correction_buffer_mib": lambda c: c.buffer_bytes / (1024 * 1024),
    "correction_window_s": lambda c: c.window_s,
    "corrections_per_pi_per_minute": lambda c: c.per_pi_per_minute,
}


def _value(settings: ComponentSettings, field: str) -> Any:
    if field in CORRECTION_VALUES:
        return CORRECTION_VALUES[field](settings.corrections)
    return getattr(settings.edge if field in EdgeSettings._fields else settings, field)


def _type(setting: Setting) -> type:
    """What the flag's parser returns: its kind, or for a parsing function (a switch) its default's type."""
    return setting.kind if isinstance(setting.kind, type) else type(setting.default)


def _parsed(arguments: list[str], monkeypatch: pytest.MonkeyPatch) -> ComponentSettings:
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)  # the nucleus sets it for every component
    return parse_settings(arguments)


def test_the_shipped_recipe_gives_the_component_every_declared_default(
    synthesized_app: SynthesizedApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _parsed(_arguments(synthesized_app, tmp_path, {}), monkeypatch)
    # The values the stack config sets (greengrassFrameSource, topicPrefix, the data bucket); every other is declared.
    recipe = _recipe_defaults(synthesized_app)
    deployed = {"source": recipe["Source"], "topic_prefix": recipe["TopicPrefix"], "bucket": recipe["Bucket"]}
    assert settings.edge.thing_name == THING
    for setting in SETTINGS:
        if setting.flag:
            expected = deployed.get(setting.field, setting.default)
            assert _value(settings, setting.field) == expected, setting.flag
            assert type(_value(settings, setting.field)) is _type(setting), setting.flag


def test_a_changed_configuration_value_arrives_changed(
    synthesized_app: SynthesizedApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deployment's configuration update, as the console or `aws greengrassv2 create-deployment` sends it.
    changed = {
        "Source": "/dev/video2",
        "LocalPath": False,
        "ConfidenceThreshold": 0.75,
        "SmoothingWindow": 9,
        "HeartbeatSeconds": 12.5,
        "MinIntervalSeconds": 0,
        "QueueFrames": 4,
        "InferenceThreads": 3,
        "Precision": "fp32",
        "TopicPrefix": "bins/kitchen",
        "CorrectionCapture": True,
        "UnsureSamplePerHour": 2.5,
        "CorrectionDataset": "field",
        "Bucket": "deeplens-elsewhere",
    }
    assert set(changed) == {setting.key for setting in configured()}  # every configured setting is tried
    settings = _parsed(_arguments(synthesized_app, tmp_path, changed), monkeypatch)
    for setting in configured():
        assert _value(settings, setting.field) == changed[setting.key], setting.key


def test_a_value_out_of_bounds_is_refused_by_the_declared_bounds_in_one_line(
    synthesized_app: SynthesizedApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = _arguments(synthesized_app, tmp_path, {"SmoothingWindow": 0, "MinIntervalSeconds": 45})
    with pytest.raises(SystemExit) as exit_:
        parse_settings([*arguments, "--thing-name", THING])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 1
    assert "--window 0 must be at least 1" in error and "--min-interval 45.0 is above --heartbeat 30.0" in error


def test_the_deeplens_function_gets_the_same_tuning_from_its_synthesized_environment(
    synthesized_app: SynthesizedApp,
) -> None:
    group = Group(synthesized_app.templates[DEEPLENS_STACK], "arn:aws:lambda:us-east-1:123456789012:function:f:live")
    settings = from_environment(group.function.variables)
    recipe = _recipe_defaults(synthesized_app)
    # Every declared default, none lost on the way, and the same topic prefix as the cameras.
    assert settings.edge == EdgeSettings(settings.edge.thing_name, topic_prefix=recipe["TopicPrefix"])
    assert {s.environment for s in configured() if s.environment} <= set(group.function.variables)


def test_a_bad_deeplens_variable_is_one_error_naming_it() -> None:
    with pytest.raises(ValueError, match="SMOOTHING_WINDOW='five' is not an int"):
        from_environment({"SMOOTHING_WINDOW": "five"})
    with pytest.raises(ValueError, match=r"CONFIDENCE_THRESHOLD 1\.5 is not 0\.\.1"):
        from_environment({"CONFIDENCE_THRESHOLD": "1.5"})
