"""The counsellor's correction of the triage of a person's message (``POST .../correction``).

The route is in the console's table (:data:`handoff.console.ROUTES`): signed in, a console role,
CSRF, the body checked against :class:`~handoff.console.schemas.CorrectionBody`; the handler checks
that the counsellor holds the conversation (:func:`handoff.corrections.propose`).
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from gateway.appkeys import DB
from gateway.errors import NotFound
from gateway.store import repo
from handoff.corrections import CorrectionRefused, as_dict, check_input, propose
from handoff.web.validation import body

from .schemas import CorrectionBody
from .security import Staff
from .views import conversation_id, error


async def api_correct(request: web.Request, staff: Staff) -> web.StreamResponse:
    given = body(request, CorrectionBody).model_dump()
    conv_id, message_id = conversation_id(request), request.match_info["message_id"]
    db = request.app[DB]
    try:
        intent, danger = check_input(given)
        for attempt in range(2):
            try:
                async with db.session() as session:
                    row, created = await propose(session, conv_id, message_id, staff.user, intent, danger)
                    data = as_dict(row, counsellor=staff.user.username)
                break
            except IntegrityError:  # the same counsellor's first correction, twice at once
                if attempt:
                    raise
    except NotFound:
        return error(404, "not_found")
    except CorrectionRefused as exc:
        if exc.code == "not_assigned_to_you":
            async with db.session() as session:
                await repo.audit(
                    session,
                    "triage.correction.denied",
                    actor=staff.user,
                    conversation_id=conv_id,
                    details={"message_id": message_id},
                )
        return error(exc.status, exc.code)
    return web.json_response({"correction": data}, status=201 if created else 200)


__all__ = ["api_correct"]
