"""The directory admin's input schemas and answers, for the route table
(:data:`handoff.directory.web.ROUTES`) and the OpenAPI document.

The schemas check the types before a handler runs; :mod:`handoff.directory.checks` checks the values.
Both answer 422 ``{"error": "invalid_input", "fields": {field: code}}`` with the codes and field names
the admin page has words for (``dir_err_<code>``): a value of the wrong type is ``invalid`` (an id
``invalid_id``, a kind ``unknown_kind``), and the methods' and area's parts are named as the form
names them (``email``, ``portal``, ``webhook``; ``area``, ``counties``, ``municipalities``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import Field

from handoff.web import Answer, Body

TYPE_CODES: Mapping[str, str] = MappingProxyType({"id": "invalid_id", "kind": "unknown_kind"})
"""The code of a value of the wrong type, where the checks give another than ``invalid``."""
NESTED = {"methods": ("portal", "email", "webhook"), "serves": ("counties", "municipalities")}
"""The parts of ``methods`` and ``serves`` that the form names by themselves."""
RENAMED = {"serves": "area"}


class _DirectoryBody(Body):
    """A directory form: refused fields named by the form's names, with the checks' codes."""

    @classmethod
    def refused(cls, loc: tuple[int | str, ...], message: str) -> tuple[str, str]:
        first = str(loc[0]) if loc else "_"
        if first in NESTED and len(loc) > 1 and loc[1] in NESTED[first]:
            return str(loc[1]), "invalid"
        return RENAMED.get(first, first), TYPE_CODES.get(first, "invalid")


class Revision(_DirectoryBody):
    """The ``revision`` of the entry the edit started from (409 ``edited_meanwhile`` if another
    edit was saved since)."""

    revision: int = Field(0, ge=0)


class MethodsForm(_DirectoryBody):
    """How a recipient receives handoffs: the portal, an e-mail address, a signed webhook."""

    portal: bool | None = False
    email: str | None = ""
    webhook: str | None = ""


class AreaForm(_DirectoryBody):
    """An area: whole counties and single municipalities (codes)."""

    counties: list[str] = Field(default_factory=list)
    municipalities: list[str] = Field(default_factory=list)


class RecipientBody(Revision):
    """A recipient's form (every key optional here; :func:`handoff.directory.checks.check_recipient`
    says which are required).  ``languages`` may be a list or one string (``"sv, en"``); ``serves``
    left out keeps the area as it was."""

    name_sv: str | None = None
    name_en: str | None = None
    kind: str | None = None
    topics: list[str] | None = None
    target_groups: list[str] | None = None
    languages: list[str] | str | None = None
    opening_hours: str | None = None
    phone: str | None = None
    emergency_phone: str | None = None
    website: str | None = None
    methods: MethodsForm | None = None
    active: bool | None = None
    serves: AreaForm | None = None

    def form(self) -> dict[str, Any]:
        """The keys the client sent, as the checks read them."""
        return self.model_dump(exclude_unset=True)


class NewRecipientBody(RecipientBody):
    """A new recipient's form: its ``id`` too (lower-case letters, digits and hyphens)."""

    id: str | None = None


class ActiveBody(Revision):
    """Activate or deactivate a recipient."""

    active: bool


class AreaBody(Revision, AreaForm):
    """The area a Kunskapshus serves."""

    def form(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class DirectoryOptionsAnswer(Answer):
    """What the admin page offers: kinds, topics, target groups, methods, counties and Kunskapshus."""

    kinds: list[str]
    topics: list[str]
    target_groups: list[str]
    methods: list[str]
    counties: list[dict[str, Any]]
    kunskapshus: list[dict[str, Any]]


class RecipientsAnswer(Answer):
    """The recipients found (``?q=&kind=&section=&state=``) and the directory's version."""

    recipients: list[dict[str, Any]]
    version: int


class RecipientAnswer(Answer):
    """One recipient as the admin edits it (and, after a change, what the change did)."""

    recipient: dict[str, Any]


class HistoryAnswer(Answer):
    """The directory's audited changes, newest first (``?recipient_id=``)."""

    events: list[dict[str, Any]]


__all__ = [
    "ActiveBody",
    "AreaBody",
    "DirectoryOptionsAnswer",
    "HistoryAnswer",
    "NewRecipientBody",
    "RecipientAnswer",
    "RecipientBody",
    "RecipientsAnswer",
    "Revision",
]
