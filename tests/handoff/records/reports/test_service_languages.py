"""Issue 19, item 6: reports and the situational picture count contacts per language (the
conversation's language), small cells suppressed like every other cell."""

from __future__ import annotations

from sqlalchemy import select, update

from gateway.store.db import Database
from gateway.store.models import Conversation
from handoff.records.reports.service import PRIMARY, SECONDARY, build_report, render
from tests.handoff.records.reports.test_service import END, START, dim, generate, recovered


async def test_contacts_are_counted_per_language_and_small_cells_hidden(sqlite_store: Database) -> None:
    await generate(sqlite_store)  # 31 conversations, Swedish unless changed below
    async with sqlite_store.session() as session:
        ids = list((await session.scalars(select(Conversation.id).order_by(Conversation.created_at))).all())
        await session.execute(update(Conversation).where(Conversation.id.in_(ids[:8])).values(language="ar"))
        await session.execute(
            update(Conversation).where(Conversation.id.in_(ids[8:10])).values(language="so")
        )
        await session.execute(
            update(Conversation).where(Conversation.id.in_(ids[10:16])).values(language="en")
        )
    report = await build_report(sqlite_store, START, END)
    languages = dim(report, "language")
    assert (languages["sv"], languages["ar"], languages["en"]) == (15, 8, 6)
    assert languages["so"] in (PRIMARY, SECONDARY)  # two people: never published
    language = next(d for d in report["dimensions"] if d["key"] == "language")
    assert recovered([c["value"] for c in language["cells"]], language["total"]) in (None, 0)
    html = render(report, "html")
    assert "Språk" in html and "Arabiska" in html and "Somaliska" in html
    assert "language" in render(report, "csv")
