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

import asyncio
import time
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import MetaData, Select, Table, bindparam, event, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.dml import Insert
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
        _close_lanes_on_dispose(engine)
        return engine
    # enough pooled connections for a busy worker's requests in flight: an overflow connection
    # is closed when it is given back, and opening one (TLS negotiation, authentication) costs
    # more than many authorizations
    engine = create_async_engine(url, echo=echo, pool_size=20, max_overflow=10)
    _ping_idle_connections(engine)
    _close_lanes_on_dispose(engine)
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


def unnest_insert(table: Table, names: Sequence[str]) -> Insert:
    """PostgreSQL: ``INSERT INTO table (names) SELECT * FROM unnest(:name, …)``, one array
    parameter per column (``unnest_params``): any number of rows in one statement and one round
    trip, where an executemany sends every row as an execution of its own. No Python-side
    column defaults apply: give every column that needs a value."""
    arrays = [bindparam(name, type_=ARRAY(table.c[name].type)) for name in names]
    source = func.unnest(*arrays).table_valued(*names).render_derived()
    return postgresql.insert(table).from_select(list(names), select(*source.c))


def unnest_params(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, list]:
    """The parameters of :func:`unnest_insert`: ``rows`` (tuples in ``names`` order) by column."""
    return {name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)}


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
    reader = engine.execution_options(**options)
    _ROOTS[reader.sync_engine] = _ROOTS.get(engine.sync_engine, engine.sync_engine)
    return reader


def read_only_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions over :func:`read_only` ``engine``."""
    return session_factory(read_only(engine))


class DriverQuery:
    """A Core SELECT for a hot read, run straight on the driver's connection: compiled once per
    dialect, kept prepared per connection by asyncpg (its statement cache), and none of
    SQLAlchemy's per-execution work, which costs several times the driver's own. ``first``
    takes an engine (then it runs on one of the engine's ``_Lanes``, outside any transaction:
    one statement reads one snapshot, and on SQLite takes no write lock), or a session or
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
            lanes = _lanes(db)
            while True:
                lane, fresh = await lanes.take(db)
                try:
                    row = await compiled.fetch(lane.driver_connection, params)
                except Exception:
                    await lanes.drop(lane)
                    if fresh:
                        raise
                    continue  # it may have broken while idle: again, on a fresh one
                except BaseException:  # cancelled mid-statement: its state is unknown
                    await lanes.drop(lane)
                    raise
                if lanes.closed:  # the engine was disposed meanwhile
                    await lanes.drop(lane)
                else:
                    lanes.give_back(lane)
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


# driver connections DriverQuery keeps out of an engine's pool, at most
DRIVER_LANES = 8
_LANES: WeakKeyDictionary[Engine, _Lanes] = WeakKeyDictionary()
_ROOTS: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()  # read_only's -> its engine


class _Lanes:
    """Connections of an engine's pool that ``DriverQuery`` keeps checked out: taking one is a
    queue operation, where a pool checkout and return are each a switch into a greenlet and
    back (together a fifth of the CPU of a switch's authorization). Made on demand, at most
    ``DRIVER_LANES``, waited for beyond; one that fails is closed (``drop``), and all are
    closed when the engine is disposed."""

    def __init__(self) -> None:
        self.idle: asyncio.Queue[PoolProxiedConnection] = asyncio.Queue()
        self.count = 0
        self.closed = False

    async def take(self, engine: AsyncEngine) -> tuple[PoolProxiedConnection, bool]:
        """A lane, and whether it is new."""
        if self.idle.empty() and self.count < DRIVER_LANES:
            self.count += 1
            try:
                return await engine.raw_connection(), True
            except BaseException:
                self.count -= 1
                raise
        return await self.idle.get(), False

    def give_back(self, lane: PoolProxiedConnection) -> None:
        self.idle.put_nowait(lane)

    async def drop(self, lane: PoolProxiedConnection) -> None:
        self.count -= 1
        await greenlet_spawn(lane.invalidate)

    def close(self) -> None:
        """Close the idle lanes (in the engine's dispose, which runs in a greenlet)."""
        self.closed = True
        while not self.idle.empty():
            self.count -= 1
            self.idle.get_nowait().invalidate()


def _lanes(engine: AsyncEngine) -> _Lanes:
    root = _ROOTS.get(engine.sync_engine, engine.sync_engine)
    lanes = _LANES.get(root)
    if lanes is None:
        lanes = _LANES[root] = _Lanes()
    return lanes


def _close_lanes_on_dispose(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "engine_disposed")
    def _on_dispose(sync_engine):  # pragma: no cover - engine hook
        lanes = _LANES.pop(sync_engine, None)
        if lanes is not None:
            lanes.close()


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
