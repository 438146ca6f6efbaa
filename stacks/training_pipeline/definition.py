"""Generates the SageMaker pipeline definition with the SDK v2 workflow classes, offline.

The SDK needs concrete strings where the stack has CloudFormation tokens (the role, the bucket,
the code assets, the images), so the definition is built with placeholders, and each
placeholder becomes a `${Name}` variable that the stack fills in with Fn::Sub.

Steps: Prepare (processing) -> Train (MXNet script mode) -> Evaluate (processing, property
file) -> AccuracyGate (condition) -> RegisterModel, or AccuracyBelowGate (fail).
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from typing import Any

from sorter_common.bucket_layout import (
    CHECKPOINTS_PREFIX,
    DATASETS_PREFIX,
    EVALUATION_PREFIX,
    MODELS_PREFIX,
    PREPARED_PREFIX,
    PRETRAINED_PREFIX,
)
from sorter_common.training_pipeline import (
    ACCURACY_JSON_PATH,
    DATASET_PARAMETER,
    DEFAULT_DATASET,
    EVALUATION_FILE,
    METRIC_DEFINITIONS,
    pretrained_weights_file,
)
from stacks.config import TrainingConfig
from stacks.training_pipeline.images import CPU_INSTANCE, MXNET_VERSION, PYTHON_VERSION

PREPARE_STEP = "Prepare"
TRAIN_STEP = "Train"
EVALUATE_STEP = "Evaluate"
GATE_STEP = "AccuracyGate"
REGISTER_STEP = "RegisterModel"
FAIL_STEP = "AccuracyBelowGate"
EVALUATION_PROPERTY_FILE = "EvaluationReport"

PROCESSING_ROOT = "/opt/ml/processing"
# With network isolation the SDK sends the code bundle as a `code` channel and points the toolkit
# at it by this fixed name; SageMaker saves the channel's object under its own S3 key's basename,
# the CDK asset's hash name, so the definition names that instead (as for the entry script).
CODE_CHANNEL_BUNDLE = "/opt/ml/input/data/code/sourcedir.tar.gz"
CODE_CHANNEL_DIR = "/opt/ml/input/data/code/"
# Pipeline parameters a caller may set per execution (the accuracy gate is deliberately not one).
EPOCHS_PARAMETER = "Epochs"
DOWNSCALE_PARAMETER = "InputDownscale"
PRETRAINED_CHANNEL = "pretrained"
BUNDLE_MOUNT = f"{PROCESSING_ROOT}/input/bundle"

# Placeholder -> the Fn::Sub variable that replaces it in the template.
PLACEHOLDERS = {
    "arn:aws:iam::000000000000:role/trash-sorter-placeholder-role": "PipelineRoleArn",
    "deeplens-placeholder-bucket": "DataBucket",
    "s3://trash-sorter-placeholder-assets/sourcedir.tar.gz": "SourceBundleUri",
    "s3://trash-sorter-placeholder-assets/trash-sorter-placeholder-entry.py": "EntryScriptUri",
    # SageMaker saves the script under its S3 key's basename, the CDK asset's hash name, and the
    # SDK writes that name into the container's entrypoint.
    "trash-sorter-placeholder-entry.py": "EntryScriptName",
    "placeholder.training.image": "TrainingImage",
    "placeholder.processing.image": "ProcessingImage",
    "placeholder.inference.image": "InferenceImage",
}
_PLACEHOLDER_OF = {variable: placeholder for placeholder, variable in PLACEHOLDERS.items()}
SUB_VARIABLES = (*PLACEHOLDERS.values(), "SourceBundleName")


@dataclass(frozen=True)
class PipelineSettings:
    """What the definition depends on besides the placeholders: the names, the region to build
    it in, and the config's class ids and training section as they are (never copied field by field)."""

    pipeline_name: str
    model_package_group: str
    region: str
    classes: tuple[str, ...]
    training: TrainingConfig


def _session(region: str) -> Any:
    import boto3
    from sagemaker.workflow.pipeline_context import PipelineSession

    # No AWS call is made while building a definition; the config also turns off the SDK's
    # telemetry, which would otherwise try to reach the network on every step.
    no_telemetry = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}
    return PipelineSession(
        boto_session=boto3.Session(region_name=region),
        default_bucket=_PLACEHOLDER_OF["DataBucket"],
        sagemaker_config=no_telemetry,
    )


