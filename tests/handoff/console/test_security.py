"""Signing in and out of the console: cookies, CSRF on the login form, lockout, rate limit, language."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gateway.store.models import AuditEvent
from tests.handoff.console.conftest import CSRF_INPUT, PASSWORD, Console, start_console, stop_console


async def test_login_sets_a_strict_httponly_session_cookie_and_opens_the_console(console: Console) -> None:
    await console.user("anna", display_name="Anna A")
    b = console.browser()
    resp = await b.login("anna")
    assert resp.status == 303 and resp.headers["Location"] == "/console"
    cookie = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("hl_console="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie
    page = await b.get("/console")
    assert page.status == 200
    html = await page.text()
    assert "Anna A" in html and "Logga ut" in html and 'lang="sv"' in html
    for header, value in {
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }.items():
        assert page.headers[header] == value
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in html  # no inline script: only <script src> and a JSON data block


async def test_secure_cookies_when_configured(sqlite_url: str, tmp_path: Path) -> None:
    console = await start_console(sqlite_url, tmp_path, **{"console.secure_cookies": True})
    try:
        await console.user("anna")
        b = console.browser()
        page = await b.http.get(b.url("/console/login"))
        pre = next(v for v in page.headers.getall("Set-Cookie") if v.startswith("hl_console_pre="))
        assert "Secure" in pre and "HttpOnly" in pre and "SameSite=Strict" in pre
        nonce = pre.split(";", 1)[0].split("=", 1)[1]
        token = CSRF_INPUT.search(await page.text())
        assert token
        resp = await b.http.post(
            b.url("/console/login"),
            data={"username": "anna", "password": PASSWORD, "csrf": token.group(1)},
            headers={"Cookie": f"hl_console_pre={nonce}"},
            allow_redirects=False,
        )
        assert resp.status == 303
        session = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("hl_console="))
        assert "Secure" in session and "HttpOnly" in session and "SameSite=Strict" in session
    finally:
        await stop_console(console)


async def test_wrong_password_is_refused_with_a_message_and_no_session(console: Console) -> None:
    await console.user("anna")
    b = console.browser()
    resp = await b.login("anna", "wrong password!")
    assert resp.status == 401
    assert "Fel användarnamn eller lösenord" in await resp.text()
    assert not any(v.startswith("hl_console=") for v in resp.headers.getall("Set-Cookie", []))
    assert (await b.get("/console/api/queue")).status == 401


async def test_login_form_without_the_pre_login_token_is_refused(console: Console) -> None:
    await console.user("anna")
    b = console.browser()
    # No pre-login cookie and no token (a cross-site form post):
    resp = await b.http.post(
        b.url("/console/login"), data={"username": "anna", "password": PASSWORD}, allow_redirects=False
    )
    assert resp.status == 403
    # The token of another browser's form does not fit this browser's pre-login cookie:
    other = console.browser()
    async with other.http.get(other.url("/console/login")) as page:
        token = CSRF_INPUT.search(await page.text())
    assert token
    async with b.http.get(b.url("/console/login")):
        pass
    resp = await b.http.post(
        b.url("/console/login"),
        data={"username": "anna", "password": PASSWORD, "csrf": token.group(1) + "x"},
        allow_redirects=False,
    )
    assert resp.status == 403
    assert (await b.get("/console/api/queue")).status == 401


async def test_lockout_after_the_configured_number_of_failures(sqlite_url: str, tmp_path: Path) -> None:
    console = await start_console(sqlite_url, tmp_path, **{"console.lockout_attempts": 3})
    try:
        await console.user("anna")
        b = console.browser()
        assert (await b.login("anna", "wrong password 1")).status == 401
        assert (await b.login("anna", "wrong password 2")).status == 401
        third = await b.login("anna", "wrong password 3")
        assert third.status == 401 and "tillfälligt låst" in await third.text()
        # Even the right password does not open a locked account.
        right = await b.login("anna")
        assert right.status == 401 and "tillfälligt låst" in await right.text()
        async with console.db.session() as session:
            actions = [e.action for e in (await session.execute(select(AuditEvent))).scalars()]
        assert "auth.locked_out" in actions
    finally:
        await stop_console(console)


async def test_login_attempts_per_user_name_are_rate_limited(console: Console) -> None:
    b = console.browser()
    statuses = [(await b.login("nobody-here", f"guess number {i}")).status for i in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    limited = await b.login("nobody-here", "one more guess")
    assert "För många inloggningsförsök" in await limited.text()
    # Another user name is not held up by it.
    await console.user("anna")
    assert (await console.browser().login("anna")).status == 303


async def test_logout_invalidates_the_session_even_if_the_cookie_is_replayed(console: Console) -> None:
    b = await console.signed_in("anna")
    token = next(c.value for c in b.http.cookie_jar if c.key == "hl_console")
    replay = console.browser()
    replayed = {"Cookie": f"hl_console={token}"}
    assert (await replay.http.get(replay.url("/console/api/queue"), headers=replayed)).status == 200
    out = await b.http.post(b.url("/console/logout"), data={"csrf": b.csrf}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/console/login"
    assert (await b.get("/console/api/queue")).status == 401
    resp = await replay.http.get(replay.url("/console/api/queue"), headers=replayed)
    assert resp.status == 401
    page = await replay.http.get(replay.url("/console"), headers=replayed, allow_redirects=False)
    assert page.status == 303


async def test_logout_needs_the_csrf_token(console: Console) -> None:
    b = await console.signed_in("anna")
    resp = await b.http.post(b.url("/console/logout"), data={"csrf": "forged"}, allow_redirects=False)
    assert resp.status == 403
    assert (await b.get("/console/api/queue")).status == 200


async def test_swedish_by_default_and_english_on_request_remembered(console: Console) -> None:
    login_page = await console.browser().get("/console/login")
    assert "Logga in" in await login_page.text()
    english_login = await console.browser().get("/console/login?lang=en")
    assert "Sign in" in await english_login.text()
    b = await console.signed_in("anna")
    assert "Mina samtal" in await (await b.get("/console")).text()
    assert "My conversations" in await (await b.get("/console?lang=en")).text()
    again = await (await b.get("/console")).text()
    assert "My conversations" in again and 'lang="en"' in again
    canned = await (await b.get("/console/api/canned")).json()
    assert canned["language"] == "en"
    assert all({"sv", "en"} <= set(c["text"]) for c in canned["canned"])
    # Issue 19, item 5: canned responses exist in the languages people write in, numbers kept.
    assert all({"ar", "fa", "so", "ti", "tr", "ru", "bs", "ku"} <= set(c["text"]) for c in canned["canned"])
    danger = next(c for c in canned["canned"] if c["id"] == "danger_112")
    assert all("112" in text for text in danger["text"].values())
