"""The simulated person takes their time: a line shows after its typing delay (``typing`` until
then), and a trainee who stays silent gets the script's follow-up, once per reader, not twice."""

from __future__ import annotations

import asyncio

from handoff.training import service, views
from handoff.training.scenarios import parse, shipped
from tests.handoff.console.conftest import Console

HOT = parse(shipped()["hot_threat_friday"])


def person(view: dict[str, object]) -> list[str]:
    messages = view["messages"]
    assert isinstance(messages, list)
    return [m["text"] for m in messages if m["kind"] == "person"]


async def test_the_person_types_before_a_line_shows(console: Console) -> None:
    user = await console.user("t_slow", "trainee")
    async with console.db.session() as session:
        ts = await service.start(session, HOT, user, console.triager, service.Pace(scale=1.0))
        view = await views.view(session, ts, "sv", supervisor=False)
    assert person(view) == ["hej"] and view["typing"] is True  # the second line takes some 20 s


async def test_a_silent_trainee_gets_the_follow_ups_of_the_script(console: Console) -> None:
    user = await console.user("t_silent", "trainee")
    pace = service.Pace(scale=0.04)  # 45 s of silence: 1.8 s, the second follow-up at 3.6 s
    async with console.db.session() as session:
        ts = await service.start(session, HOT, user, console.triager, pace)
        await service.claim(session, ts, user)
        sid = ts.id
    await asyncio.sleep(2.0)
    for _ in range(3):  # several reads in the same silence: one follow-up
        async with console.db.session() as session:
            ts = await service.get(session, sid, for_update=True)
            await service.tick(session, ts, console.triager, pace)
    async with console.db.session() as session:
        ts = await service.get(session, sid)
        view = await views.view(session, ts, "sv", supervisor=False)
    assert person(view)[2:] == ["är du kvar?"]
    await asyncio.sleep(1.8)  # twice the silence: the second follow-up, and no third
    for _ in range(2):
        async with console.db.session() as session:
            ts = await service.get(session, sid, for_update=True)
            await service.tick(session, ts, console.triager, pace)
    await asyncio.sleep(1.8)
    async with console.db.session() as session:
        ts = await service.get(session, sid, for_update=True)
        await service.tick(session, ts, console.triager, pace)
        view = await views.view(session, ts, "sv", supervisor=False)
    assert person(view)[2:] == ["är du kvar?", "jag kanske inte skulle ha skrivit"]