def quiet_sdk_logs() -> None:
    """Before the SDK is imported: its config logger would otherwise print where it found no
    defaults, and the workflow classes warn that a PipelineSession starts no jobs (the point)."""
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    logging.getLogger("sagemaker").setLevel(logging.ERROR)


def _s3(prefix: str, *parts: Any) -> Any:
    from sagemaker.workflow.functions import Join

    return Join(on="", values=[f"s3://{_PLACEHOLDER_OF['DataBucket']}/{prefix}", *parts])


def build_definition(settings: PipelineSettings) -> str:
    """The pipeline definition JSON, with `${Variable}` where the stack's values go."""
    quiet_sdk_logs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _build_definition(settings)


def _build_definition(settings: PipelineSettings) -> str:
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.mxnet import MXNet
    from sagemaker.network import NetworkConfig
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    session = _session(settings.region)
    role = _PLACEHOLDER_OF["PipelineRoleArn"]
    execution = ExecutionVariables.PIPELINE_EXECUTION_ID

    dataset_name = ParameterString(DATASET_PARAMETER, default_value=DEFAULT_DATASET)
    processing_instance = ParameterString("ProcessingInstanceType", default_value=CPU_INSTANCE)
    epochs = ParameterInteger(EPOCHS_PARAMETER, default_value=settings.training.epochs)
    # Average-pool the 224x224 input inside the network (1, 2 or 4): quick rehearsals and trials;
    # the model's input contract stays 224x224 whatever it is.
    downscale = ParameterInteger(DOWNSCALE_PARAMETER, default_value=1)
    # The gate is the config's, written into the condition: a caller who can start an execution
    # cannot lower it (it used to be a pipeline parameter).
    accuracy_gate = settings.training.accuracy_gate
    approval_status = ParameterString("ModelApprovalStatus", default_value=settings.training.approval_status)

    processor = ScriptProcessor(
        image_uri=_PLACEHOLDER_OF["ProcessingImage"],
        command=["python3"],
        instance_type=processing_instance,
        instance_count=1,
        role=role,
        sagemaker_session=session,
        # Jobs fetch nothing: their inputs are channels, their code is in the bundle.
        network_config=NetworkConfig(enable_network_isolation=True),
    )
    bundle_input = ProcessingInput(source=_PLACEHOLDER_OF["SourceBundleUri"], destination=BUNDLE_MOUNT)

    def processing_args(arguments: list[str], inputs: list[Any], output: str, output_prefix: str) -> Any:
        """`python -m training_job <arguments>` in the container, with the code bundle mounted and
        /opt/ml/processing/output/<output> kept under <output_prefix><execution id>/."""
        return processor.run(
            code=_PLACEHOLDER_OF["EntryScriptUri"],
            inputs=[bundle_input, *inputs],
            outputs=[
                ProcessingOutput(
                    output_name=output,
                    source=f"{PROCESSING_ROOT}/output/{output}",
                    destination=_s3(output_prefix, execution, "/"),
                )
            ],
            arguments=arguments,
        )

    # Prepare: `python -m training_job prepare` (a laptop's `python -m training prepare`) over datasets/<DatasetName>/.
    images = ProcessingInput(
        source=_s3(DATASETS_PREFIX, dataset_name, "/"), destination=f"{PROCESSING_ROOT}/input/images"
    )
    prepare = ProcessingStep(
        PREPARE_STEP,
        step_args=processing_args(
            [
                "prepare",
                images.destination,
                f"{PROCESSING_ROOT}/output/prepared",
                "--classes",
                ",".join(settings.classes),
            ],
            [images],
            "prepared",
            PREPARED_PREFIX,
        ),
    )
    prepared_uri = prepare.properties.ProcessingOutputConfig.Outputs["prepared"].S3Output.S3Uri

    spot = settings.training.use_spot
    architecture = settings.training.architecture
    hyperparameters: dict[str, Any] = {
        "epochs": epochs,
        "batch-size": settings.training.batch_size,
        "learning-rate": settings.training.learning_rate,
        "architecture": architecture,
        "downscale": downscale,
        "pretrained": "true",
        # The toolkit passes every hyperparameter as `--name value`: no valueless flags.
        "progress": "false",
    }
    if settings.training.pretrained_weights_sha256:
        hyperparameters["pretrained-sha256"] = settings.training.pretrained_weights_sha256
    estimator = MXNet(
        entry_point="training_job/train.py",
        source_dir=_PLACEHOLDER_OF["SourceBundleUri"],
        framework_version=MXNET_VERSION,
        py_version=PYTHON_VERSION,
        image_uri=_PLACEHOLDER_OF["TrainingImage"],
        instance_type=settings.training.instance_type,
        instance_count=1,
        role=role,
        sagemaker_session=session,
        output_path=f"s3://{_PLACEHOLDER_OF['DataBucket']}/{MODELS_PREFIX}",
        checkpoint_s3_uri=f"s3://{_PLACEHOLDER_OF['DataBucket']}/{CHECKPOINTS_PREFIX}" if spot else None,
        use_spot_instances=spot,
        max_run=24 * 3600,
        max_wait=48 * 3600 if spot else None,
        metric_definitions=METRIC_DEFINITIONS,
        disable_profiler=True,
        debugger_hook_config=False,
        enable_network_isolation=True,
        hyperparameters=hyperparameters,
    )
    weights_uri = f"s3://{_PLACEHOLDER_OF['DataBucket']}/{PRETRAINED_PREFIX}{pretrained_weights_file(architecture)}"
    train = TrainingStep(
        TRAIN_STEP,
        step_args=estimator.fit(
            inputs={"training": TrainingInput(s3_data=prepared_uri), PRETRAINED_CHANNEL: TrainingInput(weights_uri)}
        ),
    )
    model_uri = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name=EVALUATION_PROPERTY_FILE, output_name="evaluation", path=EVALUATION_FILE)
    model_input = ProcessingInput(source=model_uri, destination=f"{PROCESSING_ROOT}/input/model")
    data_input = ProcessingInput(source=prepared_uri, destination=f"{PROCESSING_ROOT}/input/data")
    evaluate = ProcessingStep(
        EVALUATE_STEP,
        step_args=processing_args(
            [
                "evaluate",
                f"{model_input.destination}/model.tar.gz",
                data_input.destination,
                f"{PROCESSING_ROOT}/output/evaluation",
            ],
            [model_input, data_input],
            "evaluation",
            EVALUATION_PREFIX,
        ),
        property_files=[report],
    )
    accuracy = JsonGet(step_name=EVALUATE_STEP, property_file=report, json_path=ACCURACY_JSON_PATH)

    model = Model(
        image_uri=_PLACEHOLDER_OF["InferenceImage"],
        model_data=model_uri,
        role=role,
        sagemaker_session=session,
    )
    register = ModelStep(
        REGISTER_STEP,
        step_args=model.register(
            content_types=["application/x-image"],
            response_types=["application/json"],
            inference_instances=[CPU_INSTANCE],
            transform_instances=[CPU_INSTANCE],
            model_package_group_name=settings.model_package_group,
            approval_status=approval_status,
            description="Trash sorter classifier for " + ", ".join(settings.classes),
            customer_metadata_properties={"classes": ",".join(settings.classes)},
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    content_type="application/json", s3_uri=_s3(EVALUATION_PREFIX, execution, "/" + EVALUATION_FILE)
                )
            ),
        ),
    )
    below_gate = FailStep(
        FAIL_STEP,
        error_message=Join(
            on=" ",
            values=["Model accuracy", accuracy, f"is below the accuracy gate {accuracy_gate} - not registered."],
        ),
    )
    gate = ConditionStep(
        GATE_STEP,
        conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=accuracy_gate)],
        if_steps=[register],
        else_steps=[below_gate],
    )

    pipeline = Pipeline(
        settings.pipeline_name,
        parameters=[dataset_name, processing_instance, epochs, downscale, approval_status],
        steps=[prepare, train, evaluate, gate],
        sagemaker_session=session,
        # No SageMaker Experiments run per execution: nothing reads it, and it would need the
        # role to create experiments, trials and trial components too.
        pipeline_experiment_config=None,
    )
    return _with_variables(pipeline.definition())


def _with_variables(definition: str) -> str:
    """Escape Fn::Sub's own syntax, then turn each placeholder into its ${Variable}."""
    text = definition.replace("${", "${!")
    text = text.replace(CODE_CHANNEL_BUNDLE, CODE_CHANNEL_DIR + "${SourceBundleName}")
    for placeholder, variable in PLACEHOLDERS.items():
        text = text.replace(placeholder, "${" + variable + "}")
    json.loads(text)  # still one valid JSON document
    return text
