"""A gateway like ``conftest.start_env`` but with configuration of its own (``handoff.*`` keys) and
a chosen directory, for the directory admin and the disclosures passed by phone; two of them may
share one PostgreSQL database, like two gateway processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.store.models import StaffUser
from handoff.directory.catalog import Directory
from tests.handoff.conftest import Env, Staff, start_env, stop_env


async def start(
    db_url: str,
    tmp_path: Path,
    *,
    settings: dict[str, Any] | None = None,
    directory: Directory | None = None,
    **option_changes: Any,
) -> Env:
    """A running gateway; ``settings`` are dotted configuration keys (``handoff.recipient_methods``),
    ``directory`` replaces the test directory of ``conftest.handoff_directory``."""
    return await start_env(
        db_url,
        tmp_path,
        settings=settings,
        directory=directory,
        webhook_attempts=3,
        create_all=False,
        **option_changes,
    )


async def stop(env: Env) -> None:
    await stop_env(env)


async def same_person_in(other: Env, staff: Staff) -> Staff:
    """The same signed-in staff member (their session is in the shared database) at another gateway."""
    async with other.db.session() as session:
        user = (await session.execute(select(StaffUser).where(StaffUser.id == staff.user.id))).scalar_one()
    return Staff(other, user, staff.token, staff.csrf)


__all__ = ["same_person_in", "start", "stop"]
