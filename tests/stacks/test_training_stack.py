"""TrashSorterTraining: the generated pipeline, its role, its images and its trigger."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from sorter_common.training_pipeline import ACCURACY_JSON_PATH, EVALUATION_FILE, METRIC_DEFINITIONS
from stacks.config import load_config
from stacks.training_pipeline.definition import SUB_VARIABLES
from stacks.training_stack import TrainingStack
from tests.stacks.synth import SynthesizedApp
from tools.cdk_context import cdk_json_context

TRAINING = "TrashSorterTraining"


def pipeline_resource(template: dict[str, Any]) -> dict[str, Any]:
    pipelines = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    assert len(pipelines) == 1
    return dict(pipelines[0])


def definition_and_variables(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    body, variables = pipeline_resource(template)["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"][
        "Fn::Sub"
    ]
    # Fill every ${Variable} with a stand-in so the body parses as the JSON SageMaker receives.
    filled = re.sub(r"\$\{([A-Za-z]+)\}", lambda match: f"<{match[1]}>", body).replace("${!", "${")
    return json.loads(filled), variables


@pytest.fixture(scope="module")
def training_template(synthesized_app: SynthesizedApp) -> dict[str, Any]:
    return synthesized_app.templates[TRAINING]


@pytest.fixture(scope="module")
def definition(training_template: dict[str, Any]) -> dict[str, Any]:
    return definition_and_variables(training_template)[0]


def test_steps_run_prepare_train_evaluate_then_the_gate(definition: dict[str, Any]) -> None:
    steps = definition["Steps"]
    assert [(step["Name"], step["Type"]) for step in steps] == [
        ("Prepare", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("AccuracyGate", "Condition"),
    ]
    prepare, train, evaluate, _ = steps
    assert prepare["Arguments"]["AppSpecification"]["ContainerArguments"][:1] == ["prepare"]
    channel = train["Arguments"]["InputDataConfig"][0]
    assert channel["ChannelName"] == "training"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['prepared'].S3Output.S3Uri"
    }
    assert evaluate["Arguments"]["AppSpecification"]["ContainerArguments"][:1] == ["evaluate"]
    model_input = evaluate["Arguments"]["ProcessingInputs"][1]["S3Input"]["S3Uri"]
    assert model_input == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert evaluate["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": EVALUATION_FILE}
    ]


def test_the_gate_registers_above_the_accuracy_gate_and_fails_below_it(definition: dict[str, Any]) -> None:
    gate = definition["Steps"][3]["Arguments"]
    condition = gate["Conditions"][0]
    assert condition["Type"] == "GreaterThanOrEqualTo"
    assert condition["LeftValue"]["Std:JsonGet"]["Path"] == ACCURACY_JSON_PATH
    # The config's gate, written in: no caller can lower it with a pipeline parameter.
    assert condition["RightValue"] == load_config(cdk_json_context()).training.accuracy_gate
    (register,) = gate["IfSteps"]
    assert register["Type"] == "RegisterModel"
    assert register["Arguments"]["ModelPackageGroupName"] == "trash-sorter-models"
    assert register["Arguments"]["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert register["Arguments"]["ModelMetrics"]["ModelQuality"]["Statistics"]["ContentType"] == "application/json"
    (fail,) = gate["ElseSteps"]
    assert fail["Type"] == "Fail"
    message = fail["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    configured_gate = load_config(cdk_json_context()).training.accuracy_gate
    assert f"is below the accuracy gate {configured_gate} - not registered." in message
    assert any(isinstance(part, dict) and "Std:JsonGet" in part for part in message), "says the measured accuracy"


def test_parameters_carry_the_config_defaults(definition: dict[str, Any]) -> None:
    parameters = {parameter["Name"]: parameter for parameter in definition["Parameters"]}
    config = load_config(cdk_json_context())
    assert "AccuracyGate" not in parameters  # the gate holds for every caller
    assert parameters["Epochs"]["DefaultValue"] == config.training.epochs
    assert parameters["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
    assert parameters["DatasetName"]["DefaultValue"] == "default"


def test_jobs_run_with_network_isolation_and_the_pretrained_channel(definition: dict[str, Any]) -> None:
    prepare, train, evaluate, _ = definition["Steps"]
    for step in (prepare, evaluate):
        assert step["Arguments"]["NetworkConfig"]["EnableNetworkIsolation"] is True
    arguments = train["Arguments"]
    assert arguments["EnableNetworkIsolation"] is True
    channels = {
        channel["ChannelName"]: channel["DataSource"]["S3DataSource"] for channel in arguments["InputDataConfig"]
    }
    assert channels["pretrained"]["S3Uri"] == "s3://<DataBucket>/pretrained/resnet18_v1.params"
    # The code arrives as a channel; the toolkit is pointed at the asset's own file name in it.
    assert channels["code"]["S3Uri"] == "<SourceBundleUri>"
    hyperparameters = arguments["HyperParameters"]
    assert hyperparameters["sagemaker_submit_directory"] == '"/opt/ml/input/data/code/<SourceBundleName>"'
    # Every hyperparameter reaches train.py as `--name value`: none may be empty.
    assert all(value not in ("", '""') for value in hyperparameters.values())


def test_every_reference_in_the_definition_exists(definition: dict[str, Any]) -> None:
    names = {step["Name"] for step in definition["Steps"]}
    names |= {
        inner["Name"]
        for step in definition["Steps"]
        for key in ("IfSteps", "ElseSteps")
        for inner in step.get("Arguments", {}).get(key, [])
    }
    parameters = {parameter["Name"] for parameter in definition["Parameters"]}
    text = json.dumps(definition)
    referenced_steps = set(re.findall(r'"Steps\.([A-Za-z-]+)\.', text))
    referenced_parameters = set(re.findall(r'"Parameters\.([A-Za-z]+)"', text))
    assert referenced_steps and referenced_steps <= names
    assert referenced_parameters == parameters


def test_every_placeholder_is_filled_with_a_stack_value(training_template: dict[str, Any]) -> None:
    body, variables = pipeline_resource(training_template)["Properties"]["PipelineDefinition"][
        "PipelineDefinitionBody"
    ]["Fn::Sub"]
    used = set(re.findall(r"\$\{([A-Za-z]+)\}", body))
    assert used == set(SUB_VARIABLES) == set(variables)
    assert "placeholder" not in json.dumps(variables)


def test_training_uses_the_mxnet_container_in_script_mode_with_metric_definitions(
    definition: dict[str, Any], training_template: dict[str, Any]
) -> None:
    train = definition["Steps"][1]["Arguments"]
    hyperparameters = train["HyperParameters"]
    assert hyperparameters["sagemaker_program"] == '"training_job/train.py"'
    assert hyperparameters["sagemaker_submit_directory"] == '"/opt/ml/input/data/code/<SourceBundleName>"'
    assert train["AlgorithmSpecification"]["MetricDefinitions"] == METRIC_DEFINITIONS
    _, variables = definition_and_variables(training_template)
    assert variables["TrainingImage"] == "763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-training:1.9.0-gpu-py38"
    assert variables["ProcessingImage"] == "763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-training:1.9.0-cpu-py38"
    assert variables["InferenceImage"] == "763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-inference:1.9.0-cpu-py38"


def test_an_environment_agnostic_stack_maps_the_images_of_every_region() -> None:
    app = cdk.App(context=cdk_json_context())
    config = load_config(cdk_json_context())
    stack = TrainingStack(app, "Agnostic", config=config.training, classes=config.classes, bucket_name="deeplens-x")
    template = Template.from_stack(stack).to_json()
    mapping = template["Mappings"]["ImageMap"]
    assert (
        mapping["eu-west-1"]["training"] == "763104351884.dkr.ecr.eu-west-1.amazonaws.com/mxnet-training:1.9.0-gpu-py38"
    )
    assert mapping["ap-east-1"]["inference"].startswith("871362719292.dkr.ecr.ap-east-1.amazonaws.com/mxnet-inference")
    assert len(mapping) > 20
    _, variables = definition_and_variables(dict(template))
    assert variables["TrainingImage"] == {"Fn::FindInMap": ["ImageMap", {"Ref": "AWS::Region"}, "training"]}


def test_the_role_reaches_only_its_prefixes_and_no_action_is_a_wildcard(training_template: dict[str, Any]) -> None:
    template = Template.from_json(training_template)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Action": ["s3:AbortMultipartUpload", "s3:PutObject"]}),
                        Match.object_like(
                            {
                                "Action": "iam:PassRole",
                                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                            }
                        ),
                    ]
                )
            }
        },
    )
    statements = _statements(
        {**template.find_resources("AWS::IAM::Policy"), **template.find_resources("AWS::IAM::Role")}
    )
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), statement
    (writes,) = [s for s in statements if "s3:PutObject" in s["Action"]]
    written_prefixes = {resource["Fn::Join"][1][-1] for resource in writes["Resource"]}
    # The pipeline never overwrites uploaded images (datasets/).
    assert written_prefixes == {"/prepared/*", "/models/*", "/evaluation/*", "/checkpoints/*"}


def _statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for resource in resources.values():
        properties = resource["Properties"]
        documents = [properties.get("PolicyDocument")] + [p["PolicyDocument"] for p in properties.get("Policies", [])]
        statements += [s for document in documents if document for s in document["Statement"]]
    return statements


def test_a_ready_marker_starts_the_pipeline_through_a_function_with_a_dead_letter_queue(
    training_template: dict[str, Any],
) -> None:
    template = Template.from_json(training_template)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {"object": {"key": [{"wildcard": "datasets/*/_READY"}]}, "bucket": Match.any_value()},
            },
            "Targets": [Match.object_like({"DeadLetterConfig": Match.any_value(), "RetryPolicy": Match.any_value()})],
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        # Its names come from the bundled sorter_common, not from environment variables.
        {"Runtime": "python3.14", "Environment": Match.absent()},
    )
    template.resource_count_is("AWS::Events::Rule", 1)  # no schedule unless configured


def test_a_configured_schedule_adds_a_scheduled_rule() -> None:
    app = cdk.App(context=cdk_json_context())
    config = load_config({**cdk_json_context(), "trainingSchedule": "rate(7 days)"})
    stack = TrainingStack(
        app,
        "Scheduled",
        config=config.training,
        classes=config.classes,
        bucket_name="deeplens-x",
        env=cdk.Environment(region="us-east-1"),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(7 days)",
            "Targets": [
                Match.object_like(
                    {
                        "InputTransformer": {
                            "InputPathsMap": {"id": "$.id"},
                            "InputTemplate": '{"dataset":"default","id":<id>}',
                        }
                    }
                )
            ],
        },
    )


def test_processing_steps_run_the_entry_script_under_the_name_sagemaker_saves_it(
    definition: dict[str, Any], training_template: dict[str, Any]
) -> None:
    _, variables = definition_and_variables(training_template)
    for step in (definition["Steps"][0], definition["Steps"][2]):
        entrypoint = step["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
        assert entrypoint == ["python3", "/opt/ml/processing/input/code/<EntryScriptName>"]
        (code,) = [i for i in step["Arguments"]["ProcessingInputs"] if i["InputName"] == "code"]
        assert code["S3Input"]["S3Uri"] == "<EntryScriptUri>"
    # The script's S3 key is the asset's own (hash) name, which is also its file name in the container.
    assert re.fullmatch(r"[0-9a-f]{64}\.py", variables["EntryScriptName"])
    assert variables["EntryScriptName"] in json.dumps(variables["EntryScriptUri"])


def test_no_experiment_tracking_is_asked_of_the_role(definition: dict[str, Any]) -> None:
    assert definition["PipelineExperimentConfig"] is None


def test_a_start_that_fails_after_lambda_retries_lands_in_the_dead_letter_queue_with_an_alarm(
    training_template: dict[str, Any],
) -> None:
    template = Template.from_json(training_template)
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"DestinationConfig": {"OnFailure": Match.any_value()}}
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 1}
    )
