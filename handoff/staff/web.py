"""Admins manage staff accounts at ``/console/staff``: list, create, edit (role, display name,
capacity, municipality, language), disable, enable, reset the password or the second factor, end
the sessions, delete.  Every change is audited by :mod:`handoff.staff.service`; the page asks for
confirmation in a dialog before each of them.  Sessions an action ends lose their live sockets at
once in this process and within seconds in the others (the console's session recheck).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth
from gateway.appkeys import BROKER, DB
from gateway.errors import Conflict, InvalidInput
from gateway.outbox import outbox_for
from gateway.store import repo
from gateway.store.models import StaffUser
from handoff.console.security import Staff
from handoff.console.views import CONSOLE, render
from handoff.directory.live import directory_service
from handoff.shift import presence
from handoff.web import ADMIN_ROLES, Route
from handoff.web.errors import problem
from handoff.web.guard import add_routes
from handoff.web.validation import body

from . import account_web, service
from .account_web import close_sockets
from .schemas import AccountAnswer, AccountsAnswer, CreateUserBody, EditUserBody, EndedAnswer, PasswordAnswer

USER = "/console/api/staff/{user_id:[0-9]{1,9}}"


def refusal(exc: Exception) -> web.Response:
    """A refused account change in the one error shape, with the code the page has words for."""
    code = getattr(exc, "code", None)
    if isinstance(exc, Conflict):
        return problem(409, code or "conflict")
    assert isinstance(exc, InvalidInput)
    return problem(422, code or "invalid_input", exc.fields)


async def staff_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(request, "staff_admin.html", staff.lang, staff=staff, user=staff.user)


async def api_list(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        users = await auth.list_users(session)
        return web.json_response({"users": [service.describe(u) for u in users]})


async def api_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    wanted = body(request, CreateUserBody)
    password = service.temporary_password()
    directory = directory_service(request.app).live
    try:
        async with request.app[DB].session() as session:
            actor = await repo.user_by_id(session, staff.user.id)
            user = await service.create(
                session,
                directory,
                wanted.username,
                password,
                wanted.role,
                actor=actor,
                display_name=wanted.display_name,
                capacity=wanted.capacity,
                municipality_code=wanted.municipality_code or None,
                language=wanted.language,
                spoken_languages=wanted.spoken_languages,
            )
            described = service.describe(user)
    except Conflict:
        return problem(409, "user_exists")
    except service.Refused as exc:
        return refusal(exc)
    except InvalidInput as exc:  # the user name's characters (gateway.auth)
        return problem(422, "bad_username", {"username": str(exc)})
    return web.json_response({"user": described, "password": password}, status=201)


Action = Callable[[AsyncSession, StaffUser, StaffUser], Awaitable[list[str] | None]]


async def _act(
    request: web.Request, staff: Staff, action: Action, answer_password: str | None = None
) -> web.Response:
    """Run ``action`` on the account of the path, as the signed-in admin; close ended sessions' sockets."""
    user_id = int(request.match_info["user_id"])
    try:
        async with request.app[DB].session() as session:
            user = await repo.user_by_id(session, user_id)
            actor = await repo.user_by_id(session, staff.user.id)
            ended = await action(session, user, actor) or []
            described = service.describe(user)
    except (service.Refused, service.NotNow) as exc:
        return refusal(exc)
    await close_sockets(request.app, ended)
    if ended:
        # Signed out everywhere: no longer offered conversations nor counted on duty, as at a logout.
        db = request.app[DB]
        await presence.signed_out(db, outbox_for(db, request.app[BROKER]), user)
    if answer_password is not None:
        return web.json_response({"user": described, "password": answer_password})
    return web.json_response({"user": described})


