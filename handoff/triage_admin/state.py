"""The triage admin's shared state: the running model and the responses kept in step with the
database (the ``nlu`` fan-out and a resync), and the training data's revisions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.broker.base import Broker, Event
from gateway.envelope import utcnow
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import StaffUser
from handoff.triage_admin.artifacts import MODEL_PREFIX, DbArtifactStore
from handoff.triage_admin.models import DatasetRevision, ResponseOverride
from nlu.classifier import ModelArtifact
from nlu.data import Dataset, load_test_data, load_training_data
from nlu.evaluate import evaluate
from nlu.registry import ModelRegistry
from nlu.responses import ResponseBook, ResponseError, check_response, default_responses
from nlu.result import Triager
from nlu.text import fold
from nlu.triage import EmbeddedTriager

log = logging.getLogger(__name__)

TOPIC_NLU = "nlu"
RESYNC_SECONDS = 30.0
"""Every process compares its model and responses with the database this often (fan-out is best effort)."""
STALE_JOB = timedelta(minutes=15)
"""A training job still ``running`` after this long was interrupted (its process stopped)."""
MAX_EXAMPLE_CHARS = 500
MAX_RESPONSE_CHARS = 2000
MAX_PARSE_CHARS = 4000


class AdminError(Exception):
    """A refusal the admin is told about: HTTP status, code, (optionally) the detail (for the log and
    tests: what was refused, or the check that failed) and the field of the input it refuses, which
    the answer names (``{"error": code, "fields": {field: words}}``, the one error shape)."""

    def __init__(self, status: int, code: str, detail: str = "", *, field: str = "") -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field


def embedded_of(triager: Triager | None) -> EmbeddedTriager | None:
    """The embedded triager to reload: the triager itself, or the Rasa backend's fallback."""
    if isinstance(triager, EmbeddedTriager):
        return triager
    fallback = getattr(triager, "fallback", None)
    return fallback if isinstance(fallback, EmbeddedTriager) else None


_test_data: Dataset | None = None
_test_keys: frozenset[str] = frozenset()
_shipped_yaml: str | None = None


def held_out_split() -> Dataset:
    """The held-out test split (read once per process; it is not editable)."""
    global _test_data, _test_keys
    if _test_data is None:
        data = load_test_data()
        _test_keys = frozenset(_key(t) for t, _ in data.pairs())
        _test_data = data
    return _test_data


def in_test_split(text: str) -> bool:
    held_out_split()
    return _key(text) in _test_keys


def _shipped_training_yaml() -> str:
    global _shipped_yaml
    if _shipped_yaml is None:
        _shipped_yaml = load_training_data().to_yaml()
    return _shipped_yaml


def _key(text: str) -> str:
    return fold(" ".join(text.split()))


def _evaluate(model: ModelArtifact, responses: ResponseBook, data: Dataset) -> dict[str, Any]:
    """The registry's metrics of ``model`` through the full triage on ``data`` (CPU: run in a thread)."""
    triager = EmbeddedTriager(model, responses)
    return evaluate(data, triager.parse_sync, model.version).metrics()


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: metrics.get(k) for k in ("macro_f1", "critical_recall", "accuracy", "n", "data_hash")}


@dataclass
class DatasetState:
    dataset: Dataset
    revision: int  # 0: the shipped data


