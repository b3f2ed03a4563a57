"""The conversation state machine.

``bot`` (triaged, safe response sent) -> ``queued`` -> ``assigned`` -> ``closed`` -> ``documented``;
an assigned conversation can go back to the queue (released or transferred); a person who writes
again after ``closed`` starts a new conversation.  Critical conversations are never closed by
the bot alone.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping
from typing import Protocol

from gateway.errors import Conflict


class ConversationState(enum.StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"
    DOCUMENTED = "documented"


S = ConversationState

TRANSITIONS: dict[ConversationState, frozenset[ConversationState]] = {
    S.BOT: frozenset({S.QUEUED, S.CLOSED}),
    S.QUEUED: frozenset({S.ASSIGNED, S.CLOSED}),
    S.ASSIGNED: frozenset({S.QUEUED, S.ASSIGNED, S.CLOSED}),
    S.CLOSED: frozenset({S.DOCUMENTED}),
    S.DOCUMENTED: frozenset(),
}

# Intents that alone do not put a conversation in front of a counsellor.
BOT_ONLY_INTENTS = frozenset({"greet", "goodbye"})


class HasState(Protocol):
    state: str


def check_transition(current: str, target: ConversationState) -> None:
    """Raise :class:`Conflict` unless the table allows ``current`` -> ``target``."""
    state = ConversationState(current)
    if target not in TRANSITIONS[state]:
        raise Conflict(f"a conversation cannot go from {state.value} to {target.value}")


UNLINK_AT_CLOSE = "unlink_at_close"
"""``meta`` flag: the person asked not to be recognised between conversations; the conversation
keeps its pseudonym while open (it is how their next message finds it) and loses it at close."""
UNLINKED_PREFIX = "u:"


def unlinked_pseudonym() -> str:
    """A pseudonym no address gives (":" is not in an HMAC's hex digest): the conversation is no
    longer found from the person's later ones.  Not empty, so retention still sees a transcript
    not yet purged (``handoff.records.retention`` clears it then)."""
    return UNLINKED_PREFIX + secrets.token_hex(19)


def move(conversation: HasState, target: ConversationState) -> None:
    """The one way a conversation's state changes: checked against :data:`TRANSITIONS`.

    A conversation closed with :data:`UNLINK_AT_CLOSE` in its ``meta`` gets an unlinked pseudonym
    here, whoever closes it (a counsellor, the person, retention's idle close).

    (The claim, one conditional UPDATE in :mod:`gateway.queue`, is the only change made in SQL;
    its condition is the table's ``queued -> assigned``, checked below at import.)"""
    check_transition(conversation.state, target)
    conversation.state = target.value
    meta = getattr(conversation, "meta", None)
    if target is S.CLOSED and isinstance(meta, Mapping) and meta.get(UNLINK_AT_CLOSE):
        conversation.pseudonym = unlinked_pseudonym()  # type: ignore[attr-defined]
        conversation.resume_code_hash = None  # type: ignore[attr-defined]  # the code finds it no more
        conversation.meta = {  # type: ignore[attr-defined]
            **{k: v for k, v in meta.items() if k != UNLINK_AT_CLOSE},
            "unlinked": True,
        }


def needs_counsellor(intent: str, priority: int) -> bool:
    """Whether a message puts a bot-only conversation in the queue."""
    return intent not in BOT_ONLY_INTENTS or priority >= 2


check_transition(S.QUEUED, S.ASSIGNED)  # the claim's UPDATE relies on it
