"""The triage admin as an extension of the gateway: the admin's page at ``/console/triage``, its
routes (:mod:`handoff.triage_admin.data_web`, :mod:`handoff.triage_admin.models_web`) and the
corrections' (:mod:`handoff.triage_admin.corrections_admin`), each a :class:`handoff.web.Route`
behind the web kit's guard (session, role, CSRF on POST, the body: 422 with ``fields``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import BROKER, DB, TRIAGER
from gateway.broker.base import Subscription
from gateway.tasks import cancel_and_wait
from handoff.console.i18n import intent_labels, language_name
from handoff.console.security import Staff
from handoff.triage_admin import corrections_admin
from handoff.triage_admin.data_web import (
    api_add_example,
    api_edit_example,
    api_examples,
    api_export,
    api_intents,
    api_parse,
    api_remove_example,
    api_reset_response,
    api_responses,
    api_set_response,
)
from handoff.triage_admin.models_web import api_activate, api_job, api_models, api_rollback, api_train
from handoff.triage_admin.schemas import (
    ActivationAnswer,
    ActivationRefusedAnswer,
    EditExampleBody,
    ExampleAnswer,
    ExampleBody,
    ExamplesAnswer,
    IntentsAnswer,
    JobAnswer,
    ModelsAnswer,
    ParseAnswer,
    ParseBody,
    ResponseAnswer,
    ResponseKeyBody,
    ResponsesAnswer,
    RevisionAnswer,
    SetResponseBody,
    TrainingDataDownload,
    TrainingStartedAnswer,
)
from handoff.triage_admin.service import TriageAdmin
from handoff.triage_admin.state import RESYNC_SECONDS, TOPIC_NLU
from handoff.triage_admin.web_base import (
    API,
    JOB_RE,
    STATIC_DIR,
    STATIC_FILES,
    TRIAGE_ADMIN,
    VERSION_RE,
    render_admin,
)
from handoff.web import ADMIN_ROLES, Route
from handoff.web.guard import add_routes
from nlu.result import INTENTS, LANGUAGES

log = logging.getLogger(__name__)


async def triage_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render_admin(
        request,
        staff,
        "admin_triage.html",
        intents=[(i, intent_labels(staff.lang)[i]) for i in INTENTS],
        languages=LANGUAGES,
        language_names={code: language_name(code, staff.lang) for code in LANGUAGES},
    )


async def admin_static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    body = await asyncio.to_thread((STATIC_DIR / name).read_bytes)
    return web.Response(body=body, content_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})


# ---------------------------------------------------------------------- routes and setup
ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/console/triage",
        triage_page,
        ADMIN_ROLES,
        "page",
        summary="The triage admin's page",
    ),
    Route(
        "GET",
        API + "/intents",
        api_intents,
        ADMIN_ROLES,
        answers={200: IntentsAnswer},
        summary="The intents and their examples' counts",
    ),
    Route(
        "GET",
        API + "/examples",
        api_examples,
        ADMIN_ROLES,
        answers={200: ExamplesAnswer},
        summary="The training examples of an intent",
    ),
    Route(
        "GET",
        API + "/export",
        api_export,
        ADMIN_ROLES,
        answers={200: TrainingDataDownload},
        summary="The training data as Rasa NLU YAML (a download)",
    ),
    Route(
        "POST",
        API + "/examples",
        api_add_example,
        ADMIN_ROLES,
        body=ExampleBody,
        answers={201: ExampleAnswer},
        summary="Add a training example",
    ),
    Route(
        "POST",
        API + "/examples/edit",
        api_edit_example,
        ADMIN_ROLES,
        body=EditExampleBody,
        answers={200: ExampleAnswer},
        summary="Change a training example",
    ),
    Route(
        "POST",
        API + "/examples/remove",
        api_remove_example,
        ADMIN_ROLES,
        body=ExampleBody,
        answers={200: RevisionAnswer},
        summary="Remove a training example",
    ),
    Route(
        "GET",
        API + "/responses",
        api_responses,
        ADMIN_ROLES,
        answers={200: ResponsesAnswer},
        summary="The safe responses",
    ),
    Route(
        "POST",
        API + "/responses",
        api_set_response,
        ADMIN_ROLES,
        body=SetResponseBody,
        answers={200: ResponseAnswer},
        summary="Change a safe response",
    ),
    Route(
        "POST",
        API + "/responses/reset",
        api_reset_response,
        ADMIN_ROLES,
        body=ResponseKeyBody,
        answers={200: ResponseAnswer},
        summary="Return a safe response to the shipped one",
    ),
    Route(
        "POST",
        API + "/parse",
        api_parse,
        ADMIN_ROLES,
        body=ParseBody,
        answers={200: ParseAnswer},
        summary="Try a sentence with the running triage",
    ),
    Route(
        "GET",
        API + "/models",
        api_models,
        ADMIN_ROLES,
        answers={200: ModelsAnswer},
        summary="The model versions",
    ),
    Route(
        "POST",
        API + "/train",
        api_train,
        ADMIN_ROLES,
        answers={202: TrainingStartedAnswer},
        summary="Train a candidate model",
    ),
    Route(
        "GET",
        API + "/train/" + JOB_RE,
        api_job,
        ADMIN_ROLES,
        answers={200: JobAnswer},
        summary="A training job",
    ),
    Route(
        "POST",
        API + "/models/" + VERSION_RE + "/activate",
        api_activate,
        ADMIN_ROLES,
        answers={200: ActivationAnswer, 409: ActivationRefusedAnswer},
        summary="Activate a model version (gated)",
    ),
    Route(
        "POST",
        API + "/rollback",
        api_rollback,
        ADMIN_ROLES,
        answers={200: ActivationAnswer},
        summary="Roll back to the model active before",
    ),
    *corrections_admin.ROUTES,
)
"""Every route of the triage admin, the counsellors' corrections' included, each added through the
web kit's guard (session, role, CSRF on POST, the body)."""


RESYNC_INTERVAL = web.AppKey("triage_admin_resync_seconds", float)
_SET_UP = web.AppKey("triage_admin_set_up", bool)


def setup(app: web.Application, *, resync_seconds: float | None = None) -> None:
    """Add the triage admin to the gateway (after :func:`handoff.console.setup`).

    At start this process loads the active model and the responses from the database, listens on
    the ``nlu`` fan-out, and checks the database every ``resync_seconds`` (default
    :data:`RESYNC_SECONDS`).  Calling it again only changes ``resync_seconds``.
    """
    if resync_seconds is not None:
        app[RESYNC_INTERVAL] = float(resync_seconds)
    if app.get(_SET_UP):
        return
    app[_SET_UP] = True

    async def admin_ctx(app: web.Application) -> AsyncIterator[None]:
        admin = TriageAdmin(app[DB], app[BROKER], app[TRIAGER], asyncio.get_running_loop())
        app[TRIAGE_ADMIN] = admin
        try:
            await admin.sync()
        except Exception as exc:  # the gateway still triages with the model it started with
            log.error("nlu: could not load the admins' model and responses at start: %s", exc)
        sub: Subscription = await app[BROKER].fanout(TOPIC_NLU, admin.on_event)
        interval = app.get(RESYNC_INTERVAL, RESYNC_SECONDS)
        task = asyncio.create_task(admin.resync_forever(interval), name="nlu resync")
        yield
        await cancel_and_wait(task)
        await sub.cancel()
        await admin.stop()

    app.cleanup_ctx.append(admin_ctx)
    app.router.add_get("/console/admin-static/{name}", admin_static)
    add_routes(app, ROUTES)


__all__ = ["ROUTES", "setup"]
