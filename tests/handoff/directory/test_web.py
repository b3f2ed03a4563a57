"""Admins edit the directory of recipients in the console: only admins, every field checked, every
edit audited, and every edit applies to routing proposals and delivery, in every gateway process
sharing the database, also after a restart."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from gateway.store.models import AuditEvent, Role
from handoff.directory import web as directory_admin
from handoff.directory.models import DirectoryOverride
from tests.handoff.conftest import KH_MAIL, Env, Staff
from tests.handoff.referrals.gateway_env import same_person_in, start, stop

API = "/console/api/directory"
GOTEBORG_AREA = [
    "1440",
    "1489",
    "1480",
    "1401",
    "1482",
    "1441",
    "1462",
    "1481",
    "1402",
    "1415",
    "1419",
    "1407",
]
POLICE_MAIL = "tips@polisen.example"


@pytest.fixture
async def gw(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    env = await start(sqlite_url, tmp_path)
    try:
        yield env
    finally:
        await stop(env)


async def proposed(staff: Staff, code: str | None, topic: str, contact_type: str = "relative") -> list[str]:
    query = f"topic={topic}&contact_type={contact_type}" + (f"&municipality={code}" if code else "")
    status, data = await staff.get(f"/console/api/handoff/proposals?{query}")
    assert status == 200, data
    return [p["recipient_id"] for p in data["proposals"]]


async def detail(admin: Staff, rid: str) -> dict[str, Any]:
    status, data = await admin.get(f"{API}/recipients/{rid}")
    assert status == 200, data
    recipient: dict[str, Any] = data["recipient"]
    return recipient


def form(r: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The edit form as the page sends it, filled from a recipient's detail."""
    body = {
        "name_sv": r["name_sv"],
        "name_en": r["name_en"],
        "kind": r["kind"],
        "topics": r["topics"],
        "target_groups": r["target_groups"],
        "languages": ", ".join(r["languages"]),
        "opening_hours": r["opening_hours"],
        "phone": r["phone"],
        "emergency_phone": r["emergency_phone"],
        "website": r["website"],
        "methods": dict(r["form_methods"]),
        "revision": r["revision"],
    }
    methods = changes.pop("methods", None)
    if methods is not None:
        body["methods"].update(methods)
    body.update(changes)
    return body


async def edit(admin: Staff, rid: str, **changes: Any) -> tuple[int, dict[str, Any]]:
    return await admin.post(f"{API}/recipients/{rid}", form(await detail(admin, rid), **changes))


async def directory_events(env: Env) -> list[AuditEvent]:
    return [e for e in await env.audit() if e.action.startswith("directory.")]


def concrete(path: str) -> str:
    return re.sub(r"\{recipient_id:[^}]*\}", "kunskapshus-goteborg", path.replace("{0,63}", ""))


# ---------------------------------------------------------------------------------- who may
async def test_only_admins_may_use_any_directory_route(gw: Env) -> None:
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    others = [await gw.signed_in(f"u_{r.value}", r.value) for r in Role if r is not Role.ADMIN]
    assert len(directory_admin.ROUTES) >= 10
    for route in directory_admin.ROUTES:
        path = concrete(route.path)
        assert route.roles == {"admin"}, route.path
        for staff in others:
            headers = {"Cookie": f"hl_console={staff.token}", "X-CSRF-Token": staff.csrf}
            async with gw.http.request(
                route.method, gw.url(path), json={}, headers=headers, allow_redirects=False
            ) as resp:
                assert resp.status == 403, (route.method, path, staff.user.role, resp.status)
        async with gw.http.request(route.method, gw.url(path), json={}, allow_redirects=False) as resp:
            assert resp.status in (401, 303), (route.method, path)  # no session: refused (or to login)
        if route.method == "POST":  # an admin without the CSRF token
            async with gw.http.post(
                gw.url(path), json={}, headers={"Cookie": f"hl_console={admin.token}"}, allow_redirects=False
            ) as resp:
                assert resp.status == 403, path
    assert await directory_events(gw) == []


