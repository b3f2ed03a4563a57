"""The live directory of a process: the shipped data, the deployment's methods and the admins'
edits (:class:`DirectoryOverride`) laid over it, kept current.

**Every process applies every edit.**  Each gateway process keeps its own copy of the directory,
the one its referrals, disclosures and records use (:attr:`DirectoryService.directory`), and lays
the overrides over the directory it started with.  An edit raises the counter in
``directory_version`` in its transaction; a process reloads when the counter differs from what it
loaded: before each handoff request when another process's fan-out cannot reach this one (one small
SELECT: see :meth:`DirectoryService.attach`), on the fan-out topic ``directory``
(published after the commit), before a disclosure is delivered, and every
``handoff.directory_check_seconds`` (the fan-out is best effort).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.broker.base import Broker, Event
from gateway.broker.inprocess import InProcessBroker
from gateway.envelope import utcnow
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import StaffUser
from handoff.directory.catalog import Directory
from handoff.directory.entries import (
    SOCIAL_SERVICES_PREFIX,
    DirectoryError,
    HandoffMethod,
    Recipient,
)
from handoff.directory.loading import default_directory
from handoff.directory.models import DirectoryOverride, DirectoryVersion
from handoff.directory.overrides import (
    apply_overrides,
    entry_data,
)

log = logging.getLogger(__name__)

TOPIC_DIRECTORY = "directory"
CHECK_SECONDS = 10.0
"""Every process compares its directory with the database this often (the fan-out is best effort)."""


# ---------------------------------------------------------------------- errors
class FieldErrors(Exception):
    """Input that is refused: field -> error code (the console shows ``dir_err_<code>``)."""

    def __init__(self, fields: Mapping[str, str], detail: str = "") -> None:
        super().__init__(dict(fields))
        self.fields = dict(fields)
        self.detail = detail


class Refused(Exception):
    """A request refused as a whole: HTTP status and error code."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


# ---------------------------------------------------------------------- the live directory
@dataclass
class Loaded:
    """One override as this process loaded it."""

    data: dict[str, Any]
    revision: int


