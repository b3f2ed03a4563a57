"""Admins edit scenarios (checked: an invalid one is refused and nothing saved) and require some
before a trainee may be made a counsellor; old training sessions are purged on their own schedule."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from gateway.envelope import utcnow
from gateway.store import repo
from handoff.training import service
from handoff.training.models import TrainingMessage, TrainingSession
from handoff.training.scenarios import shipped
from tests.handoff.console.conftest import Console

API = "/console/api/training"
DOCUMENTATION = {
    "contact_type": "relative",
    "relation": "sibling",
    "environment": "violent_right_wing",
    "age_group": "15_17",
    "gender": "male",
    "advice_given": ["how_to_talk"],
    "referral_made": True,
    "crime_information_passed": False,
    "outcome": "referred",
    "summary": "Övning: syster orolig för lillebror.",
}


async def test_an_admin_edits_a_scenario_and_an_invalid_one_is_refused_naming_the_problem(
    console: Console,
) -> None:
    admin = await console.signed_in("t_admin", "admin")
    trainee = await console.signed_in("t_trainee", "trainee")
    assert (await admin.get("/console/training/scenarios")).status == 200
    assert (await trainee.get("/console/training/scenarios")).status == 403
    assert (await trainee.get(f"{API}/scenarios/brother_drifting")).status == 403
    original = (await (await admin.get(f"{API}/scenarios/brother_drifting")).json())["source"]
    assert original == shipped()["brother_drifting"]

    broken = original.replace("goto: noticed", "goto: nowhere")
    resp = await admin.post(f"{API}/scenarios/brother_drifting", {"source": broken})
    assert resp.status == 422
    answer = await resp.json()
    assert answer["error"] == "scenario_invalid" and "'nowhere' is not a node" in answer["fields"]["source"]
    resp = await admin.post(f"{API}/scenarios/teacher_worried", {"source": original})  # another id
    assert resp.status == 422

    edited = original.replace("Lillebror har fått nya vänner", "Lillebror och de nya vännerna")
    resp = await admin.post(f"{API}/scenarios/brother_drifting", {"source": edited})
    assert resp.status == 200 and (await resp.json())["edited"] is True
    listed = (await (await trainee.get(f"{API}/scenarios")).json())["scenarios"]
    assert "Lillebror och de nya vännerna" in [s["title"] for s in listed]
    assert len(listed) == len(shipped())


async def test_a_required_scenario_must_be_done_before_a_trainee_becomes_a_counsellor(
    console: Console,
) -> None:
    admin = await console.signed_in("t_admin", "admin")
    trainee = await console.signed_in("t_trainee", "trainee")
    resp = await admin.post(f"{API}/scenarios/brother_drifting/required", {"required": True})
    assert (await resp.json())["required"] is True
    async with console.db.session() as session:
        user = await repo.user_by_name(session, "t_trainee")
        assert user is not None
        user_id = user.id
    promote = f"/console/api/staff/{user_id}/edit"
    resp = await admin.post(promote, {"role": "counsellor"})
    assert resp.status == 409 and (await resp.json())["error"] == "training_required"
    progress = await (await trainee.get(f"{API}/progress")).json()
    assert progress["missing_required"] == ["brother_drifting"]
    theirs = await (await admin.get(f"{API}/progress?user=t_trainee")).json()  # before granting the role
    assert (theirs["user"], theirs["missing_required"]) == ("t_trainee", ["brother_drifting"])
    assert (await trainee.get(f"{API}/progress?user=t_admin")).status == 403
    assert (await admin.get(f"{API}/progress?user=nobody")).status == 404

    sid = (await (await trainee.post(f"{API}/sessions", {"scenario_id": "brother_drifting"})).json())["id"]
    await trainee.post(f"{API}/console/conversations/{sid}/claim")
    await trainee.post(f"{API}/console/conversations/{sid}/close", {})
    progress = await (await trainee.get(f"{API}/progress")).json()
    assert progress["missing_required"] == ["brother_drifting"]  # closed, not yet documented
    resp = await trainee.post(f"{API}/console/conversations/{sid}/documentation", {"values": DOCUMENTATION})
    assert resp.status == 200, await resp.text()
    assert (await (await trainee.get(f"{API}/progress")).json())["missing_required"] == []
    resp = await admin.post(promote, {"role": "counsellor"})
    assert resp.status == 200 and (await resp.json())["user"]["role"] == "counsellor"


async def test_training_sessions_are_purged_after_their_own_keep_time(console: Console) -> None:
    trainee = await console.signed_in("t_trainee", "trainee")
    old = (await (await trainee.post(f"{API}/sessions", {"scenario_id": "son_took_pills"})).json())["id"]
    new = (await (await trainee.post(f"{API}/sessions", {"scenario_id": "cousin_travel"})).json())["id"]
    async with console.db.session() as session:
        row = await session.get(TrainingSession, old)
        assert row is not None
        row.started_at = utcnow() - timedelta(days=15)
    async with console.db.session() as session:
        assert await service.purge(session, keep_days=14) == 1
    async with console.db.session() as session:
        assert await session.get(TrainingSession, old) is None
        assert await session.get(TrainingSession, new) is not None
        left = await session.execute(
            select(func.count()).select_from(TrainingMessage).where(TrainingMessage.session_id == old)
        )
        assert left.scalar_one() == 0
