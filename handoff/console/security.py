"""Who is asking: the session cookie, roles, CSRF tokens, the pre-login nonce and the login rate limit."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlalchemy import update

from gateway import auth, session_cache
from gateway.appkeys import DB, RATE_LIMITER, SETTINGS
from gateway.store.models import StaffUser
from handoff.web.roles import CONSOLE_ROLES as CONSOLE_ROLES
from handoff.web.roles import SUPERVISOR_ROLES as SUPERVISOR_ROLES

from .i18n import LANGUAGES, pick_language

SESSION_CACHE = web.AppKey("session_cache", session_cache.SessionCache)
"""Set by the console: the sessions read in the last ``console.session_cache_seconds``."""

SESSION_COOKIE = "hl_console"
PRELOGIN_COOKIE = "hl_console_pre"
STEP_COOKIE = "hl_console_step"
"""The pending session of a login halfway: the password given, the second factor not yet."""
COOKIE_PATH = "/console"
CSRF_HEADER = "X-CSRF-Token"

# The role sets are the web kit's (defined once, in handoff.web.roles); imported here for the modules
# that take them from this one.


@dataclass(frozen=True, slots=True)
class Staff:
    """The signed-in staff member of one request."""

    user: StaffUser
    token_hash: str
    csrf: str
    lang: str

    @property
    def is_supervisor(self) -> bool:
        return self.user.role in SUPERVISOR_ROLES


def login_policy(app: web.Application) -> auth.LoginPolicy:
    cfg = app[SETTINGS].section("console")
    return auth.LoginPolicy(
        max_attempts=int(cfg["lockout_attempts"]),
        lockout=timedelta(minutes=float(cfg["lockout_minutes"])),
        session_lifetime=timedelta(hours=float(cfg["session_hours"])),
    )


def secure_cookies(app: web.Application) -> bool:
    return bool(app[SETTINGS].section("console")["secure_cookies"])


def set_cookie(
    response: web.StreamResponse, app: web.Application, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=secure_cookies(app),
    )


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=COOKIE_PATH)


async def authenticate(request: web.Request) -> Staff | None:
    """The staff member behind the session cookie, or None.  ``?lang=`` on a GET changes their language."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    wanted = request.query.get("lang") if request.method == "GET" else None
    db = request.app[DB]
    cache = request.app.get(SESSION_CACHE)
    hashed = auth.token_hash(token)
    found = cache.get(hashed) if cache is not None else None
    if found is None:
        # Every request of the console passes here: a read without a commit (on SQLite, without the
        # write lock), remembered for a moment (gateway/session_cache.py); the rare write (last
        # seen, at most once a minute; a language) comes after it.
        seen = session_cache.generation()
        async with db.reader() as session:
            found = await auth.session_user(session, token, touch=False)
        if found is None:
            return None
        if cache is not None:
            cache.put(hashed, *found, seen_generation=seen)
    user, row = found
    language = wanted if wanted in LANGUAGES and user.language != wanted else None
    if language is not None or auth.touch_due(row):
        async with db.session() as session:
            await auth.touch_session(session, row.token_hash)
            if language is not None:
                await session.execute(
                    update(StaffUser).where(StaffUser.id == user.id).values(language=language)
                )
        if language is not None:
            user.language = language
    return Staff(user=user, token_hash=row.token_hash, csrf=row.csrf_token, lang=pick_language(user.language))


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


# ---------------------------------------------------------------------- before login
def new_prelogin_nonce() -> str:
    return secrets.token_urlsafe(24)


def prelogin_token(app: web.Application, nonce: str) -> str:
    """The login form's CSRF token: bound to the nonce in the pre-login cookie by a keyed MAC."""
    key = hashlib.sha256(b"helpline console login csrf\0" + app[SETTINGS].pseudonym_key).digest()
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def prelogin_ok(app: web.Application, nonce: str | None, given: str | None) -> bool:
    if not nonce or not given or len(nonce) > 100:
        return False
    return hmac.compare_digest(prelogin_token(app, nonce).encode(), given.encode())


class LoginRateLimiter:
    """At most ``attempts`` login attempts per user name within ``window`` seconds, across the fleet.

    The account lockout (counted in the database, so across processes) stops guessing at one
    known account; this limit also slows guessing at unknown names and at locked accounts, and
    keeps argon2 from being used to burn the server's CPU.  It is counted by the application's rate
    limiter (``gateway.ratelimit``: Redis when configured, so N processes do not give N times the
    attempts), which stores only a keyed hash of the name.  If Redis is unreachable it fails
    closed: the attempt is refused with the usual "try again later" answer, so that an outage
    cannot switch the limit off.
    """

    def __init__(self, attempts: int = 10, window: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window

    @staticmethod
    def _key(username: str) -> str:
        return "console-login:" + username.strip().casefold()

    async def allow(self, app: web.Application, username: str) -> bool:
        return await app[RATE_LIMITER].allow(self._key(username), self.attempts, self.window, fail_open=False)

    async def succeeded(self, app: web.Application, username: str) -> None:
        """The attempt had the right password: it does not count against the limit (a counsellor
        who signs in and out through a shift is not slowed down; only wrong attempts are)."""
        await app[RATE_LIMITER].refund(self._key(username))

    async def allow_code(self, app: web.Application, user_id: int) -> bool:
        """Second-factor codes: five a user per five minutes (a million codes, three valid)."""
        return await app[RATE_LIMITER].allow(f"console-2fa:{user_id}", 5, 300.0, fail_open=False)

    async def code_succeeded(self, app: web.Application, user_id: int) -> None:
        """A right code does not count against the limit, as a right password does not."""
        await app[RATE_LIMITER].refund(f"console-2fa:{user_id}")


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def browser_summary(request: web.Request) -> str:
    """The browser and system of a request ("Firefox, Linux"), for the user's list of sessions:
    a summary, never the whole header (which can single a person out) and never an address."""
    header = request.headers.get("User-Agent", "")[:512]
    browser = next((name for mark, name in _BROWSERS if mark in header), "")
    system = next((name for mark, name in _SYSTEMS if mark in header), "")
    return ", ".join(x for x in (browser, system) if x)
