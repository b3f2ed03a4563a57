"""A web chat resumed with its code after the close: the person may write again, which starts a new
conversation under the same secret, so the console's Person panel recognises them; a tab that only
saw the close (no code) is still told the conversation is closed."""

from __future__ import annotations

from sqlalchemy import select

from gateway.store.models import Conversation
from handoff.history.person import person_view
from tests.bots.webchat.conftest import ChatGateway


async def test_a_resumed_chat_after_the_close_is_a_returning_person(chat: ChatGateway) -> None:
    v = await chat.visitor()
    await v.hello()
    await v.write("jag oroar mig för min bror", "client-0001")
    first = (await v.expect(lambda f: f["type"] == "welcome" and f["conversation_id"]))["conversation_id"]
    await v.send(type="continue_later")
    code = (await v.expect(lambda f: f["type"] == "resume_code"))["code"]
    anna = await chat.user("anna")
    await chat.pipeline.staff.claim(first, anna)
    await chat.pipeline.staff.close(first, anna)
    await v.expect(lambda f: f["type"] == "closed")
    refused = await v.write("hallå?", "client-0002")
    assert refused["type"] == "error" and refused["code"] == "closed"
    await v.close()

    later = await chat.visitor()
    back = await later.hello(resume={"code": code})
    assert back["conversation_id"] == first
    await later.settle()
    ack = await later.write("det har hänt något nytt", "client-0003")
    assert ack["type"] == "ack", ack
    second = (await later.expect(lambda f: f["type"] == "welcome" and f["conversation_id"] != first))[
        "conversation_id"
    ]
    async with chat.db.session() as session:
        conv = (await session.execute(select(Conversation).where(Conversation.id == second))).scalar_one()
        view = await person_view(session, conv)
    assert [e["conversation_id"] for e in view["earlier"]] == [first]

    # Asking not to be recognised: the code no longer leads to the earlier conversation either.
    await later.write("glöm mig mellan samtalen", "client-0004")
    await later.expect(lambda f: f["type"] == "message" and f["kind"] == "system")
    again = await chat.visitor()
    await again.send(type="hello", lang="sv", resume={"code": code})
    frames = await again.settle()
    assert frames[0]["code"] == "resume_failed"
    async with chat.db.session() as session:
        old = await session.get(Conversation, first)
        assert old is not None and old.resume_code_hash is None and old.pseudonym.startswith("u:")
