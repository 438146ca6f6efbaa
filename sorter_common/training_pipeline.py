"""Names the training stack, the operator commands and the model promotion share."""

import re
from typing import Optional

from .bucket_layout import DATASETS_PREFIX

PIPELINE_NAME = "trash-sorter-training"
MODEL_PACKAGE_GROUP = "trash-sorter-models"
# The pipeline parameter naming the folder under datasets/ to train on.
DATASET_PARAMETER = "DatasetName"
DEFAULT_DATASET = "default"
# A dataset name is one folder level of letters, digits and inner hyphens: SageMaker's execution
# display name ("dataset-<name>") allows nothing else.
DATASET_NAME_PATTERN = r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$"


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