async def api_edit(request: web.Request, staff: Staff) -> web.StreamResponse:
    wanted = body(request, EditUserBody)
    changes = service.Changes(
        role=wanted.role,
        display_name=wanted.display_name,
        capacity=wanted.capacity,
        municipality_code=wanted.municipality_code,
        language=wanted.language,
        spoken_languages=wanted.spoken_languages,
        extension=wanted.extension,
    )
    directory = directory_service(request.app).live

    async def edit(session: AsyncSession, user: StaffUser, actor: StaffUser) -> None:
        await service.edit(session, directory, user, changes, actor)

    answer = await _act(request, staff, edit)
    hub = request.app[CONSOLE].hub
    if answer.status == 200 and wanted.capacity is not None and hub is not None:
        # The counsellor's open consoles in this process show the new capacity with the next
        # queue update (a console on another process, from its next connection; claims check
        # the stored capacity everywhere at once).
        user_id = int(request.match_info["user_id"])
        for client in hub.clients:
            if client.user_id == user_id:
                client.capacity = wanted.capacity
    return answer


async def api_disable(request: web.Request, staff: Staff) -> web.StreamResponse:
    return await _act(request, staff, service.disable)


async def api_enable(request: web.Request, staff: Staff) -> web.StreamResponse:
    async def enable(session: AsyncSession, user: StaffUser, actor: StaffUser) -> None:
        await service.enable(session, user, actor)

    return await _act(request, staff, enable)


async def api_reset_password(request: web.Request, staff: Staff) -> web.StreamResponse:
    password = service.temporary_password()

    async def reset(session: AsyncSession, user: StaffUser, actor: StaffUser) -> list[str]:
        return await service.reset_password(session, user, password, actor)

    return await _act(request, staff, reset, answer_password=password)


async def api_reset_second_factor(request: web.Request, staff: Staff) -> web.StreamResponse:
    return await _act(request, staff, service.reset_second_factor)


async def api_end_sessions(request: web.Request, staff: Staff) -> web.StreamResponse:
    return await _act(request, staff, service.end_sessions)


async def api_delete(request: web.Request, staff: Staff) -> web.StreamResponse:
    user_id = int(request.match_info["user_id"])
    try:
        async with request.app[DB].session() as session:
            user = await repo.user_by_id(session, user_id)
            actor = await repo.user_by_id(session, staff.user.id)
            ended = await service.delete(session, user, actor)
    except service.NotNow as exc:
        return refusal(exc)
    await close_sockets(request.app, ended)
    return web.json_response({"ok": True, "ended": len(ended)})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/console/staff", staff_page, ADMIN_ROLES, "page", summary="Staff accounts"),
    Route(
        "GET",
        "/console/api/staff",
        api_list,
        ADMIN_ROLES,
        answers={200: AccountsAnswer},
        summary="Staff accounts",
    ),
    Route(
        "POST",
        "/console/api/staff",
        api_create,
        ADMIN_ROLES,
        body=CreateUserBody,
        answers={201: PasswordAnswer},
        summary="Create an account (its first password is answered once)",
    ),
    Route(
        "POST",
        USER + "/edit",
        api_edit,
        ADMIN_ROLES,
        body=EditUserBody,
        answers={200: AccountAnswer},
        summary="Edit an account",
    ),
    Route(
        "POST",
        USER + "/disable",
        api_disable,
        ADMIN_ROLES,
        answers={200: AccountAnswer},
        summary="Disable an account",
    ),
    Route(
        "POST",
        USER + "/enable",
        api_enable,
        ADMIN_ROLES,
        answers={200: AccountAnswer},
        summary="Enable an account",
    ),
    Route(
        "POST",
        USER + "/reset-password",
        api_reset_password,
        ADMIN_ROLES,
        answers={200: PasswordAnswer},
        summary="Reset the password (the new one is answered once)",
    ),
    Route(
        "POST",
        USER + "/reset-2fa",
        api_reset_second_factor,
        ADMIN_ROLES,
        answers={200: AccountAnswer},
        summary="Reset the second factor",
    ),
    Route(
        "POST",
        USER + "/end-sessions",
        api_end_sessions,
        ADMIN_ROLES,
        answers={200: AccountAnswer},
        summary="End all of the account's sessions",
    ),
    Route(
        "POST",
        USER + "/delete",
        api_delete,
        ADMIN_ROLES,
        answers={200: EndedAnswer},
        summary="Delete an account",
    ),
)


def setup(app: web.Application) -> None:
    """Add the staff admin's page and API, and every staff member's account page."""
    directory_service(app)
    add_routes(app, ROUTES)
    add_routes(app, account_web.ROUTES)


__all__ = ["ROUTES", "close_sockets", "setup"]
