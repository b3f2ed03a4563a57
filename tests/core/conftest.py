"""A running gateway (store + broker + pipeline + memory channel) for core tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.memory import MemoryAdapter
from gateway.app import create_app
from gateway.appkeys import DB, PIPELINE
from gateway.auth import create_user
from gateway.config import Settings, load_settings
from gateway.envelope import Priority
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from gateway.store.models import StaffUser
from nlu.result import INTENT_PRIORITY, TriageResult


class KeywordTriager:
    """A small, deterministic triager for core tests, so that they do not depend on the model."""

    RULES = (
        ("urgent_threat", ("bomb", "attack", "spränga", "döda")),
        ("self_harm", ("inte leva", "kill myself", "ta mitt liv")),
        ("travel_conflict", ("syrien", "syria")),
        ("leave_movement", ("lämna rörelsen", "leave the movement")),
        ("greet", ("hej", "hello")),
        ("info_request", ("anonym",)),
    )

    def __init__(self) -> None:
        self.fail = False

    async def parse(self, text: str, language_hint: str | None = None) -> TriageResult:
        if self.fail:
            raise RuntimeError("triage backend exploded")
        low = text.lower()
        intent = next(
            (name for name, words in self.RULES if any(w in low for w in words)), "concern_relative"
        )
        if intent == "greet" and len(low.split()) > 3:
            intent = "concern_relative"
        return TriageResult(
            text=text,
            intent=intent,
            confidence=0.9,
            language=language_hint or ("en" if " the " in f" {low} " else "sv"),
            priority=INTENT_PRIORITY[intent],
            safe_response=f"SAFE:{intent}",
            intent_ranking=((intent, 0.9),),
            backend="keyword-test",
        )

    def health(self) -> dict[str, Any]:
        return {"state": "ok", "backend": "keyword-test"}


@dataclass
class Gateway:
    settings: Settings
    client: TestClient[Any, Any]
    memory: MemoryAdapter
    triager: KeywordTriager

    @property
    def pipeline(self) -> Pipeline:
        pipeline: Pipeline = self.client.app[PIPELINE]
        return pipeline

    @property
    def db(self) -> Database:
        db: Database = self.client.app[DB]
        return db

    async def user(self, name: str, role: str = "counsellor", capacity: int = 3) -> StaffUser:
        async with self.db.session() as session:
            return await create_user(session, name, "correct horse battery", role, capacity=capacity)


def make_settings(db_url: str, tmp_path: Path, **extra: Any) -> Settings:
    overrides = {
        "database_url": db_url,
        "data_dir": str(tmp_path / "data"),
        "channels": {"memory": {"enabled": True}, "webchat": {"enabled": False}},
        "broker.reclaim_idle": 0.5,
        # The tests speak plain http to the console.
        "development": True,
        "console.secure_cookies": False,
        **extra,
    }
    return load_settings(environ={}, overrides=overrides)


@pytest.fixture
async def gateway(db_url: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    settings = make_settings(db_url, tmp_path)
    memory = MemoryAdapter(pseudonym_key=settings.pseudonym_key)
    triager = KeywordTriager()
    app = create_app(settings, triager=triager, adapters=[memory])
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Gateway(settings, client, memory, triager)
    finally:
        await client.close()


__all__ = ["Gateway", "KeywordTriager", "Priority", "make_settings"]
