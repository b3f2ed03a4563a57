from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.envelope import (
    Attachment,
    ConversationId,
    Direction,
    Envelope,
    MessageId,
    Pseudonym,
    SenderKind,
    pseudonymize,
)

texts = st.text(max_size=200)
envelopes = st.builds(
    Envelope,
    message_id=st.text(min_size=1, max_size=40).map(MessageId),
    direction=st.sampled_from(Direction),
    channel=st.sampled_from(["webchat", "email", "telegram", "xmpp"]),
    sender=st.text(min_size=1, max_size=40).map(Pseudonym),
    text=texts,
    conversation_id=st.none() | st.text(min_size=1, max_size=32).map(ConversationId),
    attachments=st.lists(
        st.builds(Attachment, name=texts, content_type=st.just("image/png"), size=st.integers(0, 10**9)),
        max_size=3,
    ).map(tuple),
    received_at=st.datetimes(timezones=st.just(UTC)),
    sender_kind=st.sampled_from(SenderKind),
    external_id=st.none() | texts,
    meta=st.dictionaries(
        st.text(max_size=10), st.text(max_size=20) | st.integers() | st.booleans(), max_size=4
    ),
)


@given(envelopes)
def test_json_round_trip_gives_the_same_envelope(env: Envelope) -> None:
    assert Envelope.from_json(env.to_json()) == env


def test_envelope_is_frozen() -> None:
    env = Envelope(MessageId("m"), Direction.IN, "webchat", Pseudonym("p"), "hej")
    with pytest.raises(dataclasses.FrozenInstanceError):
        env.text = "changed"  # type: ignore[misc]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Envelope(
            MessageId("m"), Direction.IN, "webchat", Pseudonym("p"), "hej", received_at=datetime(2026, 1, 1)
        )


def test_pseudonym_depends_on_key_channel_and_address_and_hides_the_address() -> None:
    key, other = b"k" * 32, b"o" * 32
    p = pseudonymize(key, "telegram", "12345")
    assert p == pseudonymize(key, "telegram", "12345")
    assert p != pseudonymize(other, "telegram", "12345")
    assert p != pseudonymize(key, "xmpp", "12345")
    assert "12345" not in p
