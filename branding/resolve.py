"""Host → brand resolution, cached per process.

The cache maps normalised hosts to their theme (or to None: unknown and pending hosts resolve
to nothing). Every use first reads the ``branding`` cache stamp (one primary-key lookup); when
it moved since the cache was filled, by a change committed in any process, the cache is
dropped. The stamp is read before the data, so what is cached is never older than its stamp.
The cache holds at most ``max_hosts`` hosts (Host headers come from anyone) and is emptied
when full.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.requests import HTTPConnection

from api.db import read_only_session_factory
from api.domain import brands, stamps
from api.domain.dns import Resolver, SystemResolver
from api.settings import Settings
from branding.hosts import host_of, proxy_networks
from branding.theme import Theme, theme_of


class BrandCache:
    def __init__(self, max_hosts: int = 1024) -> None:
        self.max_hosts = max_hosts
        self._stamp: int | None = None
        self._themes: dict[str, Theme | None] = {}

    async def theme(
        self, session: AsyncSession, host: str | None, settings: Settings
    ) -> Theme | None:
        if host is None:
            return None
        stamp = await stamps.read(session, brands.STAMP)
        if stamp != self._stamp:
            self._themes.clear()
            self._stamp = stamp
        if host in self._themes:
            return self._themes[host]
        owner = await brands.brand_for_host(session, host, settings=settings)
        theme = theme_of(owner) if owner is not None else None
        if len(self._themes) >= self.max_hosts:
            self._themes.clear()
        self._themes[host] = theme
        return theme


class Branding:
    """An app's branding: its settings, read-only sessions, host cache and DNS resolver."""

    def __init__(
        self, settings: Settings, engine: AsyncEngine, resolver: Resolver | None = None
    ) -> None:
        proxy_networks(settings.trusted_proxies)  # a bad entry fails at start, not per request
        self.settings = settings
        self.sessions = read_only_session_factory(engine)
        self.resolver: Resolver = resolver or SystemResolver()
        self.cache = BrandCache()

    def host(self, request: HTTPConnection) -> str | None:
        return host_of(request, self.settings.trusted_proxies)

    async def theme_for(self, request: HTTPConnection) -> Theme | None:
        """The theme of the brand the request's host is served with, or None."""
        async with self.sessions() as session:
            return await self.cache.theme(session, self.host(request), self.settings)

    async def logo_for(self, request: HTTPConnection) -> tuple[bytes, str, str] | None:
        theme = await self.theme_for(request)
        if theme is None or not theme.logo_sha256:
            return None
        async with self.sessions() as session:
            return await brands.logo(session, theme.reseller_id)
