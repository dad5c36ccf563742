"""Shared fixtures: one database per backend, migrated once, emptied before each test.

* ``db_url`` — parametrized over the backends: ``[sqlite]`` always (a temp file), and
  ``[postgresql]`` when ``DIALTONE_TEST_DATABASE_URL`` is set. Alembic migrations run once per
  backend per session (they are the only way tables are created).
* ``engine`` — the backend's ``AsyncEngine`` (one per backend per session), with every table
  emptied before the test that asks for it.
* ``sessions`` — ``api.db.session_factory(engine)``; use ``api.db.transaction(sessions)`` for one
  unit of work.
* ``settings`` — ``api.settings.Settings`` pointing at the same database, debug on.
* ``count_statements(engine)`` — a context manager yielding the list of SQL statements run.
* ``ledger_checked`` — asserts the ledger invariants (DESIGN §4.7) once the test is done, on its
  database; a module of money tests takes it for every test with
  ``pytestmark = pytest.mark.usefixtures("ledger_checked")``.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import api.models  # noqa: F401  (every table on Base.metadata)
from api.db import Base, create_engine, is_sqlite, migrate, session_factory
from api.settings import Settings
from tests.factories import assert_ledger_consistent, count_statements

__all__ = ["count_statements"]

PG_ENV = "DIALTONE_TEST_DATABASE_URL"
TEST_SECRET_KEY = "dialtone-test-secret-key-0123456789"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


def _outside_loop(fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn`` in a fresh thread: Alembic's env.py calls ``asyncio.run``, which refuses to
    start inside a running event loop."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn(*args)
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target, name="dialtone-migrate")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def _reset_postgres_schema(url: str) -> None:
    async def reset() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()

    asyncio.run(reset())


@pytest.fixture(scope="session", params=BACKENDS, ids=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a freshly migrated database of one backend (sqlite, postgresql)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "dialtone-test.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = os.environ[PG_ENV]
        _outside_loop(_reset_postgres_schema, url)
    _outside_loop(migrate, url)
    return url


@pytest.fixture(scope="session")
async def _session_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


async def _empty_all_tables(engine: AsyncEngine) -> None:
    tables = [t for t in Base.metadata.sorted_tables if t.name != "alembic_version"]
    async with engine.begin() as conn:
        if is_sqlite(str(engine.url)):
            for table in reversed(tables):
                await conn.execute(table.delete())
            has_sequence = await conn.scalar(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
            )
            if has_sequence:
                await conn.execute(text("DELETE FROM sqlite_sequence"))
        else:
            names = ", ".join(f'"{t.name}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def engine(_session_engine: AsyncEngine) -> AsyncEngine:
    """The backend's engine, every table empty."""
    await _empty_all_tables(_session_engine)
    return _session_engine


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        debug=True,
        secret_key=TEST_SECRET_KEY,
        webhook_allow_private=True,  # the tests' receivers listen on loopback
    )


def _check_ledger(url: str) -> None:
    async def check() -> None:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                await assert_ledger_consistent(session)
        finally:
            await engine.dispose()

    asyncio.run(check())


@pytest.fixture
def ledger_checked(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that uses the database (and after every fixture it asked for, such as an
    app whose background work runs to its end), the ledger sums to zero, every entry balances
    and every cached balance equals the sum of its postings. Tests without a database are
    left alone."""
    if "engine" not in request.fixturenames:
        yield
        return
    url = request.getfixturevalue("db_url")
    yield
    _outside_loop(_check_ledger, url)


@pytest.fixture
def smtp_inbox():
    """A real SMTP server (aiosmtpd) on a free loopback port; what it received."""
    from tests.receivers import smtp_server

    with smtp_server() as inbox:
        yield inbox


@pytest.fixture
def receiver():
    """A real HTTP server on a free loopback port that records webhook POSTs."""
    from tests.receivers import http_receiver

    with http_receiver() as hits:
        yield hits


@pytest.fixture
def mail_settings(settings: Settings, smtp_inbox) -> Settings:
    """``settings`` sending mail to ``smtp_inbox``."""
    from dataclasses import replace

    return replace(
        settings,
        smtp_host=smtp_inbox.host,
        smtp_port=smtp_inbox.port,
        smtp_from="billing@platform.test",
        smtp_timeout_seconds=5,
        webhook_timeout_seconds=5,
    )
