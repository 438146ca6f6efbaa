"""Where things live in the deeplens- bucket. Stacks, IAM policies and the CLI all use these."""

# The recipe's convention, kept: the DeepLens and SageMaker roles only reach deeplens-* buckets.
BUCKET_PREFIX = "deeplens-"

# Class folders of images, one dataset per folder; a _READY marker says an upload is complete.
DATASETS_PREFIX = "datasets/"
DATASET_READY_MARKER = "_READY"
# Validated, split data (.lst manifests, manifest.json) written by the prepare step.
PREPARED_PREFIX = "prepared/"
# Training output: model.tar.gz per training job, evaluation.json per pipeline execution.
MODELS_PREFIX = "models/"
EVALUATION_PREFIX = "evaluation/"
# Edge component artifacts. (The code the pipeline runs is a CDK asset in the bootstrap bucket,
# named by its content hash, so `cdk diff` shows exactly when it changes.)
EDGE_ARTIFACTS_PREFIX = "edge/"
# ImageNet-pretrained backbone weights (Gluon zoo layout), one file per architecture: the Train
# step's `pretrained` channel. Written by `python -m training weights`.
PRETRAINED_PREFIX = "pretrained/"
# Spot training checkpoints.
CHECKPOINTS_PREFIX = "checkpoints/"
# Frames a camera was unsure about, sampled when the owner switches that on: no label yet.
UNLABELLED_PREFIX = "unlabelled/"
# A corrected frame lands in the dataset's class folder with a name that says where it came from.
FIELD_IMAGE_PREFIX = "field-"

PREFIXES = {
    DATASETS_PREFIX: "uploaded class folders of images, one dataset per folder, completed by a _READY object",
    PREPARED_PREFIX: "validated and split datasets: .lst manifests and manifest.json",
    MODELS_PREFIX: "trained model.tar.gz artifacts",
    EVALUATION_PREFIX: "evaluation.json and the confusion matrix of each pipeline execution",
    EDGE_ARTIFACTS_PREFIX: "Greengrass V2 component artifacts",
    PRETRAINED_PREFIX: "ImageNet-pretrained backbone weights the Train step starts from (python -m training weights)",
    CHECKPOINTS_PREFIX: "managed spot training checkpoints",
    UNLABELLED_PREFIX: "frames a camera was unsure about, sampled only when that is switched on; no label",
}


def class_folder(dataset, label):  # type: (str, str) -> str
    """datasets/<dataset>/<label>/: where the pipeline reads a class's images (and corrections land)."""
    return f"{DATASETS_PREFIX}{dataset}/{label}/"


def field_correction_key(dataset, label, camera, seq, ts):  # type: (str, str, str, int, float) -> str
    """The key of a frame a person at the bin corrected (or confirmed) to `label`."""
    return f"{class_folder(dataset, label)}{FIELD_IMAGE_PREFIX}{camera}-{int(ts * 1000)}-{seq}.jpg"


def unlabelled_key(camera, ts):  # type: (str, float) -> str
    return f"{UNLABELLED_PREFIX}{camera}/{int(ts * 1000)}.jpg"
