"""The portals' fixtures: the demo world (its Acme portal on acme.localhost), the app, and a
client speaking HTTP to it as a browser on a given host would (cookies kept)."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright
from sqlalchemy import select

from api.app import create_app
from api.domain import callers, demo, numbers, payments
from api.domain.actors import SYSTEM
from api.models import Did
from tests.factories import count_statements

ACME_HOST = "acme.localhost"
GLOBEX_HOST = "globex.localhost"
PLATFORM_HOST = "localhost"  # the operator console's (the settings' default platform host)
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
# browser tests run once, on SQLite: a browser says nothing more on PostgreSQL
BROWSER = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The portal's tests run on SQLite only: a page reads and writes through the GraphQL API,
    whose tests (tests/api, tests/domain) run on both databases, so PostgreSQL adds nothing
    here but time (each test seeds the whole demo)."""
    here = Path(__file__).parent
    dropped = [i for i in items if "[postgresql" in i.nodeid and here in i.path.parents]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i not in dropped]


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

    async def login(
        self, email: str, password: str = demo.DEMO_PASSWORD, path: str = "/login"
    ) -> httpx.Response:
        """Sign in on the login page at ``path`` (``/manage/login``, ``/operator/login``)."""
        token = await self.csrf(path)
        return await self.http.post(
            path, data={"csrf_token": token, "email": email, "password": password}
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


async def statements(browser: Browser, engine, paths: list[str]) -> dict[str, int]:
    """How many SQL statements each page (all answering 200) runs."""
    counts = {}
    for path in paths:
        with count_statements(engine) as seen:
            page = await browser.http.get(path)
        assert page.status_code == 200, path
        counts[path] = len(seen)
    return counts


async def more_rows(s, settings, client, *, payments_made: int, key: str) -> None:
    """Give ``client`` 6 more sub-accounts (``blue-extra-N``), 3 more numbers
    (``+1555888000N``, assigned) and ``payments_made`` payments of 1.50 (keys start ``key``)."""
    for n in range(6):
        await callers.create_sub_account(
            s, SYSTEM, client.id, {"username": f"blue-extra-{n}"}, settings=settings
        )
    await numbers.import_numbers(
        s,
        SYSTEM,
        [
            "number,country,city,monthly_cost,setup_cost,per_minute,currency\n",
            *(f"1555888000{n},US,Austin,1.00,0,0,USD\n" for n in range(3)),
        ],
    )
    for n in range(3):
        did_id = await s.scalar(select(Did.id).where(Did.number == f"1555888000{n}"))
        await numbers.order(s, SYSTEM, did_id, f"{key}-{n}", reseller_id=client.reseller_id)
        await numbers.assign(s, SYSTEM, did_id, client.id, monthly_price="2.00")
    for n in range(payments_made):
        await payments.client_payment(s, SYSTEM, client.id, "1.50", f"{key}-pay-{n}")


# --- the browser ------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots" / "portal"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # installed by `npm ci` (make install)
AXE_RUN = """async () => (await axe.run(document, {runOnly: ["wcag2a", "wcag2aa", "wcag21aa"]}))
  .violations.map(v => `${v.id}: ${v.nodes.map(n => n.target.join(" ")).join(", ")}`)"""


@pytest.fixture
async def server(portal_app):
    """The app served by uvicorn on a free loopback port, in the tests' event loop."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(portal_app, lifespan="off", log_level="warning")
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve(sockets=[sock]))
    while not served.started:
        await asyncio.sleep(0.01)
    yield port
    served.should_exit = True
    await task
    sock.close()


@pytest.fixture
async def chromium(server):
    """Debian's Chromium, every host name mapped to the loopback server; ``open_tab(host)``
    opens a tab on that host."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: `make install` installs it")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--host-resolver-rules=MAP * 127.0.0.1", "--no-sandbox"],
        )

        async def open_tab(host: str = ACME_HOST):
            context = await browser.new_context(
                base_url=f"http://{host}:{server}", viewport={"width": 1280, "height": 900}
            )
            tab = await context.new_page()
            tab.set_default_timeout(10_000)
            return tab

        yield open_tab
        await browser.close()


@pytest.fixture
async def page(chromium):
    """A Chromium tab on Acme's host."""
    return await chromium(ACME_HOST)


async def sign_in(page, email: str, login: str = "/login", home: str = "/") -> None:
    """Sign the tab in on the login page ``login``, and wait for ``home``."""
    await page.goto(login)
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"**{home}")


async def shot(page, name: str) -> None:
    """A screenshot of the page, and axe's accessibility check of it (WCAG 2.1 A and AA)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    await page.add_script_tag(path=str(AXE))
    assert await page.evaluate(AXE_RUN) == [], name


@pytest.fixture
async def client_page(page):
    """The tab signed in as Acme's demo client, on Home."""
    await sign_in(page, demo.CLIENT_EMAIL)
    return page


@pytest.fixture
async def manage_page(page):
    """The tab signed in to Acme's reseller portal as its owner, on the dashboard."""
    await sign_in(page, demo.ACME_OWNER_EMAIL, "/manage/login", "/manage")
    return page


@pytest.fixture
async def operator_page(chromium):
    """A tab on the platform host signed in to the operator console, on its overview."""
    tab = await chromium(PLATFORM_HOST)
    await sign_in(tab, demo.OPERATOR_EMAIL, "/operator/login", "/operator")
    return tab
