"""The route table of an application and its OpenAPI 3.1 document, served at ``GET /api/openapi.json``.

The table is read from the router: every handler the kit guards carries its :class:`Route`.  The
tables not yet converted to :class:`Route` (their modules guard their own routes) are adapted from
their modules' ``ROUTES`` (see :func:`adapt`) and listed with ``x-adapted: true``.

The document is public, like the login page: it describes the routes (paths, roles, input schemas,
answers) and no data, and every route it lists still needs a session and a role.  It could not be
for staff only at this path anyway: the session cookie is scoped to ``/console``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel

from gateway import __version__

from .routes import Download, ErrorAnswer, Kind, Route
from .validation import MAX_BODY

OPENAPI_PATH: Final = "/api/openapi.json"
OPENAPI_CACHE = web.AppKey("openapi_cache", dict)
REF: Final = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::((?:[^{}]|\{[^{}]*\})*))?\}")


# ---------------------------------------------------------------------- the table
def plain_path(path: str) -> str:
    """``/a/{id:[0-9a-f]{32}}`` -> ``/a/{id}`` (aiohttp's canonical form, OpenAPI's path form)."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def adapt(entry: object, tag: str = "") -> Route:
    """A route of a table not yet converted: a :class:`Route` as is; an object with ``method``,
    ``path``, ``handler``, ``roles`` and ``kind`` or ``page`` (``HandoffRoute``); or a tuple
    ``(method, path, roles, handler)`` (the records' table)."""
    if isinstance(entry, Route):
        return entry
    if isinstance(entry, tuple) and len(entry) == 4:
        method, path, roles, handler = entry
        return Route(str(method), str(path), handler, frozenset(roles), "api", tag=tag, adapted=True)
    kind: Kind = getattr(entry, "kind", None) or ("page" if getattr(entry, "page", False) else "api")
    return Route(
        str(getattr(entry, "method")),  # noqa: B009 - any object with these attributes
        str(getattr(entry, "path")),  # noqa: B009
        getattr(entry, "handler"),  # noqa: B009
        frozenset(getattr(entry, "roles")),  # noqa: B009
        kind,
        tag=tag,
        adapted=True,
    )


def extension_tables() -> dict[str, tuple[object, ...]]:
    """The ``ROUTES`` of every extension module the gateway loaded (:data:`gateway.app.EXTENSIONS`)."""
    from gateway.app import EXTENSIONS

    tables: dict[str, tuple[object, ...]] = {}
    for name in EXTENSIONS:
        module = sys.modules.get(name)
        table = getattr(module, "ROUTES", None)
        if isinstance(table, tuple):
            tables[name] = table
    return tables


def route_table(app: web.Application) -> list[Route]:
    """Every guarded route of the application, in the router's order: the kit's, and the adapted
    routes of the tables not yet converted."""
    from .guard import route_of

    adapted: dict[tuple[str, str], Route] = {}
    for name, table in extension_tables().items():
        for entry in table:
            route = adapt(entry, tag=name.rsplit(".", 1)[-1])
            adapted.setdefault((route.method, plain_path(route.path)), route)
    found: list[Route] = []
    for resource_route in app.router.routes():
        if resource_route.method == "HEAD":
            continue
        kit = route_of(resource_route.handler)
        if kit is not None:
            found.append(kit)
            continue
        canonical = resource_route.resource.canonical if resource_route.resource is not None else ""
        legacy = adapted.get((resource_route.method, canonical))
        if legacy is not None:
            found.append(legacy)
    return found