async def test_the_page_and_its_script(gw: Env) -> None:
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    cookie = {"Cookie": f"hl_console={admin.token}"}
    async with gw.http.get(gw.url("/console/directory"), headers=cookie) as resp:
        assert resp.status == 200
        html = await resp.text()
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "Mottagarkatalog" in html and '<script src="/console/static/directory_admin.js"></script>' in html
    inline = [
        s for s in re.findall(r"<script([^>]*)>", html) if "src=" not in s and "application/json" not in s
    ]
    assert inline == []  # the CSP forbids inline scripts
    async with gw.http.get(gw.url("/console/directory?lang=en"), headers=cookie) as resp:
        assert "Directory of recipients" in await resp.text()
    async with gw.http.get(gw.url("/console/static/directory_admin.js")) as resp:
        assert resp.status == 200 and "innerHTML" not in await resp.text()
    supervisor = await gw.signed_in("sam", Role.SUPERVISOR.value)
    async with gw.http.get(
        gw.url("/console/supervisor"), headers={"Cookie": f"hl_console={admin.token}"}
    ) as resp:
        assert 'href="/console/directory"' in await resp.text()  # admins find the page
    async with gw.http.get(
        gw.url("/console/supervisor"), headers={"Cookie": f"hl_console={supervisor.token}"}
    ) as resp:
        assert 'href="/console/directory"' not in await resp.text()


# ---------------------------------------------------------------------------------- list and search
async def test_list_and_search(gw: Env) -> None:
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    status, data = await admin.get(f"{API}/recipients")
    assert status == 200
    all_ids = [r["id"] for r in data["recipients"]]
    assert len(all_ids) == 13 + 4 + 290 and "polisen" in all_ids and "socialtjanst-2584" in all_ids
    _, data = await admin.get(f"{API}/recipients?q=goteborg")
    assert {r["id"] for r in data["recipients"]} >= {"kunskapshus-goteborg", "socialtjanst-1480"}
    _, data = await admin.get(f"{API}/recipients?q=Kiruna")
    assert [r["id"] for r in data["recipients"]] == ["socialtjanst-2584"]
    _, data = await admin.get(f"{API}/recipients?section=kunskapshus")
    assert len(data["recipients"]) == 4 and all(r["area_size"] for r in data["recipients"])
    _, data = await admin.get(f"{API}/recipients?kind=civil_society&q=fryshuset")
    assert {r["id"] for r in data["recipients"]} == {"exit-fryshuset", "passus-fryshuset"}
    police = await detail(admin, "polisen")
    assert police["required"] is True and police["form_methods"]["webhook"].endswith("/polisen")
    assert police["webhook_secret"] is True and police["portal_available"] is False
    status, data = await admin.get(f"{API}/recipients/no-such-one")
    assert (status, data["error"]) == (404, "not_found")


