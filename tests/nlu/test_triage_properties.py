from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nlu.classifier import ModelArtifact
from nlu.result import INTENT_PRIORITY, INTENTS, SUPPORTED_LANGUAGES, UNKNOWN_LANGUAGE
from nlu.triage import EmbeddedTriager, decide

rankings = st.lists(
    st.tuples(st.sampled_from(INTENTS), st.floats(min_value=0, max_value=1)),
    min_size=1,
    max_size=11,
    unique_by=lambda t: t[0],
).map(lambda r: sorted(r, key=lambda x: -x[1]))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200), ranking=rankings)
def test_decision_never_lowers_the_models_priority(text: str, ranking: list[tuple[str, float]]) -> None:
    d = decide(text, ranking)
    assert INTENT_PRIORITY[d.intent] >= INTENT_PRIORITY[ranking[0][0]]
    assert 0.0 <= d.confidence <= 1.0


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=500))
def test_parse_never_fails_on_any_text(model: ModelArtifact, text: str) -> None:
    r = EmbeddedTriager(model).parse_sync(text)
    assert r.intent in INTENTS
    assert r.language in {*SUPPORTED_LANGUAGES, UNKNOWN_LANGUAGE}
    assert r.safe_response
