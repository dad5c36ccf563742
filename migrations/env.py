"""Alembic environment: async engines for SQLite and PostgreSQL, batch mode for SQLite."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

import api.models  # noqa: F401  (registers every table on Base.metadata)
from api.db import Base
from api.models.base import UTCDateTime

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    """The URL given by ``api.db.migrate``, else DIALTONE_DATABASE_URL, else alembic.ini's."""
    return (
        config.attributes.get("database_url")
        or os.environ.get("DIALTONE_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
    )


def _render_item(type_, obj, autogen_context):
    """Render our column types as plain SQLAlchemy ones so migrations do not import models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(_run_async())
