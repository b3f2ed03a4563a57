"""New SQLite stores for tests start as copies of one that the migrations made in this process.

Applying every migration to an empty SQLite file takes about a quarter of a second, and most tests
start a gateway on a store of their own: over the suite, minutes.  A store file that does not exist
yet is copied from a template migrated once per test process, and the gateway's own upgrade at start
then finds it at the head revision.  The migrations are still applied for real: to the template, to
every PostgreSQL database a test makes, and in the tests of the migrations and of `helpline db
upgrade`, which upgrade files of their own without this."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

from gateway.private_files import sqlite_file
from gateway.store.db import upgrade_sync

_lock = threading.Lock()
_template: Path | None = None


def seed(url: str) -> None:
    """Copy the migrated template to ``url``'s SQLite file if that file does not exist yet (and its
    directory does: a test of a missing data directory sees it missing)."""
    path = sqlite_file(url)
    if path is None or path.exists() or not path.parent.is_dir():
        return
    shutil.copyfile(_migrated(), path)


def _migrated() -> Path:
    global _template
    with _lock:
        if _template is None:
            where = Path(tempfile.mkdtemp(prefix="helpline-template-"))
            atexit.register(shutil.rmtree, where, True)
            upgrade_sync(f"sqlite+aiosqlite:///{where / 'template.db'}")
            _template = where / "template.db"
        return _template
