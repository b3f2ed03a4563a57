"""What the web kit's route-walking tests share: the route table (for parametrizing), the running
console with a signed-in member of staff per role (:class:`World`), and checks of real answers
against the OpenAPI document (:func:`check`).

The world's conversation is held by ``kit_counsellor``; it has a referral and a disclosure
(``World.ids``), and ``kit_other``, another counsellor, holds none of it."""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from gateway.store.models import Role
from handoff.web import Route
from handoff.web.openapi import plain_path, route_table
from tests.handoff.console.conftest import Browser, Console

SOME_HEX = "0123456789abcdef0123456789abcdef"
SAMPLES = {
    "recipient_id": "polisen",
    "version": "v1",
    "correction_id": "1",
    "user_id": "999999",
    "session_id": "0123456789abcdef",
}
# Routes that need no session: the login form, static files, the signed callback of recipients.
PUBLIC = {
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    # The second step of a login: the code of the second factor, or its enrolment (a pending
    # session, like the login form outside the guard; tests/handoff/console/test_second_step.py).
    ("GET", "/console/login/code"),
    ("POST", "/console/login/code"),
    ("GET", "/console/login/enrol"),
    ("POST", "/console/login/enrol"),
    ("GET", "/console/static/{name}"),
    ("GET", "/console/admin-static/{name}"),
    ("POST", "/handoff/callback/referrals/{referral_id}"),
}
ROLES = [r.value for r in Role]
PHONE_SECRET = "kit-phone-secret"
"""The phone system's shared secret (``phone.events_secret``) of the world's gateway."""


class Tracebacks(logging.Handler):
    """Every record logged with an exception, or by aiohttp's "Error handling request"."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info or "Traceback" in text or "Error handling request" in text:
            self.found.append(f"{record.name}: {text}")


@dataclass
class World:
    console: Console
    browsers: dict[str, Browser]
    table: list[Route]
    conversation: str
    tracebacks: Tracebacks
    other: Browser | None = None
    ids: dict[str, str] = field(default_factory=dict)
    statuses: list[tuple[str, int]] = field(default_factory=list)

    def concrete(self, route: Route, **given: str) -> str:
        def sample(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in given:
                return given[name]
            if name == "conversation_id":
                return self.conversation
            return self.ids.get(name) or SAMPLES.get(name, SOME_HEX)

        return re.sub(r"\{([A-Za-z_]+)\}", sample, plain_path(route.path))

    def seen(self, route: Route, status: int) -> int:
        self.statuses.append((f"{route.method} {route.path}", status))
        return status

    def clean(self) -> None:
        assert not [s for s in self.statuses if s[1] >= 500], "a route answered 5xx"
        assert not self.tracebacks.found, self.tracebacks.found


def cookie_for(b: Browser, path: str) -> dict[str, str]:
    """The session cookie, sent by hand outside ``/console`` (where the browser does not send it;
    ``/portal/api/situation`` is for clients that send it themselves)."""
    if path.startswith("/console"):
        return {}
    for cookie in b.http.cookie_jar:
        if cookie.key == "hl_console":
            return {"Cookie": f"hl_console={cookie.value}"}
    return {}


def route_id(route: Route) -> str:
    return f"{route.method} {plain_path(route.path)}"


def allowed(route: Route) -> str:
    for role in ("admin", "supervisor", "counsellor", "municipality"):
        if role in route.roles:
            return role
    raise AssertionError(route)


def _table() -> list[Route]:
    """The table of a gateway built (not started) like the tests' own, for parametrizing."""
    from bots.memory import MemoryAdapter
    from tests.harness import KeywordTriager, build_app, make_settings

    tmp = Path(tempfile.mkdtemp(prefix="webkit-table-"))
    settings = make_settings("sqlite+aiosqlite:///:memory:", tmp)
    app = build_app(
        settings, triager=KeywordTriager(), adapters=[MemoryAdapter(pseudonym_key=settings.pseudonym_key)]
    )
    return route_table(app)


TABLE = _table()

REFERRAL = {
    "recipient_id": "kunskapshus-goteborg",
    "topic": "radicalisation_concern",
    "contact_type": "relative",
    "municipality_code": "1481",
    "summary": "Min bror har börjat umgås med en våldsbejakande grupp.",
    "urgency": "normal",
}
DISCLOSURE = {
    "recipient_id": "polisen",
    "what": "Planerat sprängdåd mot en station.",
    "when": "Nästa vecka",
    "where": "Centralstationen",
    "certainty": "probable",
    "source_seqs": [1],
    "legal_ground": "avert_serious_crime",
}


async def start_world(console: Console, tracebacks: Tracebacks) -> World:
    """Staff of every role signed in; a conversation held by ``kit_counsellor`` with a referral and
    a disclosure; ``kit_other``, a counsellor who holds none of it."""
    browsers = {role: await console.signed_in(f"kit_{role}", role) for role in ROLES}
    conv = await console.person("kit@example.org", "min bror pratar om en rörelse")
    counsellor = browsers["counsellor"]
    assert (await counsellor.claim(conv)).status == 200
    world = World(console, browsers, route_table(console.server.app), conv, tracebacks)
    world.other = await console.signed_in("kit_other", "counsellor")
    resp = await counsellor.post(f"/console/api/conversations/{conv}/referrals", REFERRAL)
    assert resp.status == 201, await resp.text()
    world.ids["referral_id"] = (await resp.json())["referral"]["id"]
    resp = await counsellor.post(f"/console/api/conversations/{conv}/disclosures", DISCLOSURE)
    assert resp.status == 201, await resp.text()
    world.ids["disclosure_id"] = (await resp.json())["disclosure"]["id"]
    return world


# ---------------------------------------------------------------------- answers and the document
def _schema(document: dict[str, Any], op: dict[str, Any], status: int, content_type: str) -> Any:
    responses = op["responses"]
    response = responses.get(str(status)) or responses.get(f"{status // 100}XX") or responses["default"]
    content = response.get("content", {})
    if content_type in content:
        return content[content_type]["schema"]
    assert "*/*" in content, (status, content_type, list(content))
    return None


def check(document: dict[str, Any], op: dict[str, Any], status: int, content_type: str, data: Any) -> None:
    """``data``, the answer of ``status``, fits the operation's answer in the document."""
    schema = _schema(document, op, status, content_type)
    if schema is None:
        return
    jsonschema.Draft202012Validator(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **schema,
            "components": document["components"],
        }
    ).validate(data)


CONV = "/console/api/conversations/{conversation_id}"
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", CONV + "/referrals"): REFERRAL,
    ("POST", CONV + "/disclosures"): DISCLOSURE,
    ("POST", "/console/api/referrals/{referral_id}/consent"): {"consent": True},
    ("POST", "/console/api/referrals/{referral_id}/consent-not-asked"): {"reason": "Personen svarar inte."},
    ("POST", "/console/api/disclosures/{disclosure_id}/phoned"): {
        "number": "114 14",
        "police_reference": "K123456-26",
        "called_at": "2026-01-02T10:00:00+01:00",
        "note": "Lämnat per telefon.",
    },
    ("POST", CONV + "/documentation"): {"values": {}},
}
"""A realistic body for each POST route that reads one, by method and path."""
