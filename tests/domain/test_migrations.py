"""The migrated schema matches the models: ``alembic check`` finds nothing to generate."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect

import api.models  # noqa: F401
from api.db import Base, alembic_config


async def test_alembic_check_is_clean(db_url):
    # Alembic's env.py runs its own event loop, so it goes to a worker thread.
    await asyncio.to_thread(command.check, alembic_config(db_url))


async def test_migrations_create_every_table_of_the_models(engine):
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
