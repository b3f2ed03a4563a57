"""What a route declares: :class:`Route`, the base of input schemas (:class:`Body`) and of answers
(:class:`Answer`), the error answer every route shares (:class:`ErrorAnswer`), and the conversation
a route acts on (:class:`ActsOn`, enforced by :mod:`handoff.web.access`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from .roles import SUPERVISOR_ROLES

if TYPE_CHECKING:
    from aiohttp import web

    from gateway.store.models import StaffUser
    from gateway.store.rows import ConversationRow
    from handoff.console.security import Staff

Kind = Literal["page", "api", "ws"]
ConversationOf = Callable[["web.Request"], Awaitable[str]]
"""The id of the conversation a request acts on (:class:`~gateway.errors.NotFound`: 404)."""
Rule = Callable[["ConversationRow", "StaffUser"], bool]
"""Whether a member of staff may act on a conversation (read as a plain row by the access check)."""
StaffHandler = Callable[["web.Request", "Staff"], Awaitable["web.StreamResponse"]]


class Body(BaseModel):
    """The JSON object a route reads, checked before its handler runs (422 with ``fields``).

    Strict: a string is not taken for a boolean or a number.  Keys it does not name are ignored.
    ``error_codes`` names the error code to answer when only that field is wrong (codes the
    console's scripts have words for); otherwise the code is ``invalid_input``.
    """

    model_config = ConfigDict(strict=True, extra="ignore")
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType({})

    @classmethod
    def refused(cls, loc: tuple[int | str, ...], message: str) -> tuple[str, str]:
        """The field and the message an answer names for a refused part of the body: pydantic's
        path (``source_seqs.0``) and message, unless a schema names its fields and messages itself
        (the directory admin's: the codes its page has words for)."""
        return ".".join(str(part) for part in loc) or "body", message


class Answer(BaseModel):
    """A JSON answer, for the OpenAPI document only (answers are not checked when sent)."""

    model_config = ConfigDict(extra="allow")


class ErrorAnswer(Answer):
    """Every refusal: ``{"error": code}``, with ``fields`` (field -> message) for refused input."""

    error: str
    fields: dict[str, str] | None = None


class Download(Answer):
    """A file, not JSON: a subclass names its media type (``media_type``) for the OpenAPI document."""

    media_type: ClassVar[str] = "application/octet-stream"


class Ok(Answer):
    ok: bool


def holds_or_supervises(conv: ConversationRow, user: StaffUser) -> bool:
    """A counsellor acts on the conversation assigned to them; a supervisor or admin on any."""
    holds = conv.state == "assigned" and conv.assigned_to == user.id
    return holds or user.role in SUPERVISOR_ROLES


@dataclass(frozen=True, slots=True)
class ActsOn:
    """The conversation a route acts on, and who may.

    ``source`` says where its id comes from, for the OpenAPI document (``path:conversation_id``,
    ``body:conversation_id``, ``disclosure_id``); ``denied`` is the audit action of a refusal and
    ``code`` its error code."""

    conversation: ConversationOf
    source: str
    rule: Rule = holds_or_supervises
    code: str = "not_assigned_to_you"
    denied: str = "handoff.denied"
    rule_text: str = "the counsellor holding the conversation, or a supervisor or admin"

    def but(
        self,
        *,
        rule: Rule | None = None,
        code: str | None = None,
        denied: str | None = None,
        rule_text: str | None = None,
    ) -> ActsOn:
        """The same source with another rule, code or audit action."""
        return ActsOn(
            self.conversation,
            self.source,
            rule or self.rule,
            code or self.code,
            denied or self.denied,
            rule_text or self.rule_text,
        )


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """One route behind a login.

    ``roles`` may use it; ``kind`` says how a refusal is answered (a page redirects to the login page
    and renders the forbidden page; the API answers JSON).  ``body`` is its input schema, ``answers``
    its answers by status (beside the refusals every route has), ``idempotency`` the action name
    under which an ``Idempotency-Key`` is honoured (:mod:`handoff.console.idempotency`).
    ``acts_on`` names the conversation the route acts on and who may (:mod:`handoff.web.access`):
    the guard refuses anyone else (403, audited) and an unknown conversation (404).
    ``adapted`` marks a route of a table not yet converted to this type: it is registered and
    guarded by its own module, and listed here (and in the OpenAPI document) as adapted.
    """

    method: str
    path: str
    handler: StaffHandler
    roles: frozenset[str]
    kind: Kind = "api"
    body: type[Body] | None = None
    answers: Mapping[int, type[Answer]] = field(default_factory=dict)
    idempotency: str | None = None
    acts_on: ActsOn | None = None
    summary: str = ""
    tag: str = ""
    adapted: bool = False

    @property
    def title(self) -> str:
        """The summary, or the first line of the handler's docstring, or its name."""
        if self.summary:
            return self.summary
        doc = (getattr(self.handler, "__doc__", None) or "").strip()
        return doc.splitlines()[0].rstrip(".") if doc else getattr(self.handler, "__name__", "")

    def describe(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "roles": sorted(self.roles), "kind": self.kind}


__all__ = [
    "ActsOn",
    "Answer",
    "Body",
    "Download",
    "ErrorAnswer",
    "Kind",
    "Ok",
    "Route",
    "StaffHandler",
    "holds_or_supervises",
]
