"""Model versions and the registry state in the database: :class:`DbArtifactStore`."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import utcnow
from gateway.store.db import Database
from handoff.triage_admin.models import ModelStatus, ModelVersion, RegistryEntry
from nlu.classifier import ModelArtifact
from nlu.registry import STATE_KEY

MODEL_PREFIX = "model-"


T = TypeVar("T")


class StateConflict(RuntimeError):
    """The registry state changed in another process between reading and writing it."""


# ---------------------------------------------------------------------- artifact store in the DB
class DbArtifactStore:
    """:class:`nlu.registry.ArtifactStore` over the database.

    Keys ``model-<version>`` are rows of ``triage_model_versions``; other keys (the registry
    state) are rows of ``triage_registry_kv``.  The synchronous methods the registry calls are for
    worker threads only (they run the query on the application's event loop and wait); on the
    loop use the ``a*`` methods.

    Writing the registry state is conditional on the revision this thread last read, so that two
    processes activating at the same moment cannot lose an update (:class:`StateConflict`); in
    the same transaction the ``status`` of the versions follows the state (the active one
    ``active``, one that was active before ``retired``).
    """

    def __init__(self, db: Database, loop: asyncio.AbstractEventLoop) -> None:
        self.db = db
        self.loop = loop
        self._seen = threading.local()

    # -- async ---------------------------------------------------------------------------------
    async def aget(self, key: str) -> bytes | None:
        value, _ = await self._get(key)
        return value

    async def _get(self, key: str) -> tuple[bytes | None, int]:
        async with self.db.session() as session:
            if key.startswith(MODEL_PREFIX):
                version = key[len(MODEL_PREFIX) :]
                blob = await session.scalar(
                    select(ModelVersion.artifact).where(ModelVersion.version == version)
                )
                return (bytes(blob) if blob is not None else None), 0
            row = (
                await session.execute(
                    select(RegistryEntry.value, RegistryEntry.revision).where(RegistryEntry.key == key)
                )
            ).first()
            if row is None:
                return None, 0
            return bytes(row[0]), int(row[1])

    async def aput(self, key: str, data: bytes, expected_revision: int | None = None, **meta: Any) -> None:
        if key.startswith(MODEL_PREFIX):
            await self._put_model(key[len(MODEL_PREFIX) :], data, meta)
        else:
            await self._put_entry(key, data, expected_revision)

    async def akeys(self) -> list[str]:
        async with self.db.session() as session:
            versions = (await session.scalars(select(ModelVersion.version))).all()
            others = (await session.scalars(select(RegistryEntry.key))).all()
        return sorted([MODEL_PREFIX + v for v in versions] + list(others))

    async def _put_model(self, version: str, data: bytes, meta: dict[str, Any]) -> None:
        artifact = await asyncio.to_thread(ModelArtifact.from_bytes, data)
        if artifact.version != version:
            raise ValueError(f"artifact {artifact.version!r} stored under version {version!r}")
        async with self.db.session() as session:
            row = await session.get(ModelVersion, version)
            if row is None:
                session.add(
                    ModelVersion(
                        version=version,
                        artifact=data,
                        status=ModelStatus.CANDIDATE.value,
                        metrics=artifact.metrics,
                        data_hash=artifact.data_hash,
                        n_examples=artifact.n_examples,
                        dataset_revision=meta.get("dataset_revision"),
                        note=str(meta.get("note", artifact.note))[:200],
                        created_at=utcnow(),
                        created_by=str(meta.get("created_by", "system"))[:64],
                        reason="",
                    )
                )
            else:
                row.artifact = data
                row.metrics = artifact.metrics
                row.data_hash = artifact.data_hash
                row.n_examples = artifact.n_examples

    async def _put_entry(self, key: str, data: bytes, expected: int | None) -> None:
        try:
            async with self.db.session() as session:
                if expected is None:
                    row = await session.get(RegistryEntry, key)
                    if row is None:
                        session.add(RegistryEntry(key=key, value=data, revision=1, updated_at=utcnow()))
                    else:
                        row.value, row.revision, row.updated_at = data, row.revision + 1, utcnow()
                elif expected == 0:
                    session.add(RegistryEntry(key=key, value=data, revision=1, updated_at=utcnow()))
                    await session.flush()
                else:
                    result = await session.execute(
                        update(RegistryEntry)
                        .where(RegistryEntry.key == key, RegistryEntry.revision == expected)
                        .values(value=data, revision=expected + 1, updated_at=utcnow())
                    )
                    if getattr(result, "rowcount", 1) != 1:
                        raise StateConflict(key)
                if key == STATE_KEY:
                    await self._follow_state(session, data)
        except IntegrityError:
            raise StateConflict(key) from None

    @staticmethod
    async def _follow_state(session: AsyncSession, data: bytes) -> None:
        state = json.loads(data)
        active = state.get("active")
        await session.execute(
            update(ModelVersion)
            .where(ModelVersion.status == ModelStatus.ACTIVE.value, ModelVersion.version != (active or ""))
            .values(status=ModelStatus.RETIRED.value)
        )
        if active:
            await session.execute(
                update(ModelVersion)
                .where(ModelVersion.version == active)
                .values(status=ModelStatus.ACTIVE.value)
            )

    async def active_version(self) -> str | None:
        raw = await self.aget(STATE_KEY)
        if raw is None:
            return None
        active = json.loads(raw).get("active")
        return str(active) if active else None

    async def history(self) -> list[str]:
        raw = await self.aget(STATE_KEY)
        return [str(v) for v in json.loads(raw).get("history", [])] if raw else []

    # -- sync (ArtifactStore protocol; worker threads only) -------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            coro.close()
            raise RuntimeError("DbArtifactStore: a blocking call on the event loop; use the async methods")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    def put(self, key: str, data: bytes) -> None:
        expected: int | None = None
        if not key.startswith(MODEL_PREFIX):
            expected = getattr(self._seen, key, None)
        self._call(self.aput(key, data, expected))
        if not key.startswith(MODEL_PREFIX):
            setattr(self._seen, key, None if expected is None else expected + 1)

    def get(self, key: str) -> bytes | None:
        value, revision = self._call(self._get(key))
        if not key.startswith(MODEL_PREFIX):
            setattr(self._seen, key, revision)
        return value

    def keys(self) -> list[str]:
        return self._call(self.akeys())
