"""Names the training stack, the operator commands and the model promotion share."""

PIPELINE_NAME = "trash-sorter-training"
MODEL_PACKAGE_GROUP = "trash-sorter-models"
# The pipeline parameter naming the folder under datasets/ to train on.
DATASET_PARAMETER = "DatasetName"
DEFAULT_DATASET = "default"
# A dataset name is one folder level of letters, digits and inner hyphens: SageMaker's execution
# display name ("dataset-<name>") allows nothing else.
DATASET_NAME_PATTERN = r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$"
