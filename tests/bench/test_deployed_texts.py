"""The benchmark's visitors write what it says they write: concern at normal priority, and one
critical message (an attack planned on Friday) that raises the alert on every console."""

from __future__ import annotations

import pytest

from bench.deployed.visitor import CRITICAL_TEXT, TEXTS
from gateway.envelope import Priority
from nlu.embedding import shared_stage
from nlu.triage import EmbeddedTriager, default_model


@pytest.fixture(scope="module")
def triager() -> EmbeddedTriager:
    return EmbeddedTriager(default_model(), embedding=shared_stage())


@pytest.mark.parametrize("text", TEXTS)
def test_the_load_is_swedish_concern_at_normal_priority(triager: EmbeddedTriager, text: str) -> None:
    result = triager.parse_sync(text)
    # A critical one would alert every console and answer with 112: not the load it claims to be.
    assert (result.language, result.priority) == ("sv", Priority.NORMAL), text


def test_the_alert_message_is_critical(triager: EmbeddedTriager) -> None:
    result = triager.parse_sync(CRITICAL_TEXT)
    assert (result.language, result.priority) == ("sv", Priority.CRITICAL)
