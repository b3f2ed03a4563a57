"""Staff's authenticator apps in the tests: the TOTP key each user enrolled, codes computed from it
with pyotp, and the second step of a login taken as a person takes it (for the harness's
``Browser.login`` and for Playwright pages)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pyotp

from gateway import auth, twofactor
from handoff.staff import enrolment

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf" value="([^"]+)"')
TOTP_SECRET = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7]+)<')


class Authenticator:
    """The staff's authenticator apps: the TOTP secret each user enrolled (by gateway and user
    name), and a code for a time step not used yet.  A gateway refuses a code used before, as it
    should, and accepts the next step's code (clock drift); a third login within one 30 s step
    waits for the next step, as a person waits for the app's next code."""

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], str] = {}
        self.last_step: dict[tuple[str, str], int] = {}

    def enrolled(self, base: str, username: str, secret: str) -> None:
        self.secrets[(base, username)] = secret
        self.last_step.pop((base, username), None)  # a new key: no step used yet

    async def code(self, base: str, username: str) -> str:
        key = (base, username)
        step = max(twofactor.current_step(), self.last_step.get(key, -1) + 1)
        while step > twofactor.current_step() + 1:
            await asyncio.sleep(0.5)
        self.last_step[key] = step
        return pyotp.TOTP(self.secrets[key]).at(step * twofactor.STEP)


AUTHENTICATOR = Authenticator()


async def second_step(
    http: aiohttp.ClientSession, base: str, username: str, resp: aiohttp.ClientResponse
) -> aiohttp.ClientResponse | None:
    """Take the second step of a login whose password was right, as a person with an authenticator
    app does: at ``/console/login/enrol`` read the key shown, keep it and enter its code (answered by
    the recovery codes page, 200); at ``/console/login/code`` enter the code of the key kept
    (answered 303 to the console).  None when ``resp`` asks for no second step."""
    where = resp.headers.get("Location", "") if resp.status == 303 else ""
    path = where.split("?", 1)[0]
    if path not in ("/console/login/enrol", "/console/login/code"):
        return None
    async with http.get(base + where, allow_redirects=False) as page:
        html = await page.text()
    form_csrf = CSRF_INPUT.search(html)
    assert form_csrf, "the second step's form carries a CSRF token"
    if path.endswith("/enrol"):
        secret = TOTP_SECRET.search(html)
        assert secret, "the enrolment page shows the key"
        AUTHENTICATOR.enrolled(base, username, secret.group(1))
    done = await http.post(
        base + path,
        data={"code": await AUTHENTICATOR.code(base, username), "csrf": form_csrf.group(1)},
        allow_redirects=False,
    )
    await done.read()
    return done


async def login_in_page(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    """Sign in in a real browser (a Playwright ``page``) as staff do: the password, then the second
    factor's step if there is one: at the enrolment the key is read off the page and kept (the
    recovery codes page is then left by its link), at the code step the kept key's code is typed.
    Returns on the page the login leads to."""
    await page.goto(base + "/console/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-button")
    await page.wait_for_load_state()
    if "/console/login/enrol" in page.url:
        AUTHENTICATOR.enrolled(base, username, (await page.inner_text("#totp-secret")).strip())
        await page.fill("#code", await AUTHENTICATOR.code(base, username))
        await page.click("#code-button")
        await page.wait_for_selector("#recovery-codes")
        await page.click("#continue")
        await page.wait_for_load_state()
    elif "/console/login/code" in page.url:
        await page.fill("#code", await AUTHENTICATOR.code(base, username))
        await page.click("#code-button")
        await page.wait_for_load_state()


async def finish_login(db: Any, settings: Any, result: auth.LoginResult) -> auth.LoginResult:
    """For tests that sign in through ``gateway.auth.login`` itself: take the second step a
    pending login asks for (enrol a key and confirm it with its code, or give the kept key's
    code), through the same functions the login's pages use.  A login that asked for none is
    returned as it is."""
    if result.pending is None or result.user is None or result.token is None:
        return result
    box = twofactor.cipher(settings.contact_key, settings.previous_contact_keys)
    async with db.session() as session:
        found = await auth.pending_login(session, result.token)
        assert found is not None, "the pending session of the login"
        user, row = found
        if result.pending == "enrol":
            started = await enrolment.start(session, user, box)
            await enrolment.confirm(session, user, box, pyotp.TOTP(started.secret).now())
            how = "enrolled"
        else:
            assert user.totp_secret is not None
            secret = box.decrypt(user.totp_secret)
            code = pyotp.TOTP(secret).at((twofactor.current_step() + 1) * twofactor.STEP)
            assert await twofactor.check_code(session, user, code, box), "the code of the next step"
            how = "totp"
        return await auth.complete_login(session, user, row, auth.LoginPolicy(), how)
