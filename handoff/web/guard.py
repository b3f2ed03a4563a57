"""The one guard of every route behind a login.

:func:`guarded` wraps a :class:`~handoff.web.Route`'s handler with, in this order:

1. the session (:func:`handoff.console.security.authenticate`): none is 401 ``not_signed_in`` for
   the API and a redirect (303) to the login page for pages;
2. the role: one not in ``route.roles`` is 403 ``forbidden`` (pages render the forbidden page);
3. CSRF on POST: the ``X-CSRF-Token`` header (or a page form's ``csrf`` field), else 403 ``csrf``;
4. the body, when the route declares one: read and validated (400 ``invalid_json``, 413, 422
   ``invalid_input`` with ``fields``), then kept for :func:`handoff.web.validation.body`;
5. the conversation, when the route acts on one (``route.acts_on``, :mod:`handoff.web.access`):
   404 ``not_found`` for an unknown one, 403 (audited) for a staff member the rule does not allow;
   a page renders the forbidden page or 404;
6. the ``Idempotency-Key``, when the route names an action (a refused request claims no key);
7. the errors the request causes, answered by the one mapping (:mod:`handoff.web.errors`).

The wrapped handler carries its route (:func:`route_of`), so that the route table of an
application can be read from its router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from aiohttp import web

from gateway.errors import InvalidInput
from handoff.console.idempotency import idempotent
from handoff.console.security import CSRF_HEADER, Staff, authenticate, csrf_ok

from .access import refusal
from .errors import answer_for, answering_errors, problem
from .routes import Route
from .validation import BODY_KEY, read_body

LOGIN_PAGE = "/console/login"
ROUTE_ATTRIBUTE = "__helpline_route__"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ForbiddenPage(Protocol):
    """The page a signed-in member of staff sees for a page route their role may not use."""

    def __call__(self, request: web.Request, staff: Staff) -> web.StreamResponse: ...


FORBIDDEN_PAGE = web.AppKey("forbidden_page", ForbiddenPage)
"""Set by the console, which renders its pages; without it a page answers like the API."""


def route_of(handler: object) -> Route | None:
    """The route a guarded handler serves (None: not guarded by this kit)."""
    found = getattr(handler, ROUTE_ATTRIBUTE, None)
    return found if isinstance(found, Route) else None


def guarded(route: Route) -> Handler:
    """``route.handler`` behind the session, role, CSRF, body and conversation checks."""
    inner = answering_errors(route.handler)
    if route.idempotency is not None:
        inner = idempotent(route.idempotency, inner)

    async def handler(request: web.Request) -> web.StreamResponse:
        staff = await authenticate(request)
        if staff is None:
            if route.kind == "page":
                raise web.HTTPSeeOther(LOGIN_PAGE)
            return problem(401, "not_signed_in")
        if staff.user.role not in route.roles:
            page = request.app.get(FORBIDDEN_PAGE) if route.kind == "page" else None
            return page(request, staff) if page is not None else problem(403, "forbidden")
        if request.method == "POST":
            form_token: str | None = None
            if route.kind == "page":
                form = await request.post()
                form_token = str(form.get("csrf", "")) or None
            if not csrf_ok(staff.csrf, request.headers.get(CSRF_HEADER) or form_token):
                return problem(403, "csrf")
        if route.body is not None:
            try:
                request[BODY_KEY] = await read_body(request, route.body)
            except InvalidInput as exc:
                answer = answer_for(exc)
                assert answer is not None
                return answer
        if route.acts_on is not None:
            refused = await refusal(request, staff.user, route.acts_on)
            if refused is not None:
                status, code = refused
                if route.kind == "page":
                    page = request.app.get(FORBIDDEN_PAGE)
                    if status == 404 or page is None:
                        raise web.HTTPNotFound() if status == 404 else web.HTTPForbidden()
                    return page(request, staff)
                return problem(status, code)
        return await inner(request, staff)

    handler.__name__ = getattr(route.handler, "__name__", "handler")
    handler.__doc__ = route.handler.__doc__
    setattr(handler, ROUTE_ATTRIBUTE, route)
    return handler


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    """Add every route, guarded, to the application's router."""
    for route in routes:
        app.router.add_route(route.method, route.path, guarded(route))


__all__ = ["FORBIDDEN_PAGE", "LOGIN_PAGE", "ForbiddenPage", "add_routes", "guarded", "route_of"]
