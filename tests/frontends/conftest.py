"""The portals' fixtures: the demo world (its Acme portal on acme.localhost), the app, and a
client speaking HTTP to it as a browser on a given host would (cookies kept)."""

from __future__ import annotations

import re

import httpx
import pytest

from api.app import create_app
from api.domain import demo

ACME_HOST = "acme.localhost"
GLOBEX_HOST = "globex.localhost"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def demo_world(sessions, settings):
    return await demo.seed(sessions, settings=settings)


@pytest.fixture
async def portal_app(settings, demo_world):
    app = create_app(settings)
    yield app
    await app.state.engine.dispose()


class Browser:
    """HTTP to the app on one host, keeping cookies like a browser."""

    def __init__(self, app, host: str) -> None:
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=f"http://{host}"
        )

    async def csrf(self, path: str = "/login") -> str:
        page = await self.http.get(path)
        return CSRF_RE.search(page.text).group(1)

    async def login(self, email: str, password: str = demo.DEMO_PASSWORD) -> httpx.Response:
        token = await self.csrf()
        return await self.http.post(
            "/login", data={"csrf_token": token, "email": email, "password": password}
        )


@pytest.fixture
async def browse(portal_app):
    opened: list[Browser] = []

    def open_on(host: str = ACME_HOST) -> Browser:
        opened.append(Browser(portal_app, host))
        return opened[-1]

    yield open_on
    for browser in opened:
        await browser.http.aclose()