# ---------------------------------------------------------------------------------- edits route
async def test_an_admin_edit_changes_the_routing_proposals(gw: Env) -> None:
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    counsellor = await gw.signed_in("cora")
    assert (await proposed(counsellor, "2584", "exit", "person_leaving"))[:2] == [
        "socialtjanst-2584",
        "exit-fryshuset",
    ]

    status, data = await edit(admin, "exit-fryshuset", topics=["radicalisation_concern"])
    assert status == 200, data
    assert data["recipient"]["topics"] == ["radicalisation_concern"] and data["recipient"]["edited"] is True
    assert "exit-fryshuset" not in await proposed(counsellor, "2584", "exit", "person_leaving")

    new = {
        "id": "avhopparstod-norr",
        "name_sv": "Avhopparstöd Norr",
        "name_en": "Exit support North",
        "kind": "civil_society",
        "topics": ["exit"],
        "target_groups": ["person_leaving"],
        "languages": "sv, se",
        "opening_hours": "mon-fri 09-17",
        "phone": "0980-123 45",
        "website": "https://avhopp.example",
        "methods": {"email": "kontakt@avhopp.example"},
    }
    status, data = await admin.post(f"{API}/recipients", new)
    assert status == 201, data
    assert data["recipient"]["added"] is True and data["recipient"]["languages"] == ["sv", "se"]
    status, data = await counsellor.get(
        "/console/api/handoff/proposals?topic=exit&contact_type=person_leaving&municipality=2584"
    )
    added = next(p for p in data["proposals"] if p["recipient_id"] == "avhopparstod-norr")
    assert added["methods"] == ["email"] and added["phone"] == "0980-123 45"

    r = await detail(admin, "avhopparstod-norr")
    status, data = await admin.post(
        f"{API}/recipients/avhopparstod-norr/active", {"active": False, "revision": r["revision"]}
    )
    assert status == 200 and data["recipient"]["active"] is False
    assert "avhopparstod-norr" not in await proposed(counsellor, "2584", "exit", "person_leaving")
    _, data = await admin.get(f"{API}/recipients?state=inactive")
    assert [x["id"] for x in data["recipients"]] == ["avhopparstod-norr"]
    conv_id = await gw.conversation_held_by(counsellor, "anna@example.org", "Min son vill lämna rörelsen")
    status, data = await counsellor.post(
        f"/console/api/conversations/{conv_id}/referrals",
        {"recipient_id": "avhopparstod-norr", "topic": "exit", "summary": "Vill lämna."},
    )
    assert (status, data["error"]) == (422, "unknown_recipient")  # an inactive recipient takes nothing new

    # Kungsbacka (1384) leaves Göteborg's area and joins Stockholm's.
    assert (await proposed(counsellor, "1384", "radicalisation_concern"))[0] == "kunskapshus-goteborg"
    house = await detail(admin, "kunskapshus-goteborg")
    assert "1384" in house["serves"]["municipalities"] and len(house["serves"]["area"]) == 13
    status, data = await admin.post(
        f"{API}/kunskapshus/kunskapshus-goteborg/area",
        {"counties": [], "municipalities": GOTEBORG_AREA, "revision": house["revision"]},
    )
    assert status == 200, data
    assert len(data["recipient"]["serves"]["area"]) == 12
    assert not any(
        r.startswith("kunskapshus-") for r in await proposed(counsellor, "1384", "radicalisation_concern")
    )
    assert (await proposed(counsellor, "1481", "radicalisation_concern"))[0] == "kunskapshus-goteborg"
    stockholm = await detail(admin, "kunskapshus-stockholm")
    status, data = await admin.post(
        f"{API}/kunskapshus/kunskapshus-stockholm/area",
        {"counties": ["01"], "municipalities": ["1384"], "revision": stockholm["revision"]},
    )
    assert status == 200, data
    assert (await proposed(counsellor, "1384", "radicalisation_concern"))[0] == "kunskapshus-stockholm"

    # Returned to the shipped data, Exit Fryshuset is proposed again.
    r = await detail(admin, "exit-fryshuset")
    status, data = await admin.post(f"{API}/recipients/exit-fryshuset/reset", {"revision": r["revision"]})
    assert status == 200 and data["recipient"]["edited"] is False
    assert "exit-fryshuset" in await proposed(counsellor, "2584", "exit", "person_leaving")


async def test_an_admins_email_address_delivers_referrals(gw: Env) -> None:
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    counsellor = await gw.signed_in("cora")
    status, data = await edit(admin, "exit-fryshuset", methods={"email": "mottagning@exit.example"})
    assert status == 200, data
    conv_id = await gw.conversation_held_by(counsellor, "anna@example.org", "Min son vill lämna rörelsen")
    status, data = await counsellor.post(
        f"/console/api/conversations/{conv_id}/referrals",
        {
            "recipient_id": "exit-fryshuset",
            "topic": "exit",
            "contact_type": "relative",
            "summary": "En förälder vars son vill lämna en rörelse.",
        },
    )
    assert status == 201, data
    rid = data["referral"]["id"]
    status, _ = await counsellor.post(f"/console/api/referrals/{rid}/consent", {"consent": True})
    assert status == 200
    mail = (await gw.until(lambda: gw.mailbox.to("mottagning@exit.example")))[0]
    assert "En förälder vars son vill lämna en rörelse." in mail.get_content()


