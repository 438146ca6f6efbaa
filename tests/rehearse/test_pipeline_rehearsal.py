"""The rehearsal's own parts: the definition's expressions and gate, templates, events, jobs.

(`make rehearse` runs the whole pipeline; these pin down the pieces it is built from.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rehearse.pipeline import aws, jobs
from rehearse.pipeline.cloudformation import Template
from rehearse.pipeline.executor import Executor
from rehearse.pipeline.expressions import Context, ExpressionError, json_path, typed_parameters
from rehearse.pipeline.report import StepFailed, Timings, int8_problem, int8_report
from stacks.config import TrainingConfig
from stacks.training_pipeline.definition import SUB_VARIABLES, PipelineSettings, build_definition

GATE = 0.9


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    settings = PipelineSettings(
        pipeline_name="trash-sorter-training",
        model_package_group="trash-sorter-models",
        region="us-east-1",
        classes=("compost", "landfill", "recycling"),
        training=TrainingConfig(
            accuracy_gate=GATE,
            epochs=3,
            batch_size=8,
            learning_rate=0.01,
            architecture="resnet18",
            pretrained_weights_sha256="a" * 64,
            instance_type="ml.m5.xlarge",
            use_spot=False,
            approval_status="PendingManualApproval",
            schedule=None,
        ),
    )
    variables = {name: f"stand-in-{name}" for name in SUB_VARIABLES}
    variables["DataBucket"] = "deeplens-test"
    body = Template("t", {}).resolve({"Fn::Sub": [build_definition(settings), variables]})
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def _context(definition: dict[str, Any], accuracy: float) -> Context:
    context = Context(
        parameters=typed_parameters(definition["Parameters"], {"DatasetName": "mine"}),
        execution={"PipelineExecutionId": "exec1"},
    )
    document = {"multiclass_classification_metrics": {"accuracy": {"value": accuracy}}}
    context.property_files["Steps.Evaluate.PropertyFiles.EvaluationReport"] = document
    context.properties["Steps.Train.ModelArtifacts.S3ModelArtifacts"] = "s3://deeplens-test/models/j/output/model.tar.gz"
    return context


class RecordingSageMaker:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create_model_package(self, **arguments: Any) -> dict[str, str]:
        self.calls.append(arguments)
        return {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/trash-sorter-models/1"}


def _gate(definition: dict[str, Any], accuracy: float, tmp_path: Path) -> tuple[Executor, RecordingSageMaker]:
    sagemaker = RecordingSageMaker()
    image = jobs.Image(Path(sys.executable))
    context = _context(definition, accuracy)
    executor = Executor(definition, context, image, jobs.S3(None), sagemaker, tmp_path, Timings())
    gate = next(step for step in definition["Steps"] if step["Type"] == "Condition")
    executor._step(gate)
    return executor, sagemaker


def test_below_the_gate_the_fail_step_says_the_accuracy_and_the_gate(
    definition: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    executor, sagemaker = _gate(definition, 0.5, tmp_path)
    assert executor.outcome.status == "Failed" and not sagemaker.calls
    assert f"Model accuracy 0.5 is below the accuracy gate {GATE} - not registered." in executor.outcome.message
    assert "not registered" in capsys.readouterr().out


def test_at_the_gate_the_register_step_sends_create_model_package(definition: dict[str, Any], tmp_path: Path) -> None:
    import botocore.session
    from botocore.validate import validate_parameters

    executor, sagemaker = _gate(definition, GATE, tmp_path)
    assert executor.outcome.status == "Succeeded" and executor.outcome.model_package_arn
    (arguments,) = sagemaker.calls
    model = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(arguments, model.operation_model("CreateModelPackage").input_shape)  # raises when invalid
    container = arguments["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == "s3://deeplens-test/models/j/output/model.tar.gz"
    assert arguments["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == (
        "s3://deeplens-test/evaluation/exec1/evaluation.json"
    )


def test_the_gate_is_no_parameter_a_caller_can_set(definition: dict[str, Any]) -> None:
    with pytest.raises(ExpressionError, match="declares no parameter AccuracyGate"):
        typed_parameters(definition["Parameters"], {"AccuracyGate": "0"})
    parameters = typed_parameters(definition["Parameters"], {"Epochs": "2", "InputDownscale": "4"})
    assert parameters["Epochs"] == 2 and parameters["InputDownscale"] == 4


def test_expressions_resolve_steps_parameters_and_joins(definition: dict[str, Any]) -> None:
    context = _context(definition, 0.9)
    context.properties["Steps.Prepare.ProcessingOutputConfig.Outputs['prepared'].S3Output.S3Uri"] = "s3://b/p/"
    evaluate = next(step for step in definition["Steps"] if step["Name"] == "Evaluate")
    arguments = context.evaluate(evaluate["Arguments"])
    sources = [item["S3Input"]["S3Uri"] for item in arguments["ProcessingInputs"]]
    assert "s3://b/p/" in sources and "s3://deeplens-test/models/j/output/model.tar.gz" in sources
    assert arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == "s3://deeplens-test/evaluation/exec1/"
    with pytest.raises(ExpressionError, match=r"cannot resolve Steps\.Nope"):
        context.evaluate({"Get": "Steps.Nope.X"})
    assert json_path({"a": [{"b": 2}]}, "a[0].b") == 2


def test_fn_sub_escapes_and_references() -> None:
    template = Template("t", {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {}}}})
    text = template.resolve({"Fn::Sub": ["${!Literal} ${Role.Arn} ${AWS::Region} ${X}", {"X": {"Ref": "Role"}}]})
    assert text == "${Literal} arn:aws:rehearsal:us-east-1:123456789012:Role us-east-1 Role"
    with pytest.raises(NotImplementedError, match="Fn::Base64"):
        template.resolve({"Fn::Base64": "x"})


def test_the_ready_event_matches_the_wildcard_rule_and_nothing_else() -> None:
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["deeplens-x"]}, "object": {"key": [{"wildcard": "datasets/*/_READY"}]}},
    }
    assert aws.matches(pattern, aws.s3_object_created("deeplens-x", "datasets/mine/_READY", 0, '"e"'))
    assert not aws.matches(pattern, aws.s3_object_created("deeplens-x", "datasets/mine/a.jpg", 1, '"e"'))
    assert not aws.matches(pattern, aws.s3_object_created("deeplens-y", "datasets/mine/_READY", 0, '"e"'))


def test_channels_are_named_by_the_key_after_the_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="deeplens-x")
        for key in ("datasets/d/compost/a.jpg", "datasets/d/_READY", "pretrained/resnet18_v1.params"):
            client.put_object(Bucket="deeplens-x", Key=key, Body=b"1")
        s3 = jobs.S3(client)
        s3.download_prefix("s3://deeplens-x/datasets/d/", tmp_path / "images")
        s3.download_prefix("s3://deeplens-x/pretrained/resnet18_v1.params", tmp_path / "weights")
        with pytest.raises(FileNotFoundError):
            s3.download_prefix("s3://deeplens-x/nothing/", tmp_path / "none")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "images/_READY",
        "images/compost/a.jpg",
        "weights/resnet18_v1.params",
    ]


def test_a_job_reaches_no_package_index_and_a_failure_names_the_step_with_its_log(tmp_path: Path) -> None:
    arguments = {
        "AppSpecification": {
            "ContainerEntrypoint": ["python3", "-m", "pip", "download", "--no-deps", "-d", "/opt/ml/x", "six"],
        },
    }
    image = jobs.Image(Path(sys.executable))
    with pytest.raises(StepFailed) as failure:
        jobs.run_processing("Prepare", arguments, image, jobs.S3(None), tmp_path)
    assert failure.value.step == "Prepare" and "exited with status" in failure.value.reason
    tail = failure.value.tail()
    assert "127.0.0.1" in tail or "No matching distribution" in tail  # pip found no way out
    assert not list((tmp_path / "opt" / "ml").rglob("*.whl"))


def test_the_model_is_packed_with_its_files_at_the_top(tmp_path: Path) -> None:
    import tarfile

    (tmp_path / "model").mkdir()
    for name in ("model.json", "labels.txt"):
        (tmp_path / "model" / name).write_text("x")
    with tarfile.open(jobs.pack_model(tmp_path / "model", tmp_path / "model.tar.gz")) as archive:
        assert sorted(archive.getnames()) == ["labels.txt", "model.json"]


def test_the_int8_check_fails_when_the_train_step_had_no_onnxruntime_and_prints_a_measurement() -> None:
    missing = {"preferred": False, "reason": "onnxruntime's quantization is not installed in this Python (x)"}
    assert "no onnxruntime" in int8_problem(missing) and "not installed" in int8_problem(missing)
    failed = {"preferred": False, "reason": "int8 quantization failed (x)", "onnxruntime": "1.10.0"}
    assert "measured no int8 model" in int8_problem(failed)
    measured = {
        "preferred": True,
        "reason": "int8 is 2.00x faster and loses 0.0 points of test accuracy",
        "fp32_ms_per_frame": 12.0,
        "int8_ms_per_frame": 6.0,
        "speedup": 2.0,
        "fp32_test_accuracy": 0.9,
        "int8_test_accuracy": 0.9,
        "onnxruntime": "1.10.0",
        "onnxruntime_from": "the code bundle's wheels",
    }
    assert int8_problem(measured) == ""
    lines = int8_report(measured).splitlines()
    assert len(lines) == 9 and any("int8 ms/frame" in line and "6.0" in line for line in lines)
