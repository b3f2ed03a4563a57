"""The events the pipeline publishes: their topics and the shape of their payloads.

A contract module (docs/architecture.md, "Layers"): channel adapters and the handoff features read
these names and shapes; they import nothing else of the pipeline's.  Payloads travel as plain
dicts (JSON in the outbox and on the broker); the ``TypedDict`` classes describe them.

* ``outbound.<channel>`` (consumer group ``egress``): :class:`OutboundEvent`, an outgoing message
  to deliver;
* ``notify.<channel>`` (group ``egress``): :class:`NotifyEvent`, what the person should see
  (``assigned``, ``typing``, ``closed``);
* ``conversation`` (fan-out): :class:`ConversationEvent`, every message, state change, typing and
  delivery of a conversation;
* ``queue`` (fan-out): :class:`QueueEvent`, the queue changed; ``critical`` is true when a critical
  conversation arrived; kind ``critical_assigned`` when a conversation a counsellor holds turned
  critical.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

TOPIC_CONVERSATION = "conversation"
TOPIC_QUEUE = "queue"
CRITICAL_ASSIGNED = "critical_assigned"
"""Kind of the ``queue`` event of an assigned conversation that turned critical."""
EGRESS_GROUP = "egress"
"""Consumer group of ``outbound.<channel>`` and ``notify.<channel>``."""


def outbound_topic(channel: str) -> str:
    return f"outbound.{channel}"


def notify_topic(channel: str) -> str:
    return f"notify.{channel}"


class OutboundEvent(TypedDict):
    message_id: str


class NotifyEvent(TypedDict):
    conversation_id: str
    event: str
    """``assigned``, ``typing``, ``closed``."""
    data: dict[str, Any]
    """``language`` always; ``counsellor`` (a display name) with ``assigned``."""


ConversationKind = Literal["message", "state", "delivery", "typing"]


class ConversationEvent(TypedDict):
    kind: ConversationKind
    conversation_id: str
    conversation: dict[str, Any]
    """The conversation's summary (``gateway.store.repo.conversation_summary``)."""
    message: NotRequired[dict[str, Any]]
    """kind ``message``: the message (``gateway.store.repo.message_dict``)."""
    who: NotRequired[Literal["person", "counsellor"]]
    typing: NotRequired[bool]
    message_id: NotRequired[str | None]
    delivery: NotRequired[str]
    """kind ``delivery``: the message's new delivery state."""
    detail: NotRequired[dict[str, Any]]
    """kind ``delivery``: what the channel told of it (SMS ``segments``, ``encoding``, ``error``)."""


class QueueEvent(TypedDict):
    conversation_id: str
    kind: Literal["changed", "critical_assigned"]
    critical: bool
    priority: NotRequired[str]
    assigned_to: NotRequired[int | None]
    intent: NotRequired[str | None]
    channel: NotRequired[str]
