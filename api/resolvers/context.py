"""The per-request GraphQL context: who is asking, the database, and the data loaders.

One AsyncSession serves the request's reads; strawberry resolves sibling fields concurrently,
so reads take a lock and each ends its (short) transaction, which on SQLite releases the write
lock that ``BEGIN IMMEDIATE`` takes. Every mutation runs in a transaction of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from api.domain import auth
from api.domain.actors import Actor
from api.settings import Settings


@dataclass
class Context:
    request: Request
    response: Response
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    actor: Actor
    session_token: str | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _session: AsyncSession | None = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._lock:
            if self._session is None:
                self._session = self.sessions()
            try:
                yield self._session
            finally:
                await self._session.commit()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        async with self._lock, self.sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @cached_property
    def loaders(self) -> Any:
        from api.resolvers.dataloaders import Loaders

        return Loaders(self)


async def context_for(
    request: Request,
    response: Response,
    *,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    token: str | None,
) -> Context:
    """The context of a request made with ``token`` (a Bearer token or the session cookie):
    the same for ``/graphql`` and for the portals' in-process operations."""
    actor = await auth.actor_for_request(engine, token)
    return Context(
        request=request,
        response=response,
        settings=settings,
        sessions=sessions,
        actor=actor,
        session_token=token,
    )


Info = StrawberryInfo[Context, None]
