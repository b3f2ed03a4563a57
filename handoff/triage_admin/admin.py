"""Admins tune triage in the console: training examples, safe responses, a parse to try, background
retraining, gated activation and roll back of model versions, without restarting any process.

Everything an admin changes lives in the database (:mod:`handoff.triage_admin.models`), so that
every gateway process shares it:

* the training data is a chain of whole revisions (Rasa NLU YAML), made from the shipped
  ``nlu/data/nlu.yml``; the held-out test split is never editable, and an example that is in the
  test split cannot be added to the training data (the evaluation must stay honest);
* safe-response overrides are checked with :func:`nlu.responses.check_response` (critical
  responses name 112, self-harm also 90101) before they are stored;
* model versions are kept by :class:`nlu.registry.ModelRegistry` over :class:`DbArtifactStore`,
  an ``ArtifactStore`` in the database.  A candidate is activated only through
  :func:`nlu.registry.decide_activation`, after *both* the candidate and the active model have
  been evaluated again, through the full triage, on the same held-out test split; a refused
  candidate is marked ``refused`` with the reason, which the admin sees.

Activation, roll back and response changes publish a fan-out event on the topic ``nlu``; every
process (this one too) then loads the active model and the responses from the database into its
running triager (``EmbeddedTriager.reload``/``set_responses``; for the Rasa backend, its embedded
fallback).  Fan-out is best effort, so each process also checks every :data:`RESYNC_SECONDS`.  At
start a process loads the active model from the database if there is one.

Before the first activation the model that is running (trained at start from the shipped data)
is evaluated and registered as the active version, so that the gate always has a model to compare
with and roll back can return to it.

Routes are admin-only and wrapped by the console's own guard (:func:`handoff.console.guarded`:
session, role, CSRF on POST); every change writes an audit event (``triage.*``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.appkeys import BROKER, DB, TRIAGER
from gateway.broker.base import Broker, Event, Subscription
from gateway.envelope import utcnow
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Role, StaffUser
from gateway.tasks import cancel_and_wait
from handoff.console import ConsoleRoute, guarded
from handoff.console.i18n import INTENT_LABELS, client_strings, strings
from handoff.console.security import Staff
from handoff.console.views import CONSOLE, json_body
from handoff.triage_admin.models import (
    DatasetRevision,
    JobStatus,
    ModelStatus,
    ModelVersion,
    RegistryEntry,
    ResponseOverride,
    TrainingJob,
)
from nlu.classifier import ModelArtifact, train_artifact
from nlu.data import Dataset, load_test_data, load_training_data
from nlu.evaluate import evaluate
from nlu.registry import STATE_KEY, ActivationResult, ModelRegistry, decide_activation
from nlu.responses import (
    EMERGENCY_NUMBER,
    SUICIDE_LINE_NUMBER,
    ResponseBook,
    ResponseError,
    check_response,
    default_responses,
)
from nlu.result import CRITICAL_INTENTS, INTENT_PRIORITY, INTENTS, LANGUAGES, Triager
from nlu.text import fold
from nlu.triage import EmbeddedTriager, default_model

log = logging.getLogger(__name__)

TOPIC_NLU = "nlu"
RESYNC_SECONDS = 30.0
"""Every process compares its model and responses with the database this often (fan-out is best effort)."""
STALE_JOB = timedelta(minutes=15)
"""A training job still ``running`` after this long was interrupted (its process stopped)."""
MAX_EXAMPLE_CHARS = 500
MAX_RESPONSE_CHARS = 2000
MAX_PARSE_CHARS = 4000
MODEL_PREFIX = "model-"
ADMIN_ROLES = frozenset({Role.ADMIN.value})
STATIC_DIR = Path(__file__).resolve().parents[1] / "console" / "static"
STATIC_FILES = {"admin_triage.js": "text/javascript", "admin_corrections.js": "text/javascript"}
VERSION_RE = "{version:[A-Za-z0-9._-]{1,100}}"
JOB_RE = "{job_id:[0-9a-f]{32}}"

T = TypeVar("T")

# ---------------------------------------------------------------------- words (Swedish first)
ADMIN_STRINGS: dict[str, dict[str, str]] = {
    "sv": {
        "triage_admin": "Bedömning – administration",
        "ta_intents": "Ärendetyper",
        "ta_examples": "Träningsexempel",
        "ta_count": "Exempel",
        "ta_test_count": "I testdelen",
        "ta_critical": "Kritisk",
        "ta_add": "Lägg till",
        "ta_new_example": "Nytt exempel",
        "ta_edit": "Ändra",
        "ta_save": "Spara",
        "ta_cancel": "Avbryt",
        "ta_remove": "Ta bort",
        "ta_confirm_remove": "Ta bort exemplet?",
        "ta_filter": "Sök bland exemplen",
        "ta_move_to": "Ärendetyp",
        "ta_revision": "Dataversion",
        "ta_shipped": "levererad data",
        "ta_export": "Hämta som Rasa-YAML",
        "ta_responses": "Säkra svar",
        "ta_language": "Språk",
        "ta_overridden": "ändrat",
        "ta_reset": "Återställ levererad text",
        "ta_try": "Prova en mening",
        "ta_try_text": "Mening",
        "ta_parse": "Bedöm",
        "ta_priority": "Prioritet",
        "ta_decided_by": "Avgjort av",
        "ta_models": "Modellversioner",
        "ta_version": "Version",
        "ta_status": "Status",
        "ta_created": "Skapad",
        "ta_by": "Av",
        "ta_macro_f1": "Makro-F1",
        "ta_critical_recall": "Träffsäkerhet kritiska",
        "ta_accuracy": "Andel rätt",
        "ta_reason": "Motivering",
        "ta_activate": "Aktivera",
        "ta_rollback": "Gå tillbaka till förra modellen",
        "ta_confirm_rollback": "Gå tillbaka till modellen som var aktiv innan?",
        "ta_train": "Träna om",
        "ta_training": "Tränar …",
        "ta_stage_queued": "I kö",
        "ta_stage_training": "Tränar",
        "ta_stage_evaluating": "Utvärderar på testdelen",
        "ta_stage_done": "Klar",
        "ta_stage_failed": "Misslyckades",
        "ta_candidate": "Ny modell",
        "ta_active": "Aktiv modell",
        "ta_running": "Körs nu",
        "ta_gate_ok": "Klarar kraven och kan aktiveras.",
        "ta_gate_refused": "Klarar inte kraven och kan inte aktiveras:",
        "ta_gate_rule": (
            "En ny modell aktiveras bara om träffsäkerheten på kritiska meddelanden inte blir lägre "
            "och makro-F1 inte sjunker mer än 0,02."
        ),
        "ta_st_active": "Aktiv",
        "ta_st_candidate": "Kandidat",
        "ta_st_refused": "Nekad",
        "ta_st_retired": "Tidigare",
        "ta_activated": "Modellen är aktiverad i alla gatewayprocesser.",
        "ta_refused": "Modellen nekades:",
        "ta_rolled_back": "Förra modellen är aktiv igen.",
        "ta_saved": "Sparat.",
        "ta_per_intent": "Per ärendetyp (F1)",
        "ta_none": "Inga",
        "e_needs_112": "Ett svar på ett kritiskt ärende måste säga att man ska ringa 112.",
        "e_needs_90101": "Svaret på självskada måste ge Mind Självmordslinjen 90101.",
        "e_unsafe_response": "Svaret klarar inte säkerhetskontrollen.",
        "e_empty": "Texten får inte vara tom.",
        "e_too_long": "Texten är för lång.",
        "e_unknown_intent": "Okänd ärendetyp.",
        "e_unknown_language": "Okänt språk.",
        "e_exists": "Exemplet finns redan.",
        "e_not_found": "Hittades inte.",
        "e_in_test_split": "Meningen finns i testdelen och får inte användas för träning.",
        "e_training_running": "En träning pågår redan.",
        "e_nothing_to_roll_back": "Det finns ingen tidigare modell att gå tillbaka till.",
        "e_busy": "Någon annan ändrade samtidigt. Försök igen.",
        "e_no_embedded_model": "Gatewayen kör ingen inbyggd modell.",
    },
    "en": {
        "triage_admin": "Triage – administration",
        "ta_intents": "Intents",
        "ta_examples": "Training examples",
        "ta_count": "Examples",
        "ta_test_count": "In the test split",
        "ta_critical": "Critical",
        "ta_add": "Add",
        "ta_new_example": "New example",
        "ta_edit": "Edit",
        "ta_save": "Save",
        "ta_cancel": "Cancel",
        "ta_remove": "Remove",
        "ta_confirm_remove": "Remove the example?",
        "ta_filter": "Search the examples",
        "ta_move_to": "Intent",
        "ta_revision": "Data revision",
        "ta_shipped": "shipped data",
        "ta_export": "Download as Rasa YAML",
        "ta_responses": "Safe responses",
        "ta_language": "Language",
        "ta_overridden": "changed",
        "ta_reset": "Restore the shipped text",
        "ta_try": "Try a sentence",
        "ta_try_text": "Sentence",
        "ta_parse": "Triage",
        "ta_priority": "Priority",
        "ta_decided_by": "Decided by",
        "ta_models": "Model versions",
        "ta_version": "Version",
        "ta_status": "Status",
        "ta_created": "Created",
        "ta_by": "By",
        "ta_macro_f1": "Macro-F1",
        "ta_critical_recall": "Critical recall",
        "ta_accuracy": "Accuracy",
        "ta_reason": "Reason",
        "ta_activate": "Activate",
        "ta_rollback": "Roll back to the previous model",
        "ta_confirm_rollback": "Go back to the model that was active before?",
        "ta_train": "Retrain",
        "ta_training": "Training …",
        "ta_stage_queued": "Queued",
        "ta_stage_training": "Training",
        "ta_stage_evaluating": "Evaluating on the test split",
        "ta_stage_done": "Done",
        "ta_stage_failed": "Failed",
        "ta_candidate": "New model",
        "ta_active": "Active model",
        "ta_running": "Running now",
        "ta_gate_ok": "Passes the gate and can be activated.",
        "ta_gate_refused": "Does not pass the gate and cannot be activated:",
        "ta_gate_rule": (
            "A new model is activated only if its recall on critical messages is not lower "
            "and its macro-F1 has not dropped by more than 0.02."
        ),
        "ta_st_active": "Active",
        "ta_st_candidate": "Candidate",
        "ta_st_refused": "Refused",
        "ta_st_retired": "Earlier",
        "ta_activated": "The model is active in every gateway process.",
        "ta_refused": "The model was refused:",
        "ta_rolled_back": "The previous model is active again.",
        "ta_saved": "Saved.",
        "ta_per_intent": "Per intent (F1)",
        "ta_none": "None",
        "e_needs_112": "A response to a critical intent must say to call 112.",
        "e_needs_90101": "The self-harm response must give Mind Självmordslinjen 90101.",
        "e_unsafe_response": "The response does not pass the safety check.",
        "e_empty": "The text must not be empty.",
        "e_too_long": "The text is too long.",
        "e_unknown_intent": "Unknown intent.",
        "e_unknown_language": "Unknown language.",
        "e_exists": "The example is already there.",
        "e_not_found": "Not found.",
        "e_in_test_split": "The sentence is in the test split and must not be used for training.",
        "e_training_running": "A training is already running.",
        "e_nothing_to_roll_back": "There is no earlier model to roll back to.",
        "e_busy": "Someone else changed it at the same time. Try again.",
        "e_no_embedded_model": "The gateway runs no embedded model.",
    },
}


def admin_strings(lang: str) -> dict[str, str]:
    base = strings(lang)
    return {**base, **ADMIN_STRINGS.get(lang, ADMIN_STRINGS["sv"])}


class AdminError(Exception):
    """A refusal the admin is told about: HTTP status, code, and (optionally) the detail."""

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.detail = detail


def admin_error(staff: Staff, exc: AdminError, **extra: Any) -> web.Response:
    words = ADMIN_STRINGS.get(staff.lang, ADMIN_STRINGS["sv"])
    body: dict[str, Any] = {"error": exc.code, "message": words.get("e_" + exc.code, exc.detail or exc.code)}
    if exc.detail:
        body["detail"] = exc.detail
    body.update(extra)
    return web.json_response(body, status=exc.status)


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


# ---------------------------------------------------------------------- the service
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


class TriageAdmin:
    """One per application: the registry over the database, and this process's running model."""

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

    # -- models ----------------------------------------------------------------------------------
    async def running_model(self) -> ModelArtifact:
        if self.embedded is not None:
            return self.embedded.model
        return await asyncio.to_thread(default_model)

    async def artifact(self, version: str) -> ModelArtifact:
        raw = await self.store.aget(MODEL_PREFIX + version)
        if raw is None:
            raise AdminError(404, "not_found")
        return await asyncio.to_thread(ModelArtifact.from_bytes, raw)

    async def evaluated(self, model: ModelArtifact) -> ModelArtifact:
        """``model`` with fresh metrics on the held-out test split, with the responses in force."""
        book, _ = await self.response_book()
        metrics = await asyncio.get_running_loop().run_in_executor(
            None, _evaluate, model, book, held_out_split()
        )
        return model.with_metrics(metrics)

    async def ensure_baseline(self) -> str:
        """The active version; before the first activation, the running model becomes it.  Hold the lock."""
        active = await self.store.active_version()
        if active is not None:
            return active
        model = await self.evaluated(await self.running_model())
        await self.store.aput(
            MODEL_PREFIX + model.version,
            model.to_bytes(),
            created_by="system",
            note="running at start (shipped training data)",
        )
        try:
            result = await asyncio.to_thread(self.registry.activate, model.version)
        except StateConflict:  # another process made its baseline first
            active = await self.store.active_version()
            if active is None:
                raise AdminError(409, "busy") from None
            return active
        async with self.db.session() as session:
            await session.execute(
                update(ModelVersion)
                .where(ModelVersion.version == model.version)
                .values(
                    activated_at=utcnow(), activated_by="system", decided_at=utcnow(), reason=result.reason
                )
            )
            await repo.audit(
                session,
                "triage.model.baseline",
                details={"version": model.version, "metrics": _summary(model.metrics)},
            )
        return model.version

    async def _refresh_metrics(self, model: ModelArtifact) -> ModelArtifact:
        fresh = await self.evaluated(model)
        if fresh.metrics != model.metrics:
            await self.store.aput(MODEL_PREFIX + fresh.version, fresh.to_bytes())
        return fresh

    async def activate(self, version: str, actor: StaffUser) -> ActivationResult:
        """Activate ``version`` if it passes the gate against the active model, both evaluated
        again now on the same test split.  A refusal marks the version ``refused`` with the reason."""
        async with self._lock:
            await self.ensure_baseline()
            candidate = await self.artifact(version)
            active_version = await self.store.active_version()
            if active_version == version:
                return ActivationResult(True, "already active", version, version)
            if active_version is not None:
                await self._refresh_metrics(await self.artifact(active_version))
            candidate = await self._refresh_metrics(candidate)
            try:
                result = await asyncio.to_thread(self.registry.activate, version)
            except StateConflict:
                raise AdminError(409, "busy") from None
            async with self.db.session() as session:
                row = await session.get(ModelVersion, version)
                if row is not None:
                    row.decided_at = utcnow()
                    row.reason = result.reason
                    if result.ok:
                        row.activated_at, row.activated_by = utcnow(), actor.username
                    else:
                        row.status = ModelStatus.REFUSED.value
                await repo.audit(
                    session,
                    "triage.model.activated" if result.ok else "triage.model.refused",
                    actor=actor,
                    details={
                        "version": version,
                        "previous": result.previous,
                        "reason": result.reason,
                        "metrics": _summary(candidate.metrics),
                    },
                )
        if result.ok:
            await self.announce("model", version=version)
        return result

    async def rollback(self, actor: StaffUser) -> ActivationResult:
        async with self._lock:
            try:
                result = await asyncio.to_thread(self.registry.rollback)
            except StateConflict:
                raise AdminError(409, "busy") from None
            if not result.ok:
                raise AdminError(409, "nothing_to_roll_back")
            async with self.db.session() as session:
                row = await session.get(ModelVersion, result.version or "")
                if row is not None:
                    row.activated_at, row.activated_by = utcnow(), actor.username
                await repo.audit(
                    session,
                    "triage.model.rolled_back",
                    actor=actor,
                    details={"from": result.previous, "to": result.version},
                )
        await self.announce("model", version=result.version)
        return result

    # -- background training ---------------------------------------------------------------------
    async def start_training(self, actor: StaffUser) -> str:
        if self._train_task is not None and not self._train_task.done():
            raise AdminError(409, "training_running")
        now = utcnow()
        job_id = uuid.uuid4().hex
        async with self.db.session() as session:
            running = await session.scalar(
                select(TrainingJob.id).where(
                    TrainingJob.status == JobStatus.RUNNING.value, TrainingJob.started_at > now - STALE_JOB
                )
            )
            if running is not None:
                raise AdminError(409, "training_running")
            session.add(
                TrainingJob(
                    id=job_id,
                    status=JobStatus.RUNNING.value,
                    stage="queued",
                    started_at=now,
                    actor=actor.username,
                    candidate_metrics={},
                    active_metrics={},
                    gate_reason="",
                    error="",
                )
            )
            await repo.audit(session, "triage.train.started", actor=actor, details={"job": job_id})
        self._train_task = asyncio.create_task(self._train(job_id, actor), name=f"nlu training {job_id}")
        return job_id

    async def _stage(self, job_id: str, stage: str, **values: Any) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(TrainingJob).where(TrainingJob.id == job_id).values(stage=stage, **values)
            )

    async def _train(self, job_id: str, actor: StaffUser) -> None:
        loop = asyncio.get_running_loop()
        try:
            state = await self.dataset()
            await self._stage(job_id, "training", dataset_revision=state.revision or None)
            note = f"trained by {actor.username} on data revision {state.revision or 'shipped'}"
            trained = await loop.run_in_executor(None, train_artifact, state.dataset, None, note[:200])
            await self._stage(job_id, "evaluating")
            async with self._lock:
                active_version = await self.ensure_baseline()
                active = await self._refresh_metrics(await self.artifact(active_version))
            candidate = await self.evaluated(trained)
            await self.store.aput(
                MODEL_PREFIX + candidate.version,
                candidate.to_bytes(),
                created_by=actor.username,
                dataset_revision=state.revision or None,
                note=note,
            )
            ok, reason = decide_activation(candidate.metrics, active.metrics)
            async with self.db.session() as session:
                await session.execute(
                    update(TrainingJob)
                    .where(TrainingJob.id == job_id)
                    .values(
                        status=JobStatus.DONE.value,
                        stage="done",
                        finished_at=utcnow(),
                        version=candidate.version,
                        active_version=active.version,
                        candidate_metrics=candidate.metrics,
                        active_metrics=active.metrics,
                        gate_ok=ok,
                        gate_reason=reason,
                    )
                )
                await repo.audit(
                    session,
                    "triage.train.finished",
                    actor=actor,
                    details={
                        "job": job_id,
                        "version": candidate.version,
                        "dataset_revision": state.revision,
                        "candidate": _summary(candidate.metrics),
                        "active": {"version": active.version, **_summary(active.metrics)},
                        "gate_ok": ok,
                        "gate_reason": reason,
                    },
                )
        except asyncio.CancelledError:
            await self._fail(job_id, actor, "interrupted")
            raise
        except Exception as exc:
            log.exception("nlu: training job %s failed", job_id)
            await self._fail(job_id, actor, f"{type(exc).__name__}: {exc}"[:500])

    async def _fail(self, job_id: str, actor: StaffUser, error_text: str) -> None:
        with contextlib.suppress(Exception):
            async with self.db.session() as session:
                await session.execute(
                    update(TrainingJob)
                    .where(TrainingJob.id == job_id)
                    .values(
                        status=JobStatus.FAILED.value, stage="failed", finished_at=utcnow(), error=error_text
                    )
                )
                await repo.audit(
                    session, "triage.train.failed", actor=actor, details={"job": job_id, "error": error_text}
                )

    async def stop(self) -> None:
        task = self._train_task
        await cancel_and_wait(task)


