from __future__ import annotations

import pytest

from nlu.classifier import ModelArtifact
from nlu.triage import EmbeddedTriager, default_model


@pytest.fixture(scope="session")
def model() -> ModelArtifact:
    """The model trained on the shipped training data (once per test session)."""
    return default_model()


@pytest.fixture
def triager(model: ModelArtifact) -> EmbeddedTriager:
    return EmbeddedTriager(model)