# ---------------------------------------------------------------------- the document
class _Schemas:
    """Component schemas of pydantic models, referenced by name."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        name = model.__name__
        if name not in self.components:
            schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
            for def_name, definition in schema.pop("$defs", {}).items():
                self.components.setdefault(def_name, definition)
            self.components[name] = schema
        return {"$ref": REF.format(model=name)}


def _json(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": dict(schema)}}}


def _parameters(path: str) -> list[dict[str, Any]]:
    params = []
    for match in _PARAM.finditer(path):
        schema: dict[str, Any] = {"type": "string"}
        if match.group(2):
            schema["pattern"] = f"^{match.group(2)}$"
        params.append({"name": match.group(1), "in": "path", "required": True, "schema": schema})
    return params


def _responses(route: Route, schemas: _Schemas) -> dict[str, Any]:
    error = schemas.ref(ErrorAnswer, "serialization")
    out: dict[str, Any] = {}
    if route.kind == "page":
        out["200"] = {"description": "The page", "content": {"text/html": {"schema": {"type": "string"}}}}
        out["303"] = {"description": "Not signed in (or done): to the login page or the next page"}
        out["403"] = {"description": "Forbidden (the forbidden page), or CSRF refused"}
        if route.acts_on is not None:
            out["403"]["description"] += (
                f"; not one who may act on the conversation ({route.acts_on.rule_text})"
            )
            out["404"] = {"description": "No such conversation"}
        return out
    if route.kind == "ws":
        out["101"] = {"description": "The live socket"}
    for status, model in sorted(route.answers.items()):
        if issubclass(model, Download):
            content = {model.media_type: {"schema": {"type": "string"}}}
            out[str(status)] = {"description": model.__doc__ or "The file", "content": content}
            continue
        out[str(status)] = _json(schemas.ref(model, "serialization"), model.__doc__ or "The answer")
    if not any(str(s).startswith("2") for s in route.answers) and route.kind == "api":
        # Not declared yet (an adapted table, or a route of a table to be converted): a JSON object,
        # or another type (a download).
        out["2XX"] = _json({"type": "object"}, "The answer (not declared yet)")
        out["2XX"]["content"]["*/*"] = {}
    out["401"] = _json(error, "Not signed in")
    out["403"] = _json(error, "Another role, or (POST) no valid CSRF token")
    if route.acts_on is not None:
        acts = route.acts_on
        out["403"]["description"] += (
            f"; or `{acts.code}`: not one who may act on the conversation ({acts.rule_text}), audited"
        )
        out["404"] = _json(error, "`not_found`: no such conversation (or item of one)")
    if route.body is not None:
        out["400"] = _json(error, "The body is not a JSON object")
        out["413"] = {"description": f"The body is larger than {MAX_BODY} bytes"}
        out["422"] = _json(error, "Refused input: `fields` names each refused field")
    out["default"] = _json(error, "Another refusal (not found, conflict, unavailable)")
    return out


def _operation(route: Route, schemas: _Schemas, operation_id: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": route.title,
        "tags": [route.tag or str(getattr(route.handler, "__module__", "console")).split(".")[1]],
        "security": [{"session": [], "csrf": []} if route.method == "POST" else {"session": []}],
        "responses": _responses(route, schemas),
        "x-roles": sorted(route.roles),
        "x-kind": route.kind,
    }
    params = _parameters(route.path)
    if route.idempotency is not None:
        op["x-idempotency"] = route.idempotency
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
            }
        )
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": schemas.ref(route.body, "validation")}},
        }
    if route.acts_on is not None:
        op["x-acts-on"] = {"conversation": route.acts_on.source, "refusal": route.acts_on.code}
    if route.adapted:
        op["x-adapted"] = True
    return op


def document(routes: Iterable[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for route in routes:
        base = f"{route.method.lower()}_{getattr(route.handler, '__name__', 'handler')}"
        operation_id, n = base, 1
        while operation_id in used:
            n += 1
            operation_id = f"{base}_{n}"
        used.add(operation_id)
        paths.setdefault(plain_path(route.path), {})[route.method.lower()] = _operation(
            route, schemas, operation_id
        )
    paths[OPENAPI_PATH] = {
        "get": {
            "operationId": "get_openapi",
            "summary": "This document",
            "tags": ["meta"],
            "security": [],
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document")},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Helpline gateway: console, handoff and administration API",
            "version": __version__,
            "description": "Every route needs the console's session cookie and one of the roles in "
            '`x-roles`; POSTs the `X-CSRF-Token` header.  Errors: `{"error": code}`, with '
            "`fields` (field -> message) for refused input.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "hl_console"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
    }


async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI document of the application's routes (public: it describes no data)."""
    cache = request.app[OPENAPI_CACHE]
    if "document" not in cache:
        cache["document"] = document(route_table(request.app))
    return web.json_response(cache["document"], headers={"Cache-Control": "no-cache"})


def setup(app: web.Application) -> None:
    app[OPENAPI_CACHE] = {}
    app.router.add_get(OPENAPI_PATH, openapi_json)


__all__ = ["OPENAPI_PATH", "adapt", "document", "extension_tables", "plain_path", "route_table", "setup"]
