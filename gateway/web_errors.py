"""Errors of a request turned into answers, never into a traceback with the client's address.

aiohttp logs an exception that escapes a handler as "Error handling request from <client address>"
with its traceback.  :func:`error_middleware` (the outermost middleware of the gateway) answers
instead:

* the store or the broker unavailable (a retryable error, a dropped connection): 503 with
  ``Retry-After``;
* bad input (a body that is not UTF-8, JSON nested beyond what the parser takes, text the store
  refuses): 400 or 422;
* the errors a request can cause (:func:`client_error`, the one mapping of
  :class:`~gateway.errors.HelplineError` to HTTP): :class:`~gateway.errors.InvalidInput` 422,
  :class:`~gateway.errors.NotFound` 404, :class:`~gateway.errors.Conflict` 409,
  :class:`~gateway.errors.PermissionDenied` 403;
* anything else: 500, logged with the route's name and the error's type, never the address.

Every JSON answer has one shape: ``{"error": code}``, with ``"fields": {field: message}`` when
parts of the input were refused.

The log lines name the method and the route pattern (not the path, which may carry ids) and the
error type only.  The gateway runs with aiohttp's access log off (``access_log=None``), so no
client address is written anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web

from gateway import catalogues
from gateway.deadletter import store_refusal
from gateway.errors import BrokerError, Conflict, HelplineError, InvalidInput, NotFound, PermissionDenied
from gateway.metrics import METRICS

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS: Final = 5
SERVER_OPTIONS: Final[dict[str, Any]] = {"access_log": None}
"""How the gateway's HTTP server runs (``helpline serve``): without aiohttp's access log, whose
format starts with the client's address."""

_PLAIN_STATUSES: Final = frozenset({400, 403, 404, 409, 422, 503})
"""The statuses with their own plain-text answer (``http_error.<status>`` in the console catalogue,
Swedish then English); any other gets ``http_error.other``."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource
    name = info.canonical if info is not None else "?"
    return f"{request.method} {name}"


def error_body(code: str, fields: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The one shape of every error answer."""
    body: dict[str, Any] = {"error": code}
    if fields is not None:
        body["fields"] = dict(fields)
    return body


def _code(exc: BaseException, default: str) -> str:
    """The error's first argument when it is a code (``not_assigned_to_you``), else ``default``."""
    text = exc.args[0] if exc.args else None
    if isinstance(text, str) and text and len(text) <= 64 and text.replace("_", "").isalnum():
        return text
    return default


CLIENT_ERRORS: Final[tuple[tuple[type[HelplineError], int, str], ...]] = (
    (InvalidInput, 422, "invalid_input"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (PermissionDenied, 403, "forbidden"),
)
"""Errors a request causes, with their status and default code: the one mapping to HTTP."""


def client_error(exc: BaseException) -> tuple[int, dict[str, Any]] | None:
    """The status and body of an error the request caused, or None (not one of :data:`CLIENT_ERRORS`)."""
    for kind, status, default in CLIENT_ERRORS:
        if isinstance(exc, kind):
            code = default if kind is NotFound else _code(exc, default)
            fields = exc.fields if isinstance(exc, InvalidInput) else None
            return status, error_body(code, fields)
    return None


def _answer(request: web.Request, status: int, code: str, body: dict[str, Any] | None = None) -> web.Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
    headers["Cache-Control"] = "no-store"
    if request.path.startswith("/console/api/") or "json" in request.headers.get("Accept", ""):
        return web.json_response(body or error_body(code), status=status, headers=headers)
    msgid = f"http_error.{status}" if status in _PLAIN_STATUSES else "http_error.other"
    text = " / ".join(catalogues.text("console", lang, msgid) for lang in ("sv", "en"))
    return web.Response(status=status, text=text, headers=headers)


def unavailable(exc: BaseException) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, HelplineError):
        return exc.retryable
    return isinstance(exc, OperationalError | InterfaceError | PoolTimeout | ConnectionRefusedError)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except UnicodeError:
        log.info("request %s: body is not valid UTF-8", _route(request))
        return _answer(request, 400, "bad_encoding")
    except RecursionError:
        log.info("request %s: input nested too deeply", _route(request))
        return _answer(request, 400, "too_deep")
    except Exception as exc:
        refused = client_error(exc)
        if refused is not None:
            log.info("request %s refused: %s", _route(request), type(exc).__name__)
            return _answer(request, refused[0], refused[1]["error"], refused[1])
        if unavailable(exc):
            log.warning("request %s: unavailable (%s)", _route(request), type(exc).__name__)
            metrics = request.app.get(METRICS)
            if metrics is not None:
                metrics.error("broker" if isinstance(exc, BrokerError) else "store")
            return _answer(request, 503, "unavailable")
        if store_refusal(exc) is not None:
            log.info("request %s: the store refused a value (%s)", _route(request), type(exc).__name__)
            return _answer(request, 422, "invalid_input")
        if isinstance(exc, ValueError) and "JSON" in type(exc).__name__:
            return _answer(request, 400, "bad_json")
        log.error("request %s failed (%s)", _route(request), type(exc).__name__)
        return _answer(request, 500, "internal")