# ---------------------------------------------------------------------------------- bad input
async def test_invalid_input_gives_field_errors_and_changes_nothing(gw: Env) -> None:
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    counsellor = await gw.signed_in("cora")
    before = await proposed(counsellor, "1480", "radicalisation_concern")
    police = await detail(admin, "polisen")

    async def refused(path: str, body: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
        status, data = await admin.post(path, body)
        assert status == 422, (body, status, data)
        assert data["error"] == "invalid_input" and data["fields"] == fields, data
        answer: dict[str, Any] = data
        return answer

    one = f"{API}/recipients/polisen"
    await refused(one, form(police, methods={"email": "tips(at)polisen"}), {"email": "invalid_email"})
    await refused(
        one,
        form(police, methods={"webhook": "http://polisen.example/hook"}),
        {"webhook": "webhook_not_https"},
    )
    await refused(one, form(police, methods={"webhook": "polisen.example"}), {"webhook": "invalid_url"})
    await refused(one, form(police, topics=["crime", "terror"]), {"topics": "unknown_topic"})
    await refused(one, form(police, topics=[]), {"topics": "required"})
    await refused(one, form(police, target_groups=["children"]), {"target_groups": "unknown_target_group"})
    await refused(
        one, form(police, opening_hours="weekdays 8 to 4"), {"opening_hours": "invalid_opening_hours"}
    )
    await refused(one, form(police, phone="ring mig"), {"phone": "invalid_phone"})
    await refused(one, form(police, languages="svenska"), {"languages": "invalid_language"})
    await refused(one, form(police, website="polisen.se"), {"website": "invalid_url"})
    await refused(one, form(police, name_sv="  "), {"name_sv": "required"})
    await refused(one, form(police, name_en="x" * 201), {"name_en": "too_long"})
    await refused(one, form(police, kind="company"), {"kind": "unknown_kind"})
    await refused(one, form(police, active=False), {"active": "required_recipient"})
    await refused(one, form(police, topics="crime"), {"topics": "invalid"})
    # Several problems at once are all named.
    await refused(
        one,
        form(police, topics=["terror"], methods={"email": "nope"}),
        {"topics": "unknown_topic", "email": "invalid_email"},
    )
    bris = await detail(admin, "bris")
    await refused(
        f"{API}/recipients/bris",
        form(bris, methods={"webhook": "https://bris.example/hook"}),
        {"webhook": "webhook_needs_secret"},
    )
    await refused(
        f"{API}/recipients/bris", form(bris, methods={"portal": True}), {"portal": "portal_not_available"}
    )
    house = await detail(admin, "kunskapshus-goteborg")
    await refused(f"{API}/recipients/kunskapshus-goteborg", form(house, kind="state"), {"kind": "kind_fixed"})
    await refused(
        f"{API}/recipients/polisen/active", {"active": False, "revision": 0}, {"active": "required_recipient"}
    )

    new = form(bris, name_sv="Ny", name_en="New")
    await refused(f"{API}/recipients", {**new, "id": "Ny Org!"}, {"id": "invalid_id"})
    await refused(f"{API}/recipients", {**new, "id": "polisen"}, {"id": "id_taken"})
    await refused(f"{API}/recipients", {**new, "id": "socialtjanst-9999"}, {"id": "id_reserved"})
    await refused(f"{API}/recipients", {**new, "id": "ny-org", "kind": "company"}, {"kind": "unknown_kind"})

    area = f"{API}/kunskapshus/kunskapshus-goteborg/area"
    data = await refused(
        area, {"counties": ["01"], "municipalities": [], "revision": 0}, {"municipalities": "area_overlap"}
    )
    assert "Kunskapshus Stockholm" in data["detail"] and "0180 Stockholm" in data["detail"]
    await refused(
        area, {"counties": [], "municipalities": [], "revision": 0}, {"municipalities": "area_empty"}
    )
    await refused(
        area,
        {"counties": [], "municipalities": ["9999"], "revision": 0},
        {"municipalities": "unknown_municipality"},
    )
    await refused(
        area, {"counties": ["99"], "municipalities": [], "revision": 0}, {"counties": "unknown_county"}
    )
    status, data = await admin.post(f"{API}/kunskapshus/polisen/area", {"counties": ["01"]})
    assert status == 404
    status, data = await admin.post(f"{API}/recipients/polisen", ["not", "an", "object"])
    assert status == 400 and "Traceback" not in str(data)

    # Nothing was stored, audited or changed.
    assert await directory_events(gw) == []
    async with gw.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(DirectoryOverride)) == 0
    assert await proposed(counsellor, "1480", "radicalisation_concern") == before
    assert (await detail(admin, "polisen"))["form_methods"] == police["form_methods"]


