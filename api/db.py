"""Engines, sessions and the declarative Base.

SQLite (aiosqlite) is the embedded default, PostgreSQL (asyncpg) is production. On SQLite every
transaction starts with ``BEGIN IMMEDIATE`` so that writers serialize instead of failing to upgrade
a read lock; foreign keys are enforced. PostgreSQL uses its own row locks (DESIGN §4.6).

``read_only`` (and ``read_only_session_factory`` over it) is for work that never writes (the
switch's call authorization, finding who a token is): on SQLite its transactions start with a
plain, deferred ``BEGIN``, so they take no write lock and, in WAL mode, read a consistent
snapshot beside a writer instead of queueing behind it. On PostgreSQL it runs in autocommit: no
BEGIN / ROLLBACK round trips.
"""

from __future__ import annotations

import time
from collections import namedtuple
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Select, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.util import greenlet_spawn

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _sqlite_setup(engine)
        return engine
    # enough pooled connections for a busy worker's requests in flight: an overflow connection
    # is closed when it is given back, and opening one (TLS negotiation, authentication) costs
    # more than many authorizations
    engine = create_async_engine(url, echo=echo, pool_size=20, max_overflow=10)
    _ping_idle_connections(engine)
    return engine


# A connection back in the pool for longer than this is pinged before it is handed out again.
# SQLAlchemy's pool_pre_ping pings on every checkout, which on asyncpg costs three round trips
# (BEGIN, ping, COMMIT): more than a whole call authorization. A connection that broke while
# busy or in the last seconds fails its statement instead; SQLAlchemy then sees the disconnect
# and invalidates the whole pool, so one request fails, not one per pooled connection.
PING_AFTER_IDLE_SECONDS = 2.0


def _ping_idle_connections(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_connection, record):  # pragma: no cover - pool hook
        record.info["dialtone_idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):  # pragma: no cover - pool hook
        since = record.info.get("dialtone_idle_since")
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("the connection did not answer a ping") from exc


def _sqlite_setup(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - driver hook
        # Let SQLAlchemy (not the driver) emit BEGIN, so that we can make it IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across app crashes
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver hook
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


READ_ONLY = "dialtone_read_only"


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` (sharing its pool) for reads only. On SQLite its transactions begin deferred
    (no write lock); writing through it may fail with "database is locked" under contention,
    so never do it. On PostgreSQL it runs in autocommit."""
    options: dict = {READ_ONLY: True}
    if not is_sqlite(str(engine.url)):
        # each statement reads its own snapshot, as under READ COMMITTED, without the round
        # trips of BEGIN and ROLLBACK
        options["isolation_level"] = "AUTOCOMMIT"
    return engine.execution_options(**options)


def read_only_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions over :func:`read_only` ``engine``."""
    return session_factory(read_only(engine))


class DriverQuery:
    """A Core SELECT for a hot read, run straight on the driver's connection: compiled once per
    dialect, kept prepared per connection by asyncpg (its statement cache), and none of
    SQLAlchemy's per-execution work, which costs several times the driver's own. ``first``
    takes an engine (a pooled connection for this one statement, outside any transaction: one
    statement reads one snapshot, and on SQLite takes no write lock), or a session or
    connection (then it runs in their transaction).

    Parameters are passed to the driver as they are: use strings and integers. Values come
    back as SQLAlchemy would give them: through the column types' result processing on SQLite;
    asyncpg already returns the same Python types (int, str, bool, Decimal, aware datetime)."""

    def __init__(self, statement: Select) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    async def first(
        self, db: AsyncEngine | AsyncConnection | AsyncSession, params: dict[str, Any]
    ) -> Any | None:
        """The first row (attributes named as the statement's columns), or None."""
        if isinstance(db, AsyncEngine):
            compiled = self._for(db.dialect)
            pooled = await db.raw_connection()
            try:
                row = await compiled.fetch(pooled.driver_connection, params)
            finally:
                await greenlet_spawn(pooled.close)
            return row
        if isinstance(db, AsyncSession):
            db = await db.connection()
        compiled = self._for(db.dialect)
        return await compiled.fetch((await db.get_raw_connection()).driver_connection, params)

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return compiled


class _Compiled:
    """A ``DriverQuery`` for one dialect: its SQL, parameter order and row maker."""

    def __init__(self, statement: Select, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names = compiled.positiontup or ()
        self.defaults = compiled.params  # the literal values bound in the statement
        columns = list(statement.selected_columns)
        self.make = namedtuple("Row", [c.key for c in columns])._make
        self.asyncpg = dialect.driver == "asyncpg"
        self.processors: list[Callable[[Any], Any] | None] = [
            None if self.asyncpg else c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in columns
        ]

    async def fetch(self, driver: Any, params: dict[str, Any]) -> Any | None:
        args = [params[n] if n in params else self.defaults[n] for n in self.names]
        if self.asyncpg:
            row = await driver.fetchrow(self.sql, *args)
            return None if row is None else self.make(row)
        rows = await driver.execute_fetchall(self.sql, args)
        if not rows:
            return None
        processed = zip(self.processors, rows[0], strict=True)
        return self.make([value if p is None else p(value) for p, value in processed])


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any exception."""
    async with sessions() as session, session.begin():
        yield session


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Apply Alembic migrations: the only way tables are created. Call outside an event loop."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
