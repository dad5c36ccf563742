"""Cache stamps: a named counter that goes up in the same transaction as every change to what
processes cache under that name. A process compares the stamp it cached with the stored one at
its next use and drops its cache when they differ, so a change made by any process is seen by
all of them once it commits."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import CacheStamp

BRANDING = "branding"  # what hosts resolve to and how brands look (``branding/``)


async def read(session: AsyncSession, name: str) -> int:
    return await session.scalar(select(CacheStamp.version).where(CacheStamp.name == name)) or 0


async def bump(session: AsyncSession, name: str) -> None:
    """Move the stamp on. On PostgreSQL the row stays locked until the transaction ends, which
    also serialises concurrent changes under one name."""
    stmt = update(CacheStamp).where(CacheStamp.name == name)
    result = await session.execute(stmt.values(version=CacheStamp.version + 1))
    if result.rowcount:
        return
    try:
        async with session.begin_nested():
            session.add(CacheStamp(name=name, version=1))
            await session.flush()
    except IntegrityError:  # created by a concurrent first change: move it on instead
        await session.execute(stmt.values(version=CacheStamp.version + 1))