class AdminState:
    """The admin's state shared with every process: the running model and responses kept in step
    with the database, and the training data's revisions (:class:`~handoff.triage_admin.service.TriageAdmin`
    adds the model versions and training)."""

    def __init__(
        self, db: Database, broker: Broker, triager: Triager, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.db = db
        self.broker = broker
        self.triager = triager
        self.embedded = embedded_of(triager)
        self.loop = loop
        self.store = DbArtifactStore(db, loop)
        self.registry = ModelRegistry(self.store, self)
        self.loaded_version: str | None = None
        """The database version this process runs (None: still the model it started with)."""
        self._lock = asyncio.Lock()
        self._train_task: asyncio.Task[None] | None = None
        self._responses_seen: dict[str, dict[str, str]] | None = None

    # -- Reloadable (called by the registry in a worker thread) ---------------------------------
    def reload(self, model: ModelArtifact) -> None:
        if self.embedded is not None and self.embedded.model.version != model.version:
            self.embedded.reload(model)
        self.loaded_version = model.version

    # -- keeping this process in step with the database -----------------------------------------
    async def sync_model(self) -> str | None:
        """Load the active model of the database into the running triager, if it is another one."""
        active = await self.store.active_version()
        if active is None or active == self.loaded_version:
            return active
        raw = await self.store.aget(MODEL_PREFIX + active)
        if raw is None:
            log.error("nlu: the active model %s is missing from the database", active)
            return active
        artifact = await asyncio.to_thread(ModelArtifact.from_bytes, raw)
        self.reload(artifact)
        return active

    async def response_book(self) -> tuple[ResponseBook, dict[str, dict[str, str]]]:
        """The shipped responses with the database's overrides on top, and the overrides."""
        async with self.db.session() as session:
            rows = (await session.scalars(select(ResponseOverride))).all()
        overrides: dict[str, dict[str, str]] = {}
        for row in rows:
            try:
                check_response(row.intent, row.language, row.text)
            except ResponseError as exc:  # never serve an unsafe text, whatever is in the table
                log.error("nlu: ignoring an invalid response override: %s", exc)
                continue
            overrides.setdefault(row.intent, {})[row.language] = row.text
        texts = {i: dict(v) for i, v in default_responses().texts.items()}
        for intent, by_lang in overrides.items():
            texts.setdefault(intent, {}).update(by_lang)
        book = ResponseBook.from_mapping(texts)
        book.risk_texts = {k: dict(v) for k, v in default_responses().risk_texts.items()}
        return book, overrides

    async def sync_responses(self) -> None:
        book, overrides = await self.response_book()
        if overrides == self._responses_seen:
            return
        if self.embedded is not None:
            self.embedded.set_responses(book)
        self._responses_seen = overrides

    async def sync(self) -> None:
        await self.sync_model()
        await self.sync_responses()

    async def on_event(self, event: Event) -> None:
        kind = event.payload.get("kind")
        if kind == "model":
            await self.sync_model()
        elif kind == "responses":
            await self.sync_responses()

    async def announce(self, kind: str, **payload: Any) -> None:
        try:
            await self.broker.publish(TOPIC_NLU, {"kind": kind, **payload})
        except Exception as exc:  # the periodic check catches up
            log.warning("nlu: could not announce a %s change: %s", kind, type(exc).__name__)

    async def resync_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sync()
            except Exception as exc:
                log.warning("nlu: periodic model check failed: %s", type(exc).__name__)

    # -- training data ---------------------------------------------------------------------------
    async def dataset(self) -> DatasetState:
        async with self.db.session() as session:
            return await self._dataset(session)

    async def _dataset(self, session: AsyncSession) -> DatasetState:
        row = (
            await session.execute(
                select(DatasetRevision.id, DatasetRevision.yaml_text)
                .order_by(DatasetRevision.id.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            text, revision = await asyncio.to_thread(_shipped_training_yaml), 0
        else:
            text, revision = str(row[1]), int(row[0])
        return DatasetState(await asyncio.to_thread(Dataset.from_yaml, text), revision)

    async def revision_info(self) -> dict[str, Any]:
        async with self.db.session() as session:
            row = await session.scalar(select(DatasetRevision).order_by(DatasetRevision.id.desc()).limit(1))
        if row is None:
            return {"id": 0, "shipped": True}
        return {
            "id": row.id,
            "shipped": False,
            "at": row.created_at.isoformat(),
            "by": row.actor,
            "change": row.change,
            "n_examples": row.n_examples,
        }

    async def change_dataset(
        self,
        actor: StaffUser,
        change: str,
        apply: Callable[[Dataset], None],
        details: dict[str, Any],
        then: Callable[[AsyncSession, int], Awaitable[None]] | None = None,
    ) -> int:
        """Apply ``apply`` (raises AdminError to refuse) to the latest revision and store the result
        as a new revision, with its audit event, in one transaction.  Retried on a concurrent edit.
        ``then(session, revision)`` runs last in the same transaction (and may refuse, too)."""
        for _ in range(3):
            try:
                async with self.db.session() as session:
                    state = await self._dataset(session)
                    apply(state.dataset)
                    row = DatasetRevision(
                        parent_id=state.revision,
                        yaml_text=state.dataset.to_yaml(),
                        data_hash=state.dataset.content_hash(),
                        n_examples=len(state.dataset),
                        created_at=utcnow(),
                        actor=actor.username,
                        change=change,
                    )
                    session.add(row)
                    await session.flush()
                    await repo.audit(
                        session,
                        f"triage.example.{change}",
                        actor=actor,
                        details={**details, "revision": row.id, "parent": state.revision},
                    )
                    if then is not None:
                        await then(session, row.id)
                    return row.id
            except IntegrityError:
                continue
        raise AdminError(409, "busy")
