"""Issue 17, item 11: two-factor login.  TOTP with recovery codes; supervisors and admins enrol at
their next login before anything else; a wrong or replayed code is refused; a recovery code works
once; codes are rate-limited; successful logins do not count against the login limit."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import select

from gateway import twofactor
from gateway.store.models import AuditEvent, StaffUser
from tests.handoff.console.conftest import CSRF_INPUT, PASSWORD, Browser, Console
from tests.harness import AUTHENTICATOR, TOTP_SECRET

RECOVERY = re.compile(r"<li><code>([a-z0-9-]{19})</code></li>")


async def password_step(b: Browser, username: str, password: str = PASSWORD) -> tuple[int, str]:
    """The first step of a login: the status and where it leads."""
    async with b.http.get(b.url("/console/login")) as page:
        token = CSRF_INPUT.search(await page.text())
    assert token
    resp = await b.http.post(
        b.url("/console/login"),
        data={"username": username, "password": password, "csrf": token.group(1)},
        allow_redirects=False,
    )
    await resp.read()
    return resp.status, resp.headers.get("Location", "")


async def form(b: Browser, path: str) -> tuple[int, str]:
    async with b.http.get(b.url(path), allow_redirects=False) as page:
        return page.status, await page.text()


async def submit(b: Browser, path: str, code: str, html: str) -> tuple[int, str, str]:
    token = CSRF_INPUT.search(html)
    assert token, html[:400]
    async with b.http.post(
        b.url(path), data={"code": code, "csrf": token.group(1)}, allow_redirects=False
    ) as resp:
        return resp.status, resp.headers.get("Location", ""), await resp.text()


async def enrol(console: Console, b: Browser, username: str) -> tuple[str, list[str]]:
    """A supervisor's first login: the enrolment step; the secret and the recovery codes shown."""
    status, where = await password_step(b, username)
    assert status == 303 and where.startswith("/console/login/enrol")
    status, html = await form(b, "/console/login/enrol")
    assert status == 200
    found = TOTP_SECRET.search(html)
    assert found and "otpauth://totp/" in html and "<svg" in html
    secret = found.group(1)
    status, _, page = await submit(b, "/console/login/enrol", pyotp.TOTP(secret).now(), html)
    assert status == 200
    codes = RECOVERY.findall(page)
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


async def signed_in(b: Browser) -> bool:
    page = await b.get("/console")
    return page.status == 200


def next_code(secret: str) -> str:
    """The code of the next time step (accepted: one step of clock drift either way)."""
    return pyotp.TOTP(secret).at((twofactor.current_step() + 1) * twofactor.STEP)


async def test_a_supervisor_must_enrol_before_anything_else_then_signs_in_with_a_code(
    console: Console,
) -> None:
    await console.user("sara", "supervisor")
    b = console.browser()
    status, where = await password_step(b, "sara")
    assert (status, where) == (303, "/console/login/enrol?lang=sv")
    # Only the password: no page, no API.
    assert (await b.get("/console")).headers["Location"] == "/console/login"
    assert (await b.get("/console/api/queue")).status == 401
    assert (await b.get("/console/supervisor")).status == 303
    status, html = await form(b, "/console/login/enrol")
    assert "Aktivera tvåstegsverifiering" in html
    secret = TOTP_SECRET.search(html)
    assert secret
    # A reload shows the same key (the app may have scanned it already).
    assert secret.group(1) in (await form(b, "/console/login/enrol"))[1]
    status, _, page = await submit(b, "/console/login/enrol", "000000", html)
    assert status == 401 and "Fel kod" in page and not await signed_in(b)
    status, _, page = await submit(b, "/console/login/enrol", pyotp.TOTP(secret.group(1)).now(), html)
    assert status == 200 and len(RECOVERY.findall(page)) == 10
    assert await signed_in(b)
    async with console.db.session() as session:
        user = (await session.execute(select(StaffUser).where(StaffUser.username == "sara"))).scalar_one()
        assert user.totp_enabled_at is not None
        # Kept encrypted: the database does not hold the key as it is shown.
        assert user.totp_secret is not None and secret.group(1).encode() not in user.totp_secret
    # The next login asks for the code, and takes the right one.
    other = console.browser()
    status, where = await password_step(other, "sara")
    assert where == "/console/login/code?lang=sv"
    assert not await signed_in(other)
    status, html = await form(other, "/console/login/code")
    status, where, _ = await submit(other, "/console/login/code", next_code(secret.group(1)), html)
    assert (status, where) == (303, "/console")
    assert await signed_in(other)


