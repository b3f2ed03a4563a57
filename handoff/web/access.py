"""Who may act on a conversation: a route's declared ``acts_on``, enforced by the one guard.

A route that reads or changes one conversation (its referrals, its disclosures, its transcript, its
documentation) declares :class:`ActsOn`: where the conversation's id comes from (the path, the body,
or a resolver for an item of the conversation such as a disclosure) and who may act on it.  The guard
(:mod:`handoff.web.guard`) checks it after the body and before the handler, so that no handler
repeats it:

* an unknown conversation (or item) is 404 ``not_found``;
* a staff member the rule does not allow is 403 with the route's code (``not_assigned_to_you``),
  and the refusal is audited on the conversation (``handoff.denied`` unless the route says otherwise).

The rule by default (:func:`holds_or_supervises`): a counsellor acts on the conversation assigned to
them; a supervisor or an admin on any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.appkeys import DB
from gateway.errors import NotFound
from gateway.store import repo, rows
from gateway.store.models import StaffUser

from .routes import ActsOn, ConversationOf, Rule, holds_or_supervises
from .validation import BODY_KEY

if TYPE_CHECKING:
    from aiohttp import web


def in_path(name: str = "conversation_id") -> ActsOn:
    """The conversation whose id is the path's ``name``."""

    async def of(request: web.Request) -> str:
        return request.match_info[name]

    return ActsOn(of, f"path:{name}")


def in_body(field: str) -> ActsOn:
    """The conversation whose id is the checked body's ``field`` (the route must declare a body)."""

    async def of(request: web.Request) -> str:
        return str(getattr(request[BODY_KEY], field))

    return ActsOn(of, f"body:{field}")


def resolved(of: ConversationOf, source: str) -> ActsOn:
    """The conversation ``of`` finds, e.g. a disclosure's (``source`` names what it reads)."""
    return ActsOn(of, source)


async def refusal(request: web.Request, user: StaffUser, acts_on: ActsOn) -> tuple[int, str] | None:
    """None when ``user`` may act on the request's conversation; else the status and code of the
    refusal (404 ``not_found``; 403 ``acts_on.code``, audited)."""
    try:
        conversation_id = await acts_on.conversation(request)
    except NotFound:
        return 404, "not_found"
    async with request.app[DB].connection() as conn:  # a read on every request: Core, no commit
        conv = await rows.peek(conn, conversation_id)
    if conv is None:
        return 404, "not_found"
    if acts_on.rule(conv, user):
        return None
    async with request.app[DB].session() as session:
        await repo.audit(session, acts_on.denied, actor=user, conversation_id=conversation_id)
    return 403, acts_on.code


__all__ = [
    "ActsOn",
    "ConversationOf",
    "Rule",
    "holds_or_supervises",
    "in_body",
    "in_path",
    "refusal",
    "resolved",
]
