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

PREFIXES = {
    DATASETS_PREFIX: "uploaded class folders of images, one dataset per folder, completed by a _READY object",
    PREPARED_PREFIX: "validated and split datasets: .lst manifests and manifest.json",
    MODELS_PREFIX: "trained model.tar.gz artifacts",
    EVALUATION_PREFIX: "evaluation.json and the confusion matrix of each pipeline execution",
    EDGE_ARTIFACTS_PREFIX: "Greengrass V2 component artifacts",
    PRETRAINED_PREFIX: "ImageNet-pretrained backbone weights the Train step starts from (python -m training weights)",
    CHECKPOINTS_PREFIX: "managed spot training checkpoints",
}
