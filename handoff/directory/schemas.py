"""The directory admin's answers, for the route table (:data:`handoff.directory.web.ROUTES`) and the
OpenAPI document.  Its POST bodies are checked field by field by :mod:`handoff.directory.checks`
(422 with ``fields``: field -> the code the admin page has words for)."""

from __future__ import annotations

from typing import Any

from handoff.web import Answer


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


__all__ = ["DirectoryOptionsAnswer", "HistoryAnswer", "RecipientAnswer", "RecipientsAnswer"]