async def test_a_wrong_or_replayed_code_is_refused(console: Console) -> None:
    await console.user("sara", "supervisor")
    secret, _ = await enrol(console, console.browser(), "sara")
    first = console.browser()
    await password_step(first, "sara")
    _, html = await form(first, "/console/login/code")
    status, _, page = await submit(first, "/console/login/code", "123456", html)
    assert status == 401 and "Fel kod" in page and not await signed_in(first)
    code = next_code(secret)
    status, where, _ = await submit(first, "/console/login/code", code, html)
    assert (status, where) == (303, "/console") and await signed_in(first)
    # The same code again (someone who saw it): refused, although still within its window.
    second = console.browser()
    await password_step(second, "sara")
    _, html = await form(second, "/console/login/code")
    status, _, page = await submit(second, "/console/login/code", code, html)
    assert status == 401 and not await signed_in(second)
    # So is the code of an earlier step.
    status, _, _ = await submit(second, "/console/login/code", pyotp.TOTP(secret).now(), html)
    assert status == 401 and not await signed_in(second)
    async with console.db.session() as session:
        failed = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.second_factor_failed"))
        ).all()
    assert len(failed) == 3


async def test_a_recovery_code_signs_in_once(console: Console) -> None:
    await console.user("ada", "admin")
    _, codes = await enrol(console, console.browser(), "ada")
    b = console.browser()
    await password_step(b, "ada")
    _, html = await form(b, "/console/login/code")
    status, where, _ = await submit(b, "/console/login/code", codes[3].upper(), html)
    assert (status, where) == (303, "/console") and await signed_in(b)
    again = console.browser()
    await password_step(again, "ada")
    _, html = await form(again, "/console/login/code")
    status, _, _ = await submit(again, "/console/login/code", codes[3], html)
    assert status == 401 and not await signed_in(again)
    status, _, _ = await submit(again, "/console/login/code", codes[4], html)
    assert status == 303 and await signed_in(again)
    async with console.db.session() as session:
        logins = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "auth.login"))
        ).scalars()
        assert [e.details.get("second_factor") for e in logins] == [
            "enrolled",
            "recovery_code",
            "recovery_code",
        ]


async def test_codes_are_rate_limited_per_user(console: Console) -> None:
    await console.user("sara", "supervisor")
    secret, _ = await enrol(console, console.browser(), "sara")
    b = console.browser()
    await password_step(b, "sara")
    _, html = await form(b, "/console/login/code")
    statuses = [(await submit(b, "/console/login/code", "000000", html))[0] for _ in range(5)]
    assert statuses == [401] * 5
    # Even the right code waits now: guessing is slowed to five a user per five minutes.
    status, _, page = await submit(b, "/console/login/code", next_code(secret), html)
    assert status == 429 and "För många" in page and not await signed_in(b)


