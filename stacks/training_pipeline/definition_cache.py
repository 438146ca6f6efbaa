"""A cache of the pipeline definition and image table the SDK generates, keyed by their inputs.

Generating needs the SageMaker SDK (seconds to import); the result depends only on the
settings, the SDK version and the generator's own source, so it is kept under .build/ by a
hash of those and every later synth of the same inputs reads it back. The SDK runs unpatched:
the first synth of new inputs pays its full cost (it re-validates its config on every lookup).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from sorter_common.atomic_build import build_once
from stacks.training_pipeline import definition, images
from stacks.training_pipeline.definition import PipelineSettings
from stacks.training_pipeline.images import PipelineImages

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = PROJECT_ROOT / ".build" / "pipeline-definitions"


@dataclass(frozen=True)
class GeneratedPipeline:
    definition: str
    images_by_region: dict[str, PipelineImages]


def _cache_key(settings: PipelineSettings) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(dataclasses.asdict(settings), sort_keys=True).encode())
    digest.update(version("sagemaker").encode())
    for module in (definition, images):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:24]


def _generate(settings: PipelineSettings) -> GeneratedPipeline:
    definition.quiet_sdk_logs()
    return GeneratedPipeline(
        definition=definition.build_definition(settings),
        images_by_region={
            region: images.images_for(region, settings.training.instance_type) for region in images.supported_regions()
        },
    )


def load_or_generate(settings: PipelineSettings, cache_dir: Path = CACHE_DIR) -> GeneratedPipeline:
    """The cached result for these inputs, generated (and cached) first when there is none."""
    path = cache_dir / f"{_cache_key(settings)}.json"
    if path.exists():
        cached = json.loads(path.read_text())
        return GeneratedPipeline(
            definition=cached["definition"],
            images_by_region={region: PipelineImages(**uris) for region, uris in cached["images_by_region"].items()},
        )
    generated = _generate(settings)
    text = json.dumps(dataclasses.asdict(generated), sort_keys=True)
    build_once(path, lambda partial: partial.write_text(text))  # a concurrent synth never reads half a file
    return generated
