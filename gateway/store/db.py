"""The database: an async SQLAlchemy engine on SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from gateway.errors import StoreUnavailable
from gateway.private_files import private_file, sqlite_file
from gateway.store.gate import Gate, Hurry
from gateway.store.sqlite_checkpoint import Checkpointer, no_checkpoints
from gateway.store.sqlite_inline import begin_immediate, inline_creator

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # Switching to WAL needs the file to itself; once it is WAL (it stays so), only ask.
    cur.execute("PRAGMA journal_mode")
    if str(cur.fetchone()[0]).lower() != "wal":
        cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    no_checkpoints(cur)
    cur.close()


DEFAULT_POOL_SIZE = 8
"""Eight, not more: every pooled connection keeps about eighty prepared statements (SQLAlchemy's
cache per connection), some twenty objects each that the cyclic collector walks on every full
collection.  With twenty connections those collections held the event loop 40-80 ms under load; with
eight, 20-37 ms, and a PostgreSQL on a few cores serves no faster for the extra connections (one
process at 100 round trips/s: p99 less the typing 440-566 ms with twenty, 244-262 ms with eight; a
critical alert on every console 76-154 ms, 44-48 ms; issue #18).  Sessions beyond wait at the gate in
memory, by lane."""
DEFAULT_MAX_OVERFLOW = 0
DEFAULT_TRANSACTIONS = 3
"""Transactions a process runs at once on PostgreSQL; the others wait at the gate, by lane.  The
pool's connections do not make the store faster: the process's one event loop is what is busy, and
every transaction let in beside the others makes each of them wait for more turns of it, between
each of its statements.  Seven at once (the pool less one) gave a critical message's transaction up
to 20 ms of waiting for a turn and 55-110 ms in all, and the lanes (``gateway.store.gate``) hardly
ever ordered anything.  ``bench.deployed --rate 100 --think 1 --alerts 10``, alternated (issue #18):
one process, p99 less the typing 382-513 ms with seven, 289-345 with three, 240 with two; two
processes 456-477 ms with seven, 289-421 with three, 308-316 with two; a critical alert on every
console, p99, 120-260 ms with seven and 84-88 ms with three on two processes; the CPU per round
trip the same.  Three rather than two: a PostgreSQL reached over a network, where each statement
waits for the wire, needs more transactions at once for the same throughput."""
SERVER_LIMITS = (
    "SELECT current_setting('max_connections')::int"
    " - current_setting('superuser_reserved_connections')::int,"
    " (SELECT datconnlimit FROM pg_database WHERE datname = current_database()),"
    " (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user)"
)
"""The server's connection limits: overall (less the superusers'), the database's, the role's (-1: none)."""


@asynccontextmanager
async def _unavailable_as_store_error() -> AsyncIterator[None]:
    """A database that cannot be reached becomes :class:`StoreUnavailable` (retryable); other
    errors pass unchanged."""
    try:
        yield
    except OperationalError as exc:
        raise StoreUnavailable(f"database unavailable: {type(exc.orig).__name__}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailable(f"database connection lost: {type(exc.orig).__name__}") from exc
        if _server_cannot_serve(exc.orig):
            raise StoreUnavailable(f"database saturated: {type(exc.orig).__name__}") from exc
        raise
    except PoolTimeout as exc:
        raise StoreUnavailable("database unavailable: no free connection") from exc
    except Exception as exc:
        # A refused connection attempt reaches us as the driver's own exception (SQLAlchemy
        # wraps only errors of statements): too many connections, a server starting or stopping.
        if _server_cannot_serve(exc):
            raise StoreUnavailable(f"database saturated: {type(exc).__name__}") from exc
        raise


def _server_cannot_serve(exc: BaseException | None) -> bool:
    """The server cannot serve now, for a reason a retry can outlive: SQLSTATE class 08
    (connection exception), 53 (insufficient resources: 53300 too many connections) or 57P01-03
    (shutting down, crashed, starting)."""
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return isinstance(state, str) and (state[:2] in ("08", "53") or state in ("57P01", "57P02", "57P03"))


HANDED = "handed_on_commit"
"""``session.info`` key: rows a transaction hands on once it has committed, each with an ``origin``
(the outbox's events, :func:`gateway.outbox.insert_rows`), to the hook registered for that origin."""


def json_text(value: Any) -> str:
    """A JSON column's text: compact UTF-8, keys that are not strings written as strings (as
    :func:`json.dumps` did)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class Database:
    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
        transactions: int = DEFAULT_TRANSACTIONS,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.echo = echo
        self.transactions = transactions
        """At most this many transactions at once on PostgreSQL (:data:`DEFAULT_TRANSACTIONS`)."""
        self.file = sqlite_file(url)
        """The SQLite file; None for PostgreSQL or an in-memory SQLite."""
        self._build(pool_size, max_overflow)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # The checkpoint's last pass takes its turn at once in the overdue lane (after a critical
        # message's, before the console's): what it copies grows while it waits.
        self.checkpointer = (
            Checkpointer(self.file, lambda: self._gate.enter(overdue=0.0)) if self.file is not None else None
        )
        """SQLite's checkpoints off the event loop; :meth:`start_checkpoints` starts them."""
        self.on_commit: dict[str, Callable[[list[dict[str, Any]]], None]] = {}
        """origin -> what takes the rows of that origin a committed transaction handed on."""

    def _build(self, pool_size: int, max_overflow: int) -> None:
        self.pool_size, self.max_overflow = pool_size, max_overflow
        # orjson for the JSON columns (triage, meta, the outbox's payloads): the standard library's
        # encoder was 1.5 % of a PostgreSQL process's CPU under the deployed benchmark (issue #18).
        kwargs: dict[str, Any] = {
            "echo": self.echo,
            "json_serializer": json_text,
            "json_deserializer": orjson.loads,
        }
        if self.is_sqlite:
            if self.file is not None:
                private_file(self.file)
            # Calls run on the event loop while no other process holds the file (sqlite_inline).
            dialect = make_url(self.url).get_dialect()()
            cargs, cparams = dialect.create_connect_args(make_url(self.url))
            kwargs["async_creator"] = inline_creator(tuple(cargs), dict(cparams))
            # No reset (a ROLLBACK) as a connection goes back to the pool: every checkout here is a
            # session or an engine connection, and SQLAlchemy ends their transaction (commit, or
            # rollback at close) before it returns the connection, so the reset rolled back
            # nothing, about twenty times per web chat round trip, each a trip through the driver.
            kwargs["pool_reset_on_return"] = None
        else:
            # No pre-ping: on asyncpg it costs three round trips (BEGIN, a ping, ROLLBACK) before
            # every transaction.  A connection found dead instead fails its transaction with the
            # retryable StoreUnavailable, and SQLAlchemy then recycles every pooled connection
            # older than the failure, so one lost server costs one failed attempt, not one per
            # pooled connection.  LIFO: the connections used last serve again, their prepared
            # statements warm, rather than a round over the whole pool.
            kwargs.update(
                pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=False, pool_use_lifo=True
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", begin_immediate)
            self._gate = Gate(1)
        else:
            # Leave a few connections of the pool for nested sessions and direct engine use
            # (health checks), which do not wait at the gate.
            total = pool_size + max_overflow
            self._gate = Gate(max(1, min(self.transactions, total - max(1, min(2, total // 10)))))

    async def fit_pool(self, processes: int) -> int:
        """Cut this process's pool to its share of the PostgreSQL server's connections, when the
        configured pool is larger; the pool's size.

        The limit is the tightest of the server's ``max_connections`` (less those reserved for
        superusers), the database's and the role's connection limits; a tenth of it (at least
        two) is left for administration and migrations, the rest shared by ``processes``.  Two
        processes with pools larger than their share made PostgreSQL refuse connections under
        load, and counsellors' replies failed."""
        if self.is_sqlite:
            return 1
        async with self.engine.connect() as conn:
            row = (await conn.execute(text(SERVER_LIMITS))).one()
        limit = min([int(row[0])] + [int(v) for v in row[1:] if v is not None and v >= 0])
        share = max(1, (limit - max(2, limit // 10)) // processes)
        total = self.pool_size + self.max_overflow
        if total <= share:
            return total
        size = min(self.pool_size, share)
        log.warning(
            "store: a pool of %d connections per process for %d processes exceeds PostgreSQL's limit "
            "of %d; using %d (set database.pool_size and database.processes to match the fleet)",
            total,
            processes,
            limit,
            share,
        )
        await self.engine.dispose()
        self._build(size, share - size)
        self.sessionmaker.configure(bind=self.engine)
        return share

    @asynccontextmanager
    async def session(
        self, *, urgent: bool | Hurry = False, overdue: float | None = None
    ) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed on success and rolled back on error.  ``urgent``:
        its turn comes before the others waiting; a :class:`Hurry` may make it so while it waits
        (a batch of messages that a critical one waits behind, :mod:`gateway.store.gate`).
        ``overdue``: after waiting so many seconds, its turn comes before the others' that are
        not urgent (a batch of messages)."""
        async with self._gate.enter(urgent=urgent, overdue=overdue), _unavailable_as_store_error():
            async with self.sessionmaker() as session:
                async with session.begin():
                    yield session
                # Committed: what it handed on is now true (a rollback never gets here).
                handed = session.info.get(HANDED)
                if handed:
                    self._hand_on(handed)

    @property
    def turns(self) -> int:
        """How many sessions of this process run at once (one on SQLite); the others wait."""
        return self._gate.slots

    def _hand_on(self, rows: list[dict[str, Any]]) -> None:
        by_origin: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_origin.setdefault(row["origin"], []).append(row)
        for origin, mine in by_origin.items():
            hook = self.on_commit.get(origin)
            if hook is not None:  # none: its rows are read from the store (a relay elsewhere)
                hook(mine)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: it never commits (closed with a rollback), takes no lock."""
        async with self._gate.enter(), _unavailable_as_store_error():
            async with self.sessionmaker() as session:
                yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """An engine connection for a hot read in Core, without an ORM session (a signal's peek at
        its conversation): it never commits, like :meth:`reader`."""
        async with self._gate.enter(), _unavailable_as_store_error():
            async with self.engine.connect() as conn:
                yield conn

    async def health(self) -> dict[str, Any]:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return {"state": "down", "kind": self.kind, "error": type(exc).__name__}
        return {"state": "ok", "kind": self.kind}

    @property
    def kind(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    async def upgrade(self) -> None:
        """Apply every Alembic migration (``helpline db upgrade``; also at start)."""
        await asyncio.to_thread(upgrade_sync, self.url)

    def start_checkpoints(self) -> None:
        """On a SQLite file: copy the log into the file from a worker thread from now on (the
        serving process; :mod:`gateway.store.sqlite_checkpoint`)."""
        if self.checkpointer is not None:
            self.checkpointer.start()

    async def close(self) -> None:
        if self.checkpointer is not None:
            await self.checkpointer.stop()
        await self.engine.dispose()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade_sync(url: str, revision: str = "head") -> None:
    from alembic import command

    from gateway.store.migrate_lock import migration_lock

    with migration_lock(url):
        command.upgrade(alembic_config(url), revision)
