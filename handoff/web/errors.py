"""Errors as answers, in one body shape: ``{"error": code}`` and, for refused input,
``"fields": {field: message}``.

The mapping of :class:`~gateway.errors.HelplineError` to HTTP is the gateway's
(:func:`gateway.web_errors.client_error`): its outermost middleware applies it to whatever escapes
a handler.  :func:`answering_errors` applies the same mapping inside a route, beneath its
idempotency (so that a refusal is the answer an ``Idempotency-Key`` keeps, as a returned one is).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from aiohttp import web

from gateway.web_errors import client_error, error_body

log = logging.getLogger(__name__)

H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])


def problem(status: int, code: str, fields: Mapping[str, str] | None = None) -> web.Response:
    """The JSON answer of a refusal: ``{"error": code}`` (and ``fields``)."""
    return web.json_response(error_body(code, fields), status=status)


def answer_for(exc: BaseException) -> web.Response | None:
    """The answer to an error the request caused (404, 409, 422, 403), or None."""
    found = client_error(exc)
    if found is None:
        return None
    return web.json_response(found[1], status=found[0])


def answering_errors(handler: H) -> H:
    """``handler`` with the errors a request causes answered (:func:`answer_for`); others go on to
    the gateway's error middleware (503 for an unavailable store, 500 otherwise)."""

    async def wrapped(*args: object) -> web.StreamResponse:
        try:
            return await handler(*args)
        except web.HTTPException:
            raise
        except Exception as exc:
            answer = answer_for(exc)
            if answer is None:
                raise
            log.info("refused: %s", type(exc).__name__)
            return answer

    wrapped.__name__ = getattr(handler, "__name__", "handler")
    wrapped.__doc__ = handler.__doc__
    return wrapped  # type: ignore[return-value]


__all__ = ["answer_for", "answering_errors", "problem"]
