"""Container image URIs from the SageMaker Python SDK v2's own table (v3 dropped MXNet).

Nothing region-specific is typed by hand: the SDK knows the registry account of every region.
"""

from __future__ import annotations

from dataclasses import dataclass

MXNET_VERSION = "1.9.0"  # the last MXNet framework container (MXNet 1.9.x)
PYTHON_VERSION = "py38"
# Processing (prepare, evaluate) and inference run on CPU instances.
CPU_INSTANCE = "ml.m5.xlarge"


@dataclass(frozen=True)
class PipelineImages:
    training: str
    processing: str
    inference: str


def is_gpu_instance(instance_type: str) -> bool:
    family = instance_type.split(".")[1]
    return family.startswith(("p", "g"))


def _retrieve(region: str, scope: str, instance_type: str) -> str:
    from sagemaker import image_uris  # heavy import: only when a pipeline is synthesized

    return str(
        image_uris.retrieve(
            "mxnet",
            region,
            version=MXNET_VERSION,
            py_version=PYTHON_VERSION,
            instance_type=instance_type,
            image_scope=scope,
        )
    )


def images_for(region: str, training_instance_type: str) -> PipelineImages:
    return PipelineImages(
        training=_retrieve(region, "training", training_instance_type),
        processing=_retrieve(region, "training", CPU_INSTANCE),
        inference=_retrieve(region, "inference", CPU_INSTANCE),
    )


def supported_regions() -> list[str]:
    """Every region where the SDK lists both the MXNet training and inference images."""
    from sagemaker import image_uris

    config = image_uris.config_for_framework("mxnet")
    training = set(config["training"]["versions"][MXNET_VERSION]["registries"])
    inference = set(config["inference"]["versions"][MXNET_VERSION]["registries"])
    return sorted(training & inference)
