"""One synthesized app for the whole session: synthesis is the slow part, so it happens once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.stacks.synth import SynthesizedApp, synthesize
from tools.cdk_context import ALL_TARGETS_CONTEXT


@pytest.fixture(scope="session")
def synthesized_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    yield synthesize(tmp_path_factory.mktemp("cdk.out"), ALL_TARGETS_CONTEXT)