# ---------------------------------------------------------------------------------- the audit
async def test_the_audit_shows_each_edit(gw: Env) -> None:
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    status, _ = await edit(admin, "bris", opening_hours="24/7", website="https://www.bris.se/stod")
    assert status == 200
    status, data = await edit(admin, "bris", phone="116 112")
    assert status == 200 and data["revision"] == 2
    # A form opened before the last save is refused, not silently overwriting it.
    status, data = await admin.post(
        f"{API}/recipients/bris", {**form(await detail(admin, "bris"), phone="116 113"), "revision": 1}
    )
    assert (status, data["error"]) == (409, "edited_meanwhile")
    r = await detail(admin, "bris")
    await admin.post(f"{API}/recipients/bris/active", {"active": False, "revision": r["revision"]})
    house = await detail(admin, "kunskapshus-goteborg")
    await admin.post(
        f"{API}/kunskapshus/kunskapshus-goteborg/area",
        {"counties": [], "municipalities": GOTEBORG_AREA, "revision": house["revision"]},
    )
    r = await detail(admin, "bris")
    await admin.post(f"{API}/recipients/bris/reset", {"revision": r["revision"]})

    events = await directory_events(gw)
    assert [e.action for e in events] == [
        "directory.recipient_updated",
        "directory.recipient_updated",
        "directory.recipient_deactivated",
        "directory.area_updated",
        "directory.recipient_reset",
    ]
    assert all(e.actor == "ada" and e.actor_id == admin.user.id for e in events)
    first = events[0].details
    assert first["recipient_id"] == "bris" and first["changed"] == ["website"]  # the hours were the same
    assert (first["before"]["website"], first["after"]["website"]) == (
        "https://www.bris.se",
        "https://www.bris.se/stod",
    )
    assert events[1].details["changed"] == ["phone"]
    assert (events[1].details["before"]["phone"], events[1].details["after"]["phone"]) == (
        "116 111",
        "116 112",
    )
    assert (events[2].details["before"]["active"], events[2].details["after"]["active"]) == (True, False)
    area = events[3].details
    assert (
        "1384" in area["before"]["serves"]["municipalities"]
        and "1384" not in area["after"]["serves"]["municipalities"]
    )
    reset = events[4].details
    assert reset["before"]["phone"] == "116 112" and reset["after"]["phone"] == "116 111"
    assert reset["after"]["active"] is True

    status, data = await admin.get(f"{API}/history?recipient_id=bris")
    assert status == 200 and [e["action"] for e in data["events"]] == [
        "directory.recipient_reset",
        "directory.recipient_deactivated",
        "directory.recipient_updated",
        "directory.recipient_updated",
    ]
    supervisor = await gw.signed_in("sam", "supervisor")
    _, audit = await supervisor.get("/console/api/audit")
    assert sum(e["action"].startswith("directory.") for e in audit["events"]) == 5


async def test_a_single_gateway_reads_the_directory_without_asking_the_store_for_its_version(gw: Env) -> None:
    """One process on SQLite: every edit is its own, so a read does not first compare the stored
    version (one statement fewer on every referral and disclosure panel refresh); an edit still
    applies to the very next request."""
    counsellor = await gw.signed_in("cora")
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = gw.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert "exit-fryshuset" in await proposed(counsellor, "2584", "exit", "person_leaving")
        assert not [s for s in statements if "directory_version" in s]
        status, data = await edit(admin, "exit-fryshuset", topics=["radicalisation_concern"])
        assert status == 200, data
        assert "exit-fryshuset" not in await proposed(counsellor, "2584", "exit", "person_leaving")
    finally:
        event.remove(engine, "before_cursor_execute", seen)


# ---------------------------------------------------------------------------------- every process
@pytest.mark.postgres
async def test_edits_reach_a_second_gateway_and_survive_a_restart(pg_url: str, tmp_path: Path) -> None:
    """Two gateways on one PostgreSQL database (no shared broker): an admin's edit in one applies to
    proposals and to the delivery of crime information in the other, and after a restart."""
    one = await start(pg_url, tmp_path)
    two = await start(pg_url, tmp_path)
    try:
        admin = await one.signed_in("ada", Role.ADMIN.value)
        counsellor = await one.signed_in("cora")
        supervisor = await one.signed_in("siv", "supervisor")
        counsellor_two = await same_person_in(two, counsellor)
        supervisor_two = await same_person_in(two, supervisor)
        assert "exit-fryshuset" in await proposed(counsellor_two, "2584", "exit", "person_leaving")

        status, data = await edit(admin, "exit-fryshuset", topics=["radicalisation_concern"])
        assert status == 200, data
        status, data = await edit(admin, "polisen", methods={"webhook": "", "email": POLICE_MAIL})
        assert status == 200, data
        # The very next request in the other gateway sees both edits.
        assert "exit-fryshuset" not in await proposed(counsellor_two, "2584", "exit", "person_leaving")
        status, data = await counsellor_two.get(
            "/console/api/handoff/proposals?topic=crime&contact_type=relative"
        )
        assert next(p for p in data["proposals"] if p["recipient_id"] == "polisen")["methods"] == ["email"]

        conv_id = await two.conversation_held_by(counsellor_two, "per@example.org", "De ska spränga bron")
        status, data = await counsellor_two.post(
            f"/console/api/conversations/{conv_id}/disclosures",
            {
                "recipient_id": "polisen",
                "what": "Planerat sprängdåd mot en bro.",
                "certainty": "probable",
                "source_seqs": [1],
                "legal_ground": "avert_serious_crime",
            },
        )
        assert status == 201, data
        status, _ = await supervisor_two.post(f"/console/api/disclosures/{data['disclosure']['id']}/approve")
        assert status == 200
        mail = (await two.until(lambda: two.mailbox.to(POLICE_MAIL)))[0]
        assert "Planerat sprängdåd mot en bro." in mail.get_content()
        assert two.receiver.of("/polisen") == []  # the webhook the admin removed is not used
    finally:
        await stop(one)
        await stop(two)

    three = await start(pg_url, tmp_path)  # a restart
    try:
        counsellor_three = await same_person_in(three, counsellor)
        assert "exit-fryshuset" not in await proposed(counsellor_three, "2584", "exit", "person_leaving")
        admin_three = await same_person_in(three, admin)
        assert (await detail(admin_three, "polisen"))["form_methods"]["email"] == POLICE_MAIL
    finally:
        await stop(three)