class DirectoryService:
    """This process's directory: the one it started with, the configured methods and the admins'
    overrides from the database, kept current (see the module's documentation)."""

    def __init__(
        self,
        methods: Mapping[str, tuple[HandoffMethod, ...]],
        *,
        base: Directory | None = None,
        webhook_secrets: Mapping[str, str] | None = None,
    ) -> None:
        self.methods = dict(methods)
        self.base: Directory = base if base is not None else default_directory()
        self.live: Directory = self.base.copy()
        """This application's own (edits never reach another's directory); the same object for its
        whole life, so that everyone holding it sees every reload (:meth:`Directory.install`)."""
        self.db: Database | None = None
        self.broker: Broker | None = None
        self.webhook_secrets: Mapping[str, str] = dict(webhook_secrets or {})
        self.version = -1
        self.check_each_request = True
        """Compare the version before each request that reads the directory: only needed when
        another process can edit it without its fan-out reaching this one (see :meth:`attach`)."""
        self.overrides: dict[str, Loaded] = {}
        self._lock = asyncio.Lock()

    def attach(self, db: Database, broker: Broker | None) -> None:
        """Read the admins' edits from ``db`` and announce this process's on ``broker``.

        On SQLite (one serving process per file) or with a broker shared by the processes (Redis),
        every edit reaches this process on the fan-out topic ``directory``: a request need not ask
        the store for the version first (the periodic check covers a lost fan-out event).  Only
        processes on one PostgreSQL database, each with its own in-process broker, compare it before
        each request."""
        self.db, self.broker = db, broker
        self.check_each_request = not db.is_sqlite and (broker is None or isinstance(broker, InProcessBroker))

    def start_from(self, base: Directory, webhook_secrets: Mapping[str, str] | None = None) -> None:
        """Before the application starts: lay the edits over ``base`` instead of the shipped data
        (a deployment's or a test's own directory)."""
        self.base = base
        self.live.install(base.copy())
        if webhook_secrets is not None:
            self.webhook_secrets = dict(webhook_secrets)

    @property
    def directory(self) -> Directory:
        return self.live

    # -- loading ----------------------------------------------------------------------------------
    async def _version(self, session: AsyncSession) -> int:
        found = await session.scalar(select(DirectoryVersion.version).where(DirectoryVersion.id == 1))
        return int(found or 0)

    async def refresh(self) -> bool:
        """Reload when the database's version differs from the loaded one; whether it reloaded."""
        if self.db is None:
            return False
        async with self.db.session() as session:
            if await self._version(session) == self.version:
                return False
        async with self._lock:
            async with self.db.session() as session:
                # The version first: an edit committed after it is seen at the next check.
                version = await self._version(session)
                if version == self.version:
                    return False
                rows = (await session.execute(select(DirectoryOverride))).scalars().all()
                loaded = {r.recipient_id: Loaded(dict(r.data or {}), int(r.revision)) for r in rows}
            self.live.install(self._build(loaded))
            self.overrides = loaded
            self.version = version
            log.info("directory: loaded version %d (%d overrides)", version, len(loaded))
            return True

    def _build(self, loaded: Mapping[str, Loaded]) -> Directory:
        overrides = {rid: o.data for rid, o in loaded.items()}
        try:
            return apply_overrides(self.base, overrides, self.methods)
        except DirectoryError as exc:
            log.error(
                "directory: the stored edits do not fit the directory (%s); checking them one by one", exc
            )
        kept: dict[str, Mapping[str, Any]] = {}
        for rid, data in overrides.items():
            try:
                apply_overrides(self.base, {**kept, rid: data}, self.methods)
            except DirectoryError as exc:
                log.error("directory: ignoring the stored edit of %s: %s", rid, exc)
                continue
            kept[rid] = data
        return apply_overrides(self.base, kept, self.methods)

    async def on_event(self, event: Event) -> None:
        await self.refresh()

    async def check_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("directory: periodic check failed (%s)", type(exc).__name__)

    async def refresh_quietly(self) -> None:
        """Refresh, logging (not raising) a failure: a handoff is never refused for it."""
        try:
            await self.refresh()
        except Exception as exc:
            log.warning("directory: could not compare with the database (%s)", type(exc).__name__)

    # -- reading ----------------------------------------------------------------------------------
    def section(self, rid: str) -> str:
        d = self.directory
        if d.kunskapshus_by_id(rid) is not None:
            return "kunskapshus"
        if rid.startswith(SOCIAL_SERVICES_PREFIX) and (r := d.entry(rid)) and r.municipality_code:
            return "social_services"
        return "recipient"

    def shipped(self, rid: str) -> Recipient | None:
        return self.base.entry(rid)

    def revision(self, rid: str) -> int:
        found = self.overrides.get(rid)
        return found.revision if found else 0

    def full_data(self, rid: str) -> dict[str, Any] | None:
        r = self.directory.entry(rid)
        if r is None:
            return None
        return entry_data(r, self.directory.kunskapshus_by_id(rid))

    # -- writing ----------------------------------------------------------------------------------
    async def save(
        self,
        user: StaffUser,
        rid: str,
        full: dict[str, Any],
        *,
        revision: int,
        action: str,
        creating: bool = False,
    ) -> dict[str, Any]:
        """Store the entry ``full`` (every key) as an override of what differs from the shipped
        entry, audit it with the entry before and after, raise the version, reload, announce."""
        assert self.db is not None
        shipped = self.shipped(rid)
        base_data = entry_data(shipped, self.base.kunskapshus_by_id(rid)) if shipped else None
        changes = (
            {k: v for k, v in full.items() if base_data.get(k) != v} if base_data is not None else dict(full)
        )
        if base_data is not None and "serves" in base_data and "serves" not in full:
            changes["serves"] = {"counties": [], "municipalities": []}  # the shipped area taken away
        if rid in self.methods:  # the configuration's methods are not the admins' to keep
            changes.pop("handoff", None)
        # The whole result must still be a valid directory (e.g. no area served twice).
        trial = {rid: o.data for rid, o in self.overrides.items()}
        trial[rid] = changes
        try:
            apply_overrides(self.base, trial, self.methods)
        except DirectoryError as exc:
            raise FieldErrors({"_": "invalid_entry"}, str(exc)) from None
        before = None if creating else self.full_data(rid)
        now = utcnow()
        try:
            async with self.db.session() as session:
                row = await session.get(DirectoryOverride, rid, with_for_update=True)
                current = int(row.revision) if row is not None else 0
                if current != revision or (creating and (row is not None or shipped is not None)):
                    raise Refused(409, "edited_meanwhile" if not creating else "id_taken")
                if row is None:
                    session.add(
                        DirectoryOverride(
                            recipient_id=rid, data=changes, revision=1, updated_at=now, updated_by=user.id
                        )
                    )
                    new_revision = 1
                else:
                    row.data = changes
                    row.revision = current + 1
                    row.updated_at = now
                    row.updated_by = user.id
                    new_revision = current + 1
                version = await self._bump(session)
                await repo.audit(
                    session,
                    action,
                    actor=user,
                    details={
                        "recipient_id": rid,
                        "before": before,
                        "after": full,
                        "changed": sorted(k for k in full if (before or {}).get(k) != full[k]),
                        "revision": new_revision,
                        "directory_version": version,
                    },
                )
        except IntegrityError:
            raise Refused(409, "edited_meanwhile") from None
        await self._announce()
        return {"revision": new_revision, "version": version}

    async def reset(self, user: StaffUser, rid: str, *, revision: int) -> dict[str, Any]:
        """Return a shipped recipient to the shipped data (its override is deleted)."""
        assert self.db is not None
        before = self.full_data(rid)
        shipped = self.shipped(rid)
        if shipped is None:
            raise Refused(409, "added_recipient")
        after = entry_data(shipped, self.base.kunskapshus_by_id(rid))
        if rid in self.methods:
            after["handoff"] = [m.to_dict() for m in self.methods[rid]]
        async with self.db.session() as session:
            row = await session.get(DirectoryOverride, rid, with_for_update=True)
            if row is None or int(row.revision) != revision:
                raise Refused(409, "edited_meanwhile" if row is not None or revision else "not_edited")
            await session.execute(delete(DirectoryOverride).where(DirectoryOverride.recipient_id == rid))
            version = await self._bump(session)
            await repo.audit(
                session,
                "directory.recipient_reset",
                actor=user,
                details={
                    "recipient_id": rid,
                    "before": before,
                    "after": after,
                    "changed": sorted(k for k in after if (before or {}).get(k) != after[k]),
                    "directory_version": version,
                },
            )
        await self._announce()
        return {"revision": 0, "version": version}

    async def _bump(self, session: AsyncSession) -> int:
        """Raise the version in the caller's transaction (the row lock orders concurrent edits)."""
        now = utcnow()
        changed = await session.execute(
            update(DirectoryVersion)
            .where(DirectoryVersion.id == 1)
            .values(version=DirectoryVersion.version + 1, updated_at=now)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            try:
                async with session.begin_nested():
                    session.add(DirectoryVersion(id=1, version=1, updated_at=now))
            except IntegrityError:  # another process made the row just now
                await session.execute(
                    update(DirectoryVersion)
                    .where(DirectoryVersion.id == 1)
                    .values(version=DirectoryVersion.version + 1, updated_at=now)
                )
        return await self._version(session)

    async def _announce(self) -> None:
        await self.refresh_quietly()
        if self.broker is None:
            return
        try:
            await self.broker.publish(TOPIC_DIRECTORY, {"kind": "directory", "version": self.version})
        except Exception as exc:  # every process also checks on its own
            log.warning("directory: could not announce an edit (%s)", type(exc).__name__)


async def stored_directory(
    db: Database, methods: Mapping[str, tuple[HandoffMethod, ...]] | None = None
) -> Directory:
    """The directory with the admins' edits stored in ``db``, for a command outside the gateway
    (``helpline report``): the areas and names the running gateways use."""
    service = DirectoryService(methods or {})
    service.attach(db, None)
    await service.refresh()
    return service.live
