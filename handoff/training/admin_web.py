"""The admins' page of training scenarios: the YAML of each (edited in a checked editor: an invalid
scenario is refused naming what is wrong, and nothing is saved) and which ones are required before
a trainee may be made a counsellor."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.appkeys import DB
from gateway.envelope import utcnow
from gateway.errors import InvalidInput, NotFound
from gateway.store import repo
from handoff.console.security import Staff
from handoff.console.views import render
from handoff.web import ADMIN_ROLES, Route
from handoff.web.roles import TRAINING_ROLES
from handoff.web.validation import body

from . import service
from .models import TrainingScenario
from .scenarios import ScenarioError, parse, sources
from .schemas import (
    TrainingRequiredBody,
    TrainingScenariosAnswer,
    TrainingScenarioSourceBody,
    TrainingSourceAnswer,
)

API = "/console/api/training"
SCENARIO = API + "/scenarios/{scenario_id:[a-z0-9_]{1,64}}"


async def admin_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(request, "training_admin.html", staff.lang, staff=staff, user=staff.user)


async def api_scenarios(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Every scenario (title and summary in the caller's language); a broken one is named in
    ``problems`` instead of hiding the others."""
    listed: list[dict[str, Any]] = []
    problems: dict[str, list[str]] = {}
    async with request.app[DB].session() as session:
        required = set(await service.required(session))
        for sid, (text, edited) in (await sources(session)).items():
            try:
                s = parse(text)
            except ScenarioError as exc:
                problems[sid] = exc.problems
                continue
            listed.append(
                {
                    "id": s.id,
                    "title": s.title_in(staff.lang),
                    "summary": s.summary.en if staff.lang == "en" else s.summary.sv,
                    "language": s.language,
                    "channel": s.channel,
                    "required": s.id in required,
                    "edited": edited,
                }
            )
    return web.json_response({"scenarios": listed, "problems": problems})


async def _source(session: Any, scenario_id: str) -> dict[str, Any]:
    found = (await sources(session)).get(scenario_id)
    if found is None:
        raise NotFound("unknown_scenario")
    return {
        "id": scenario_id,
        "source": found[0],
        "edited": found[1],
        "required": scenario_id in await service.required(session),
    }


async def api_source(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        found = await _source(session, request.match_info["scenario_id"])
    return web.json_response(found)


async def api_save(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Save an admin's scenario: valid, and its ``id`` the path's (a new id adds a scenario)."""
    text = body(request, TrainingScenarioSourceBody).source
    scenario_id = request.match_info["scenario_id"]
    try:
        scenario = parse(text)
    except ScenarioError as exc:
        raise InvalidInput("scenario_invalid", fields={"source": "; ".join(exc.problems)}) from None
    if scenario.id != scenario_id:
        raise InvalidInput("scenario_invalid", fields={"source": f"id: must be {scenario_id!r}"})
    async with request.app[DB].session() as session:
        row = await session.get(TrainingScenario, scenario_id)
        if row is None:
            session.add(TrainingScenario(id=scenario_id, source=text, updated_by=staff.user.id))
        else:
            row.source, row.updated_by, row.updated_at = text, staff.user.id, utcnow()
        await repo.audit(
            session, "training.scenario_saved", actor=staff.user, details={"scenario": scenario_id}
        )
        await session.flush()
        found = await _source(session, scenario_id)
    return web.json_response(found)


async def api_required(request: web.Request, staff: Staff) -> web.StreamResponse:
    on = body(request, TrainingRequiredBody).required
    async with request.app[DB].session() as session:
        found = await _source(session, request.match_info["scenario_id"])
        await service.set_required(session, found["id"], on, staff.user)
        await repo.audit(
            session, "training.required", actor=staff.user, details={"scenario": found["id"], "required": on}
        )
        found["required"] = on
    return web.json_response(found)


ROUTES: tuple[Route, ...] = (
    Route(
        "GET", "/console/training/scenarios", admin_page, ADMIN_ROLES, "page", summary="Training scenarios"
    ),
    Route(
        "GET",
        API + "/scenarios",
        api_scenarios,
        TRAINING_ROLES,
        answers={200: TrainingScenariosAnswer},
        summary="The training scenarios",
        tag="training",
    ),
    Route(
        "GET",
        SCENARIO,
        api_source,
        ADMIN_ROLES,
        answers={200: TrainingSourceAnswer},
        summary="A training scenario's YAML",
        tag="training",
    ),
    Route(
        "POST",
        SCENARIO,
        api_save,
        ADMIN_ROLES,
        body=TrainingScenarioSourceBody,
        answers={200: TrainingSourceAnswer},
        summary="Save a training scenario (checked; an invalid one is refused)",
        tag="training",
    ),
    Route(
        "POST",
        SCENARIO + "/required",
        api_required,
        ADMIN_ROLES,
        body=TrainingRequiredBody,
        answers={200: TrainingSourceAnswer},
        summary="Require a scenario before the counsellor role (or not)",
        tag="training",
    ),
)