# ---------------------------------------------------------------------------------- local recipients
async def test_an_added_municipal_recipient_with_an_area_is_proposed_locally(gw: Env) -> None:
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    counsellor = await gw.signed_in("cora")
    new = {
        "id": "orosradgivning-goteborg",
        "name_sv": "Orosrådgivningen, Göteborgs stad",
        "name_en": "Concern counselling, City of Gothenburg",
        "kind": "municipal",
        "topics": ["radicalisation_concern", "exit"],
        "target_groups": ["any"],
        "languages": "sv, en",
        "opening_hours": "mon-fri 08-16",
        "phone": "031-365 00 00",
        "website": "",
        "methods": {"email": "oro@goteborg.example"},
    }
    # A municipal recipient without an area could never be proposed: refused, nothing stored.
    status, data = await admin.post(f"{API}/recipients", new)
    assert (status, data["fields"]) == (422, {"area": "area_required"})
    status, data = await admin.post(
        f"{API}/recipients", {**new, "serves": {"counties": ["99"], "municipalities": []}}
    )
    assert (status, data["fields"]) == (422, {"counties": "unknown_county"})
    assert await directory_events(gw) == []

    status, data = await admin.post(
        f"{API}/recipients", {**new, "serves": {"counties": [], "municipalities": ["1480", "1481"]}}
    )
    assert status == 201, data
    added = data["recipient"]
    assert added["area_editable"] == "entry" and added["area_size"] == 2
    assert [m["code"] for m in added["serves"]["area"]] == ["1480", "1481"]

    # Göteborg: after the Kunskapshus and the social services, in the local tier.
    status, data = await counsellor.get(
        "/console/api/handoff/proposals?topic=radicalisation_concern&contact_type=relative&municipality=1480"
    )
    assert status == 200
    first = [(p["recipient_id"], p["tier"]) for p in data["proposals"][:3]]
    assert first == [
        ("kunskapshus-goteborg", 2),
        ("socialtjanst-1480", 2),
        ("orosradgivning-goteborg", 2),
    ]
    assert data["proposals"][2]["methods"] == ["email"] and data["proposals"][2]["phone"] == "031-365 00 00"
    # Not outside its area, nor when no municipality is given.
    assert "orosradgivning-goteborg" not in await proposed(counsellor, "1280", "radicalisation_concern")
    assert "orosradgivning-goteborg" not in await proposed(counsellor, None, "radicalisation_concern")

    # The area is edited with the entry: Mölndal out, Partille in.
    r = await detail(admin, "orosradgivning-goteborg")
    status, data = await admin.post(
        f"{API}/recipients/orosradgivning-goteborg",
        {**form(r), "serves": {"counties": [], "municipalities": ["1480", "1402"]}},
    )
    assert status == 200, data
    assert "orosradgivning-goteborg" not in await proposed(counsellor, "1481", "radicalisation_concern")
    assert "orosradgivning-goteborg" in await proposed(counsellor, "1402", "exit")
    # A form without the area keeps it.
    status, data = await edit(admin, "orosradgivning-goteborg", phone="031-365 00 01")
    assert status == 200 and data["recipient"]["serves"]["municipalities"] == ["1402", "1480"]
    events = await directory_events(gw)
    assert [e.action for e in events] == [
        "directory.recipient_created",
        "directory.recipient_updated",
        "directory.recipient_updated",
    ]
    assert events[1].details["changed"] == ["serves"]
    assert events[1].details["after"]["serves"] == {"counties": [], "municipalities": ["1402", "1480"]}

    # Deactivated, it is no longer proposed.
    r = await detail(admin, "orosradgivning-goteborg")
    status, _ = await admin.post(
        f"{API}/recipients/orosradgivning-goteborg/active", {"active": False, "revision": r["revision"]}
    )
    assert status == 200
    assert "orosradgivning-goteborg" not in await proposed(counsellor, "1480", "radicalisation_concern")

    # A civil-society organisation given an area becomes local: proposed in Kiruna, not in Malmö.
    status, data = await edit(admin, "exit-fryshuset", serves={"counties": ["25"], "municipalities": []})
    assert status == 200, data
    # Both local now; which comes first depends on the hour (an office open now before a closed one).
    assert sorted((await proposed(counsellor, "2584", "exit", "person_leaving"))[:2]) == [
        "exit-fryshuset",
        "socialtjanst-2584",
    ]
    assert "exit-fryshuset" not in await proposed(counsellor, "1280", "exit", "person_leaving")
    # Taken away again (empty lists): national again.
    status, data = await edit(admin, "exit-fryshuset", serves={"counties": [], "municipalities": []})
    assert status == 200 and data["recipient"]["serves"] is None
    assert "exit-fryshuset" in await proposed(counsellor, "1280", "exit", "person_leaving")
    # The recipients of crime information serve the whole country.
    status, data = await edit(admin, "polisen", serves={"counties": ["14"], "municipalities": []})
    assert (status, data["fields"]) == (422, {"area": "area_not_for_required"})


