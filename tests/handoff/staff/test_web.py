"""Issue 17, item 10: admins manage staff accounts at /console/staff.  A disabled account cannot sign
in and its sessions end at once, live socket included; a municipality account's code is checked
against the directory; a counsellor's capacity can be changed; the second factor can be reset;
every change is audited."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from sqlalchemy import select

from gateway import catalogues
from gateway.store.models import AuditEvent
from handoff.shift.models import StaffPresence
from tests.handoff.console.conftest import Browser, Console
from tests.handoff.console.test_live import next_of


async def accounts(admin: Browser) -> dict[str, dict[str, Any]]:
    resp = await admin.get("/console/api/staff")
    assert resp.status == 200
    return {u["username"]: u for u in (await resp.json())["users"]}


async def actions(console: Console) -> list[str]:
    async with console.db.session() as session:
        rows = await session.execute(select(AuditEvent.action).where(AuditEvent.action.like("user.%")))
        return [r[0] for r in rows]


async def test_the_admin_page_lists_accounts_and_is_for_admins_only(console: Console) -> None:
    admin = await console.signed_in("ada", "admin")
    sup = await console.signed_in("sara", "supervisor")
    page = await admin.get("/console/staff")
    assert page.status == 200
    html = await page.text()
    assert "Personalkonton" in html and 'id="st-confirm"' in html and "<dialog" in html
    listed = await accounts(admin)
    assert listed["sara"]["role"] == "supervisor" and listed["sara"]["second_factor"] is True
    assert listed["sara"]["active"] and listed["sara"]["last_login_at"]
    assert (await sup.get("/console/staff")).status == 403
    assert (await sup.get("/console/api/staff")).status == 403


async def test_create_checks_the_municipality_code_against_the_directory(console: Console) -> None:
    admin = await console.signed_in("ada", "admin")
    bad = await admin.post(
        "/console/api/staff", {"username": "kim", "role": "municipality", "municipality_code": "9999"}
    )
    assert bad.status == 422
    assert await bad.json() == {
        "error": "unknown_municipality",
        "fields": {"municipality_code": "unknown_municipality"},
    }
    missing = await admin.post("/console/api/staff", {"username": "kim", "role": "municipality"})
    assert (await missing.json())["error"] == "municipality_required"
    made = await admin.post(
        "/console/api/staff", {"username": "kim", "role": "municipality", "municipality_code": "1480"}
    )
    assert made.status == 201
    answer = await made.json()
    assert answer["user"]["municipality_code"] == "1480" and len(answer["password"]) >= 12
    kh = await admin.post(
        "/console/api/staff",
        {"username": "kh", "role": "municipality", "municipality_code": "kunskapshus-orebro"},
    )
    assert kh.status == 201
    twice = await admin.post("/console/api/staff", {"username": "kim", "role": "counsellor"})
    assert twice.status == 409 and (await twice.json())["error"] == "user_exists"
    # The password the admin was shown signs the new user in.
    kim = console.browser()
    assert (await kim.login("kim", answer["password"])).headers["Location"] == "/console/portal"
    assert "user.created" in await actions(console)


async def test_a_counsellors_capacity_can_be_changed(console: Console) -> None:
    admin = await console.signed_in("ada", "admin")
    cora = await console.signed_in("cora", capacity=3)
    assert (await (await cora.get("/console/api/queue")).json())["capacity"] == 3
    cora_id = (await accounts(admin))["cora"]["id"]
    edited = await admin.post(f"/console/api/staff/{cora_id}/edit", {"capacity": 5, "display_name": "Cora C"})
    assert edited.status == 200
    assert (await edited.json())["user"]["capacity"] == 5
    queue = await (await cora.get("/console/api/queue")).json()
    assert queue["capacity"] == 5
    bad = await admin.post(f"/console/api/staff/{cora_id}/edit", {"capacity": 500})
    assert bad.status == 422
    # A counsellor made a municipality user must name a known area.
    wrong = await admin.post(
        f"/console/api/staff/{cora_id}/edit", {"role": "municipality", "municipality_code": "12"}
    )
    assert (await wrong.json())["error"] == "unknown_municipality"
    async with console.db.session() as session:
        edits = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "user.edited")))
            .scalars()
            .all()
        )
    assert [e.details["changed"]["capacity"] for e in edits] == [{"before": 3, "after": 5}]


async def test_disabling_ends_the_sessions_and_the_live_socket_at_once(console_any_db: Console) -> None:
    console = console_any_db
    admin = await console.signed_in("ada", "admin")
    cora = await console.signed_in("cora")
    cora_id = (await accounts(admin))["cora"]["id"]
    async with cora.http.ws_connect(cora.base + "/console/ws", headers={"Origin": cora.base}) as ws:
        await next_of(ws, "queue")
        resp = await admin.post(f"/console/api/staff/{cora_id}/disable")
        assert resp.status == 200 and (await resp.json())["user"]["active"] is False
        async with asyncio.timeout(2):  # this process closes it at once, not at the next recheck
            msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4401  # "signed out"
    assert (await cora.get("/console/api/queue")).status == 401
    # Signed out everywhere: no longer available for conversations (as after a logout).
    async with console.db.session() as session:
        status = await session.scalar(select(StaffPresence.status).where(StaffPresence.user_id == cora_id))
    assert status == "away"
    # Cannot sign in while disabled; can again when enabled.
    again = console.browser()
    assert (await again.login("cora")).status == 401
    assert (await admin.post(f"/console/api/staff/{cora_id}/enable")).status == 200
    assert (await again.login("cora")).status == 303
    # An admin does not lock themselves out.
    own = (await accounts(admin))["ada"]["id"]
    refused = await admin.post(f"/console/api/staff/{own}/disable")
    assert refused.status == 409 and (await refused.json())["error"] == "not_yourself"
    assert {"user.disabled", "user.enabled"} <= set(await actions(console))


async def test_reset_password_and_end_sessions(console: Console) -> None:
    admin = await console.signed_in("ada", "admin")
    cora = await console.signed_in("cora")
    cora_id = (await accounts(admin))["cora"]["id"]
    resp = await admin.post(f"/console/api/staff/{cora_id}/reset-password")
    assert resp.status == 200
    password = (await resp.json())["password"]
    assert (await cora.get("/console/api/queue")).status == 401
    assert (await console.browser().login("cora")).status == 401  # the old password
    fresh = console.browser()
    assert (await fresh.login("cora", password)).status == 303
    ended = await admin.post(f"/console/api/staff/{cora_id}/end-sessions")
    assert ended.status == 200
    assert (await fresh.get("/console/api/queue")).status == 401


async def test_an_admin_resets_a_lost_second_factor(console: Console) -> None:
    admin = await console.signed_in("ada", "admin")
    sara = await console.signed_in("sara", "supervisor")
    sara_id = (await accounts(admin))["sara"]["id"]
    resp = await admin.post(f"/console/api/staff/{sara_id}/reset-2fa")
    assert resp.status == 200 and (await resp.json())["user"]["second_factor"] is False
    assert (await sara.get("/console/api/queue")).status == 401
    # Her next login asks her to enrol again before anything else.
    b = console.browser()
    resp = await b.login("sara")  # the harness enrols, as she would with her new phone
    assert resp.status == 303
    assert (await accounts(admin))["sara"]["second_factor"] is True
    assert "user.second_factor_reset" in await actions(console)


async def test_delete_an_account_without_records_only(console: Console) -> None:
    admin = await console.signed_in("ada", "admin")
    await console.user("temp")
    cora = await console.signed_in("cora")
    conv = await console.person("p@example.org", "min bror pratar om en rörelse")
    assert (await cora.claim(conv)).status == 200
    assert (await cora.post(f"/console/api/conversations/{conv}/reply", {"text": "Hej"})).status == 200
    listed = await accounts(admin)
    gone = await admin.post(f"/console/api/staff/{listed['temp']['id']}/delete")
    assert gone.status == 200
    kept = await admin.post(f"/console/api/staff/{listed['cora']['id']}/delete")
    assert kept.status == 409 and (await kept.json())["error"] == "has_records"
    after = await accounts(admin)
    assert "temp" not in after and "cora" in after
    assert "user.deleted" in await actions(console)
    assert (await admin.post("/console/api/staff/999999/disable")).status == 404


async def test_the_pages_speak_swedish_and_english_from_the_catalogue(console: Console) -> None:
    admin = await console.signed_in("ada", "admin")
    kim = console.browser()
    await console.user("kim", "municipality", municipality_code="1480")
    assert (await kim.login("kim")).status == 303
    for lang in ("sv", "en"):
        words = catalogues.strings("console", lang)
        staff_page = await (await admin.get(f"/console/staff?lang={lang}")).text()
        assert words["st_title"] in staff_page and words["role_municipality"] in staff_page
        # Every staff member has the account page, the municipality users too.
        for who in (admin, kim):
            page = await (await who.get(f"/console/account?lang={lang}")).text()
            assert words["ac_sessions"] in page and words["nav_account"] in page
        assert (
            '<script type="application/json" id="i18n">' in staff_page and "st_confirm_disable" in staff_page
        )
