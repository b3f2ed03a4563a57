"""The one JSON reader and validator of request bodies.

:func:`read_json` reads a JSON object (413 past :data:`MAX_BODY`, 400 ``invalid_json`` for a body
that is not a JSON object); :func:`validate` checks it against a route's :class:`~handoff.web.Body`
and raises :class:`~gateway.errors.InvalidInput` with ``fields`` (field -> message), answered 422
``{"error": "invalid_input", "fields": {...}}``.  The guard does both before a handler runs and
keeps the result for :func:`body`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import ValidationError

from gateway.errors import InvalidInput

from .routes import Body

MAX_BODY = 64 * 1024
BODY_KEY = web.RequestKey("helpline_body", Body)

B = TypeVar("B", bound=Body)


def _invalid_json() -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text='{"error": "invalid_json"}', content_type="application/json")


async def read_json(request: web.Request, *, empty: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body as a JSON object.  Without a body: ``empty`` if given, else 400 ``invalid_json``."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    if empty is not None and not request.body_exists:
        return dict(empty)
    try:
        found = await request.json()
    except ValueError:
        raise _invalid_json() from None
    if not isinstance(found, dict):
        raise _invalid_json()
    return found


def validate(model: type[B], data: dict[str, Any]) -> B:
    """``data`` as ``model``, or :class:`InvalidInput` naming every refused field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for error in exc.errors(include_url=False, include_context=False, include_input=False):
            name, message = model.refused(tuple(error["loc"]), str(error["msg"]))
            fields.setdefault(name, message)
        codes = {model.error_codes.get(name.split(".")[0]) for name in fields}
        code = codes.pop() if len(codes) == 1 else None
        raise InvalidInput(code or "invalid_input", fields=fields) from None


async def read_body(request: web.Request, model: type[B]) -> B:
    """The request's body checked against ``model``; no body counts as ``{}``."""
    return validate(model, await read_json(request, empty={}))


def body(request: web.Request, model: type[B]) -> B:
    """The body the guard checked for this request's route."""
    found = request[BODY_KEY]
    if not isinstance(found, model):
        raise TypeError(f"the route's body is {type(found).__name__}, not {model.__name__}")
    return found


__all__ = ["BODY_KEY", "MAX_BODY", "body", "read_body", "read_json", "validate"]
