"""Names the training stack, the training container, the operator commands and the model promotion share."""

import re
from typing import Any, Dict, Optional

from .bucket_layout import DATASETS_PREFIX

PIPELINE_NAME = "trash-sorter-training"
MODEL_PACKAGE_GROUP = "trash-sorter-models"
# The pipeline parameter naming the folder under datasets/ to train on.
DATASET_PARAMETER = "DatasetName"
DEFAULT_DATASET = "default"
# A dataset name is one folder level of letters, digits and inner hyphens: SageMaker's execution
# display name ("dataset-<name>") allows nothing else.
DATASET_NAME_PATTERN = r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$"

# The networks training can build -> the Gluon model zoo network each is (its weights' name).
ARCHITECTURES = {
    "resnet18": "resnet18_v1",
    "resnet34": "resnet34_v1",
    "resnet50": "resnet50_v1",
    "mobilenetv2_1.0": "mobilenetv2_1.0",
}
DEFAULT_ARCHITECTURE = "resnet18"
# The networks whose MXNet graph the DeepLens model optimizer can convert: MobileNet V2's ReLU6
# exports as `clip`, which the optimizer's list of supported MXNet layers does not name
# (training_job/export.py DEEPLENS_MXNET_LAYERS).
DEEPLENS_ARCHITECTURES = ("resnet18", "resnet34", "resnet50")


def pretrained_weights_file(architecture: str) -> str:
    """The file name under pretrained/ and in the Train step's `pretrained` channel (resnet18_v1.params)."""
    return ARCHITECTURES[architecture] + ".params"


# training_job/train.py prints `name=value` per epoch (`validation:accuracy=0.912`); SageMaker parses
# these regexes out of the job's log for the pipeline's Train step.
METRIC_NAMES = ("train:loss", "train:accuracy", "validation:accuracy")
METRIC_DEFINITIONS = [{"Name": name, "Regex": name + r"=([0-9.]+)"} for name in METRIC_NAMES]
# training_job/evaluate.py writes this file; the Evaluate step's property file reads the accuracy gate's
# value at this JSON path, and the model package's metrics point at it.
EVALUATION_FILE = "evaluation.json"
ACCURACY_JSON_PATH = "multiclass_classification_metrics.accuracy.value"


def dataset_of_prefix(prefix: str) -> Optional[str]:
    """The dataset an S3 prefix `datasets/<name>` holds, when the pipeline accepts that name; else None.

    The rule the start-training function applies to a `datasets/<name>/_READY` key, so a command
    can tell before writing the marker whether the pipeline will start on it.
    """
    folder = prefix.strip("/")
    if not folder.startswith(DATASETS_PREFIX):
        return None
    name = folder[len(DATASETS_PREFIX) :]
    return name if re.match(DATASET_NAME_PATTERN, name) else None


class DatasetNameError(ValueError):
    """A dataset name the pipeline cannot take; str() names it and the rule."""


def check_dataset_name(name: str) -> str:
    """name, when the pipeline accepts it as the folder under datasets/; else DatasetNameError."""
    if not re.match(DATASET_NAME_PATTERN, name):
        raise DatasetNameError(
            f"dataset name {name!r} is not usable: one folder name under {DATASETS_PREFIX} "
            f"(letters, digits and inner hyphens; no '/', '.' or '_'): it must match {DATASET_NAME_PATTERN}"
        )
    return name


def start_execution_request(
    dataset: str, pipeline: str = PIPELINE_NAME, client_request_token: Optional[str] = None
) -> Dict[str, Any]:
    """StartPipelineExecution's arguments for a training run on datasets/<dataset>/.

    What the start-training function (on a _READY marker) and the operator's `pipeline start`
    both send. The same client_request_token twice starts one execution.
    """
    check_dataset_name(dataset)
    request: Dict[str, Any] = {
        "PipelineName": pipeline,
        "PipelineExecutionDisplayName": f"dataset-{dataset}"[:82],
        "PipelineExecutionDescription": f"Started for {DATASETS_PREFIX}{dataset}/",
        "PipelineParameters": [{"Name": DATASET_PARAMETER, "Value": dataset}],
    }
    if client_request_token is not None:
        request["ClientRequestToken"] = client_request_token
    return request