TRIAGE_ADMIN = web.AppKey("triage_admin", TriageAdmin)


# ---------------------------------------------------------------------- views
def _admin(request: web.Request) -> TriageAdmin:
    return request.app[TRIAGE_ADMIN]


def render_admin(request: web.Request, staff: Staff, template: str, **context: Any) -> web.Response:
    state = request.app[CONSOLE]
    words = admin_strings(staff.lang)
    client = {**client_strings(staff.lang), "t": words}
    html = state.templates.get_template(template).render(
        t=words,
        lang=staff.lang,
        client=client,
        path=request.path,
        staff=staff,
        user=staff.user,
        **context,
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def triage_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render_admin(
        request,
        staff,
        "admin_triage.html",
        intents=[(i, INTENT_LABELS[staff.lang][i]) for i in INTENTS],
        languages=LANGUAGES,
    )


async def admin_static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    body = await asyncio.to_thread((STATIC_DIR / name).read_bytes)
    return web.Response(body=body, content_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})


def _text(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AdminError(422, "empty", key)
    if len(value) > limit:
        raise AdminError(422, "too_long", key)
    return " ".join(value.split())


def _intent(body: dict[str, Any], key: str = "intent") -> str:
    value = body.get(key)
    if not isinstance(value, str) or value not in INTENTS:
        raise AdminError(422, "unknown_intent", str(value)[:40])
    return value


def _not_in_test_split(text: str) -> None:
    if in_test_split(text):
        raise AdminError(409, "in_test_split")


def handles_errors(
    handler: Callable[[web.Request, Staff], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request, staff: Staff) -> web.StreamResponse:
        try:
            return await handler(request, staff)
        except AdminError as exc:
            return admin_error(staff, exc)

    wrapped.__name__ = handler.__name__
    return wrapped


@handles_errors
async def api_intents(request: web.Request, staff: Staff) -> web.StreamResponse:
    admin = _admin(request)
    state = await admin.dataset()
    counts = state.dataset.counts()
    test_counts = held_out_split().counts()
    return web.json_response(
        {
            "revision": await admin.revision_info(),
            "n_examples": len(state.dataset),
            "intents": [
                {
                    "name": i,
                    "label": INTENT_LABELS[staff.lang][i],
                    "priority": INTENT_PRIORITY[i].label,
                    "critical": i in CRITICAL_INTENTS,
                    "count": counts.get(i, 0),
                    "test_count": test_counts.get(i, 0),
                }
                for i in INTENTS
            ],
        }
    )


@handles_errors
async def api_examples(request: web.Request, staff: Staff) -> web.StreamResponse:
    intent = _intent(dict(request.query))
    q = fold(request.query.get("q", "")[:200]).strip()
    state = await _admin(request).dataset()
    examples = state.dataset.examples.get(intent, [])
    if q:
        examples = [e for e in examples if q in fold(e)]
    return web.json_response({"intent": intent, "revision": state.revision, "examples": examples})


@handles_errors
async def api_export(request: web.Request, staff: Staff) -> web.StreamResponse:
    state = await _admin(request).dataset()
    return web.Response(
        text=state.dataset.to_yaml(),
        content_type="application/x-yaml",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="nlu-r{state.revision}.yml"'},
    )


@handles_errors
async def api_add_example(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await json_body(request)
    intent, text = _intent(body), _text(body, "text", MAX_EXAMPLE_CHARS)
    _not_in_test_split(text)

    def apply(ds: Dataset) -> None:
        if not ds.add(intent, text):
            raise AdminError(409, "exists")

    revision = await _admin(request).change_dataset(
        staff.user, "added", apply, {"intent": intent, "text": text}
    )
    return web.json_response({"ok": True, "revision": revision, "intent": intent, "text": text}, status=201)


@handles_errors
async def api_edit_example(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await json_body(request)
    intent, text = _intent(body), _text(body, "text", MAX_EXAMPLE_CHARS)
    new_intent = _intent(body, "new_intent") if body.get("new_intent") is not None else intent
    new_text = _text(body, "new_text", MAX_EXAMPLE_CHARS) if body.get("new_text") is not None else text
    if _key(new_text) != _key(text):
        _not_in_test_split(new_text)

    def apply(ds: Dataset) -> None:
        if not ds.remove(intent, text):
            raise AdminError(404, "not_found")
        if not ds.add(new_intent, new_text):
            raise AdminError(409, "exists")

    revision = await _admin(request).change_dataset(
        staff.user,
        "edited",
        apply,
        {"intent": intent, "text": text, "new_intent": new_intent, "new_text": new_text},
    )
    return web.json_response({"ok": True, "revision": revision, "intent": new_intent, "text": new_text})


@handles_errors
async def api_remove_example(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await json_body(request)
    intent, text = _intent(body), _text(body, "text", MAX_EXAMPLE_CHARS)

    def apply(ds: Dataset) -> None:
        if not ds.remove(intent, text):
            raise AdminError(404, "not_found")

    revision = await _admin(request).change_dataset(
        staff.user, "removed", apply, {"intent": intent, "text": text}
    )
    return web.json_response({"ok": True, "revision": revision})


@handles_errors
async def api_responses(request: web.Request, staff: Staff) -> web.StreamResponse:
    book, overrides = await _admin(request).response_book()
    shipped = default_responses()
    return web.json_response(
        {
            "languages": list(LANGUAGES),
            "responses": [
                {
                    "intent": i,
                    "label": INTENT_LABELS[staff.lang][i],
                    "critical": i in CRITICAL_INTENTS,
                    "texts": {lang: book.get(i, lang) for lang in LANGUAGES},
                    "shipped": {lang: shipped.get(i, lang) for lang in LANGUAGES},
                    "overridden": sorted(overrides.get(i, {})),
                }
                for i in INTENTS
            ],
        }
    )


def _response_problem(intent: str, language: str, text: str) -> AdminError | None:
    """Why ``text`` may not be the safe response of ``intent`` in ``language`` (None: it may)."""
    try:
        check_response(intent, language, text)
    except ResponseError as exc:
        message = str(exc)
        if not text.strip():
            code = "empty"
        elif f"call {EMERGENCY_NUMBER}" in message:
            code = "needs_112"
        elif SUICIDE_LINE_NUMBER in message:
            code = "needs_90101"
        else:
            code = "unsafe_response"
        return AdminError(422, code, message)
    return None


@handles_errors
async def api_set_response(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await json_body(request)
    intent = _intent(body)
    language = body.get("language")
    if not isinstance(language, str) or language not in LANGUAGES:
        raise AdminError(422, "unknown_language")
    raw = body.get("text")
    if not isinstance(raw, str):
        raise AdminError(422, "empty", "text")
    if len(raw) > MAX_RESPONSE_CHARS:
        raise AdminError(422, "too_long", "text")
    text = " ".join(raw.split())
    problem = _response_problem(intent, language, text)
    if problem is not None:
        return admin_error(staff, problem, intent=intent, language=language)
    admin = _admin(request)
    old_book, _ = await admin.response_book()
    async with admin.db.session() as session:
        row = await session.get(ResponseOverride, (intent, language))
        if row is None:
            session.add(
                ResponseOverride(
                    intent=intent,
                    language=language,
                    text=text,
                    updated_at=utcnow(),
                    updated_by=staff.user.username,
                )
            )
        else:
            row.text, row.updated_at, row.updated_by = text, utcnow(), staff.user.username
        await repo.audit(
            session,
            "triage.response.edited",
            actor=staff.user,
            details={
                "intent": intent,
                "language": language,
                "old": old_book.get(intent, language),
                "new": text,
            },
        )
    await admin.sync_responses()
    await admin.announce("responses")
    return web.json_response({"ok": True, "intent": intent, "language": language, "text": text})


@handles_errors
async def api_reset_response(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await json_body(request)
    intent = _intent(body)
    language = body.get("language")
    if not isinstance(language, str) or language not in LANGUAGES:
        raise AdminError(422, "unknown_language")
    admin = _admin(request)
    async with admin.db.session() as session:
        row = await session.get(ResponseOverride, (intent, language))
        if row is None:
            raise AdminError(404, "not_found")
        old = row.text
        await session.delete(row)
        await repo.audit(
            session,
            "triage.response.reset",
            actor=staff.user,
            details={"intent": intent, "language": language, "old": old},
        )
    await admin.sync_responses()
    await admin.announce("responses")
    shipped = default_responses().get(intent, language)
    return web.json_response({"ok": True, "intent": intent, "language": language, "text": shipped})


@handles_errors
async def api_parse(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Try a sentence with the triage that is running (not audited: nothing changes, and the
    text may be a real message)."""
    body = await json_body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise AdminError(422, "empty", "text")
    if len(text) > MAX_PARSE_CHARS:
        raise AdminError(422, "too_long", "text")
    hint = body.get("language")
    result = await request.app[TRIAGER].parse(text, hint if hint in LANGUAGES else None)
    out = result.to_dict()
    out.update(
        model_version=result.model_version,
        backend=result.backend,
        decided_by=result.extra.get("decided_by", ""),
    )
    return web.json_response(out)


def _model_row(row: ModelVersion, running: str | None) -> dict[str, Any]:
    return {
        "version": row.version,
        "status": row.status,
        "running": row.version == running,
        "metrics": _summary(row.metrics or {}),
        "per_intent": (row.metrics or {}).get("per_intent", {}),
        "n_examples": row.n_examples,
        "dataset_revision": row.dataset_revision,
        "note": row.note,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "activated_at": row.activated_at.isoformat() if row.activated_at else None,
        "activated_by": row.activated_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "reason": row.reason,
    }


def _job_dict(job: TrainingJob) -> dict[str, Any]:
    status, stage, error_text = job.status, job.stage, job.error
    if status == JobStatus.RUNNING.value and utcnow() - job.started_at > STALE_JOB:
        status, stage, error_text = JobStatus.FAILED.value, "failed", "interrupted"
    out: dict[str, Any] = {
        "id": job.id,
        "status": status,
        "stage": stage,
        "started_at": job.started_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "by": job.actor,
        "dataset_revision": job.dataset_revision,
        "error": error_text,
    }
    if status == JobStatus.DONE.value:
        out["candidate"] = {
            "version": job.version,
            "metrics": _summary(job.candidate_metrics),
            "per_intent": job.candidate_metrics.get("per_intent", {}),
        }
        out["active"] = {
            "version": job.active_version,
            "metrics": _summary(job.active_metrics),
            "per_intent": job.active_metrics.get("per_intent", {}),
        }
        out["gate"] = {"ok": bool(job.gate_ok), "reason": job.gate_reason}
    return out


@handles_errors
async def api_models(request: web.Request, staff: Staff) -> web.StreamResponse:
    admin = _admin(request)
    async with admin.db.session() as session:
        rows = (await session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc()))).all()
        job = await session.scalar(select(TrainingJob).order_by(TrainingJob.started_at.desc()).limit(1))
    running = admin.embedded.model if admin.embedded is not None else None
    return web.json_response(
        {
            "active": await admin.store.active_version(),
            "history": await admin.store.history(),
            "running": {
                "version": running.version if running else None,
                "metrics": _summary(running.metrics) if running else {},
                "backend": request.app[TRIAGER].health().get("backend", ""),
            },
            "versions": [_model_row(r, running.version if running else None) for r in rows],
            "job": _job_dict(job) if job is not None else None,
        }
    )


@handles_errors
async def api_train(request: web.Request, staff: Staff) -> web.StreamResponse:
    job_id = await _admin(request).start_training(staff.user)
    return web.json_response({"job": job_id, "url": f"/console/api/triage/train/{job_id}"}, status=202)


@handles_errors
async def api_job(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with _admin(request).db.session() as session:
        job = await session.get(TrainingJob, request.match_info["job_id"])
    if job is None:
        raise AdminError(404, "not_found")
    return web.json_response(_job_dict(job))


@handles_errors
async def api_activate(request: web.Request, staff: Staff) -> web.StreamResponse:
    result = await _admin(request).activate(request.match_info["version"], staff.user)
    if not result.ok:
        words = ADMIN_STRINGS.get(staff.lang, ADMIN_STRINGS["sv"])
        return web.json_response(
            {
                "error": "refused",
                "message": f"{words['ta_refused']} {result.reason}",
                "reason": result.reason,
                "version": result.version,
                "active": result.previous,
            },
            status=409,
        )
    return web.json_response(
        {"ok": True, "version": result.version, "previous": result.previous, "reason": result.reason}
    )


@handles_errors
async def api_rollback(request: web.Request, staff: Staff) -> web.StreamResponse:
    result = await _admin(request).rollback(staff.user)
    return web.json_response(
        {"ok": True, "version": result.version, "previous": result.previous, "reason": result.reason}
    )


# ---------------------------------------------------------------------- routes and setup
API = "/console/api/triage"

ROUTES: tuple[ConsoleRoute, ...] = (
    ConsoleRoute("GET", "/console/triage", triage_page, ADMIN_ROLES, "page"),
    ConsoleRoute("GET", API + "/intents", api_intents, ADMIN_ROLES, "api"),
    ConsoleRoute("GET", API + "/examples", api_examples, ADMIN_ROLES, "api"),
    ConsoleRoute("GET", API + "/export", api_export, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/examples", api_add_example, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/examples/edit", api_edit_example, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/examples/remove", api_remove_example, ADMIN_ROLES, "api"),
    ConsoleRoute("GET", API + "/responses", api_responses, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/responses", api_set_response, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/responses/reset", api_reset_response, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/parse", api_parse, ADMIN_ROLES, "api"),
    ConsoleRoute("GET", API + "/models", api_models, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/train", api_train, ADMIN_ROLES, "api"),
    ConsoleRoute("GET", API + "/train/" + JOB_RE, api_job, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/models/" + VERSION_RE + "/activate", api_activate, ADMIN_ROLES, "api"),
    ConsoleRoute("POST", API + "/rollback", api_rollback, ADMIN_ROLES, "api"),
)
"""The admin's routes, each wrapped by the console's guard (session, role, CSRF on POST); the
counsellors' corrections add theirs (:data:`handoff.triage_admin.corrections_admin.ROUTES`)."""


RESYNC_INTERVAL = web.AppKey("triage_admin_resync_seconds", float)
_SET_UP = web.AppKey("triage_admin_set_up", bool)


def setup(app: web.Application, *, resync_seconds: float | None = None) -> bool:
    """Add the triage admin to the gateway (after :func:`handoff.console.setup`).

    At start this process loads the active model and the responses from the database, listens on
    the ``nlu`` fan-out, and checks the database every ``resync_seconds`` (default
    :data:`RESYNC_SECONDS`).  Calling it again only changes ``resync_seconds``.
    """
    if resync_seconds is not None:
        app[RESYNC_INTERVAL] = float(resync_seconds)
    if app.get(_SET_UP):
        return False
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
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route))
    return True


__all__ = [
    "ADMIN_STRINGS",
    "ROUTES",
    "TOPIC_NLU",
    "TRIAGE_ADMIN",
    "DbArtifactStore",
    "StateConflict",
    "TriageAdmin",
    "setup",
]