# ---------------------------------------------------------------------------------- deactivated later
async def test_a_referral_consented_to_is_delivered_after_its_recipient_is_deactivated(gw: Env) -> None:
    """Consent was given to share with Kunskapshus Göteborg; an admin deactivating it meanwhile
    stops new referrals to it, not this one: it is delivered by every method, audited, and the
    unit's portal still shows it under the unit's name."""
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    counsellor = await gw.signed_in("cora")
    house = await gw.signed_in("kh.goteborg", "municipality", municipality="KH1480")
    conv_id = await gw.conversation_held_by(counsellor, "anna@example.org", "Min son radikaliseras")
    status, data = await counsellor.post(
        f"/console/api/conversations/{conv_id}/referrals",
        {
            "recipient_id": "kunskapshus-goteborg",
            "topic": "radicalisation_concern",
            "municipality_code": "1480",
            "summary": "En förälder orolig för sin son.",
        },
    )
    assert status == 201, data
    rid = data["referral"]["id"]
    status, _ = await counsellor.post(f"/console/api/referrals/{rid}/consent-request")
    assert status == 200

    r = await detail(admin, "kunskapshus-goteborg")
    status, _ = await admin.post(
        f"{API}/recipients/kunskapshus-goteborg/active", {"active": False, "revision": r["revision"]}
    )
    assert status == 200
    status, data = await counsellor.post(f"/console/api/referrals/{rid}/consent", {"consent": True})
    assert status == 200 and data["referral"]["status"] == "sent"

    hook = (await gw.until(lambda: gw.receiver.of("/kunskapshus")))[0]
    assert hook.json()["reference"] == rid
    mail = (await gw.until(lambda: gw.mailbox.to(KH_MAIL)))[0]
    assert "En förälder orolig för sin son." in mail.get_content()

    async def delivered() -> dict[str, Any] | None:
        _, data = await counsellor.get(f"/console/api/referrals/{rid}")
        delivery: dict[str, Any] = data["referral"]["delivery"]
        done = all((delivery.get(m) or {}).get("delivered") for m in ("portal", "email", "webhook"))
        return delivery if done else None

    assert await gw.until(delivered)
    events = await gw.audit(conv_id)
    sent = next(e for e in events if e.action == "referral.sent")
    assert sent.details["recipient_active"] is False
    assert sorted(sent.details["methods"]) == ["email", "portal", "webhook"]
    assert sorted(e.details["method"] for e in events if e.action == "referral.delivered") == [
        "email",
        "webhook",
    ]

    # The unit's portal: the referral, under the unit's name although it is inactive.
    status, data = await house.get("/console/portal/api/referrals")
    assert status == 200 and [x["id"] for x in data["referrals"]] == [rid]
    status, data = await house.get("/console/portal/api/me")
    assert status == 200
    assert data["units"] == [
        {
            "id": "kunskapshus-goteborg",
            "name": {"sv": "Kunskapshus Göteborg", "en": "Gothenburg Knowledge Centre"},
            "active": False,
        }
    ]
    # A new referral to it is refused.
    status, data = await counsellor.post(
        f"/console/api/conversations/{conv_id}/referrals",
        {"recipient_id": "kunskapshus-goteborg", "topic": "exit", "summary": "Till."},
    )
    assert (status, data["error"]) == (422, "unknown_recipient")