async def test_a_counsellor_may_do_without_a_second_factor_or_turn_one_on(console: Console) -> None:
    b = await console.signed_in("cora")
    assert b.csrf  # straight in: no second step for a counsellor without one
    started = await b.post("/console/api/account/2fa/start")
    assert started.status == 200
    data = await started.json()
    assert data["uri"].startswith("otpauth://totp/") and "<svg" in data["qr_svg"]
    wrong = await b.post("/console/api/account/2fa/confirm", {"code": "000000"})
    assert wrong.status == 422 and (await wrong.json())["error"] == "code_invalid"
    right = await b.post("/console/api/account/2fa/confirm", {"code": pyotp.TOTP(data["secret"]).now()})
    assert right.status == 200 and len((await right.json())["recovery_codes"]) == 10
    account = await (await b.get("/console/api/account")).json()
    assert account["second_factor"] and not account["second_factor_required"]
    assert account["recovery_codes_left"] == 10
    # From now on her login asks for a code.
    status, where = await password_step(console.browser(), "cora")
    assert where.startswith("/console/login/code")
    # She may turn it off again, with a current code; a supervisor may not.
    off = await b.post("/console/api/account/2fa/off", {"code": next_code(data["secret"])})
    assert off.status == 200
    status, where = await password_step(console.browser(), "cora")
    assert (status, where) == (303, "/console")
    sup = await console.signed_in("sara", "supervisor")
    refused = await sup.post(
        "/console/api/account/2fa/off", {"code": await AUTHENTICATOR.code(sup.base, "sara")}
    )
    assert refused.status == 409 and (await refused.json())["error"] == "second_factor_required"


async def test_successful_logins_do_not_count_against_the_login_rate_limit(console: Console) -> None:
    await console.user("anna")
    # The limit is ten attempts per name in five minutes: twelve right ones (a counsellor signing
    # in and out through a shift, on several machines) all get in.
    for _ in range(12):
        status, where = await password_step(console.browser(), "anna")
        assert (status, where) == (303, "/console")
    # Wrong ones still count: after the limit even the right password waits.
    b = console.browser()
    wrong = [(await password_step(b, "anna", "not the password at all"))[0] for _ in range(10)]
    assert set(wrong) == {401}
    status, _ = await password_step(b, "anna")
    assert status == 429


async def test_sessions_list_and_end_one_of_them(console: Console) -> None:
    await console.user("anna")
    here = console.browser()
    await here.login("anna")
    there = console.browser()
    await there.login("anna")
    mine = await (await here.get("/console/api/account")).json()
    assert len(mine["sessions"]) == 2
    assert sum(s["current"] for s in mine["sessions"]) == 1
    assert all(
        "ip" not in s and set(s) == {"id", "created_at", "last_seen_at", "browser", "current"}
        for s in mine["sessions"]
    )
    other = next(s for s in mine["sessions"] if not s["current"])
    ended = await here.post(f"/console/api/account/sessions/{other['id']}/end")
    assert ended.status == 200
    assert (await there.get("/console/api/queue")).status == 401
    assert (await here.get("/console/api/queue")).status == 200
    # Someone else's session is not hers to end.
    await console.user("bo")
    bo = console.browser()
    await bo.login("bo")
    theirs = (await (await bo.get("/console/api/account")).json())["sessions"][0]["id"]
    assert (await here.post(f"/console/api/account/sessions/{theirs}/end")).status == 404
    assert (await bo.get("/console/api/queue")).status == 200


async def test_an_enrolment_finished_in_another_tab_sends_the_other_back_to_the_login(
    console: Console,
) -> None:
    await console.user("sara", "supervisor")
    one, two = console.browser(), console.browser()
    await password_step(one, "sara")
    await password_step(two, "sara")
    _, html_one = await form(one, "/console/login/enrol")
    _, html_two = await form(two, "/console/login/enrol")
    secret = TOTP_SECRET.search(html_one)
    assert secret and secret.group(1) in html_two  # one key being enrolled, whichever tab shows it
    status, _, _ = await submit(one, "/console/login/enrol", pyotp.TOTP(secret.group(1)).now(), html_one)
    assert status == 200
    status, where, _ = await submit(two, "/console/login/enrol", next_code(secret.group(1)), html_two)
    assert (status, where) == (303, "/console/login") and not await signed_in(two)
    status, _ = await form(two, "/console/login/enrol")
    assert status == 303