async def test_a_deactivated_social_services_unit_keeps_its_name_in_the_portal(gw: Env) -> None:
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    unit = await gw.signed_in("soc.goteborg", "municipality", municipality="1480")
    status, data = await unit.get("/console/portal/api/me")
    assert data["units"][0]["name"]["sv"] == "Socialtjänsten, Göteborg" and data["units"][0]["active"]
    r = await detail(admin, "socialtjanst-1480")
    status, _ = await admin.post(
        f"{API}/recipients/socialtjanst-1480/active", {"active": False, "revision": r["revision"]}
    )
    assert status == 200
    status, data = await unit.get("/console/portal/api/me")
    assert status == 200
    assert data["units"] == [
        {
            "id": "1480",
            "name": {"sv": "Socialtjänsten, Göteborg", "en": "Social services, Göteborg"},
            "active": False,
        }
    ]


async def test_a_conversation_referred_to_an_added_recipient_can_be_documented(gw: Env) -> None:
    """The documentation form knows the recipients of the current directory (an admin's added one,
    also after it was deactivated) and counts a local one as local support."""
    admin = await gw.signed_in("ada", Role.ADMIN.value)
    counsellor = await gw.signed_in("cora")
    status, data = await admin.post(
        f"{API}/recipients",
        {
            "id": "avhopparstod-vast",
            "name_sv": "Avhopparstöd Väst",
            "name_en": "Exit support West",
            "kind": "civil_society",
            "topics": ["exit"],
            "target_groups": ["any"],
            "languages": "sv",
            "opening_hours": "mon-fri 09-17",
            "phone": "",
            "website": "",
            "methods": {"email": "kontakt@avhopp-vast.example"},
            "serves": {"counties": ["14"], "municipalities": []},
        },
    )
    assert status == 201, data
    conv_id = await gw.conversation_held_by(counsellor, "anna@example.org", "Min son vill lämna rörelsen")
    status, data = await counsellor.post(
        f"/console/api/conversations/{conv_id}/referrals",
        {
            "recipient_id": "avhopparstod-vast",
            "topic": "exit",
            "municipality_code": "1480",
            "summary": "Sonen vill lämna.",
        },
    )
    assert status == 201, data
    status, _ = await counsellor.post(
        f"/console/api/referrals/{data['referral']['id']}/consent", {"consent": True}
    )
    assert status == 200
    r = await detail(admin, "avhopparstod-vast")
    status, _ = await admin.post(
        f"{API}/recipients/avhopparstod-vast/active", {"active": False, "revision": r["revision"]}
    )
    assert status == 200
    status, _ = await counsellor.post(f"/console/api/conversations/{conv_id}/close", {"reason": "done"})
    assert status == 200

    status, form_data = await counsellor.get(f"/console/api/conversations/{conv_id}/documentation")
    assert status == 200, form_data
    values = form_data["values"]
    assert values["referral_recipients"] == ["avhopparstod-vast"] and values["referral_made"] is True
    assert "local_support" in values["advice_given"]
    record = {
        "contact_type": "relative",
        "relation": "parent",
        "environment": "violent_right_wing",
        "age_group": "15_17",
        "gender": "male",
        "municipality": "1480",
        "crime_information_passed": False,
        "summary": "Förälder vars son vill lämna en rörelse.",
        **values,
        "outcome": "referred",
    }
    status, data = await counsellor.post(
        f"/console/api/conversations/{conv_id}/documentation", {"values": record}
    )
    assert status == 200, data
    assert data["state"] == "documented"
