"""The client portal in Chromium (Debian's /usr/bin/chromium, driven by Playwright): sign in
on Acme's hostname, see its colours, switch to Hebrew and see the page mirrored and its menu
translated. Run once, on SQLite (a browser test says nothing more on PostgreSQL). Screenshots
of each page go to build/screenshots/portal/ (README, "Portals")."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import async_playwright, expect

from api.domain import demo
from tests.frontends.conftest import ACME_HOST

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

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
async def page(server):
    if not CHROMIUM.exists():
        pytest.fail("chromium is missing: `make install` installs it")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--host-resolver-rules=MAP * 127.0.0.1", "--no-sandbox"],
        )
        context = await browser.new_context(
            base_url=f"http://{ACME_HOST}:{server}", viewport={"width": 1280, "height": 900}
        )
        tab = await context.new_page()
        tab.set_default_timeout(10_000)
        yield tab
        await browser.close()


async def shot(page, name: str) -> None:
    """A screenshot of the page, and axe's accessibility check of it (WCAG 2.1 A and AA)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    await page.add_script_tag(path=str(AXE))
    assert await page.evaluate(AXE_RUN) == [], name


async def test_sign_in_on_the_brand_host_and_switch_to_hebrew(page):
    # given Acme's portal on acme.localhost
    await page.goto("/")
    assert page.url.endswith("/login")
    header = page.locator(".brand-header")
    # then it wears Acme's colour and name
    assert await header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(74, 25, 66)"
    assert await page.locator(".brand-name").inner_text() == "Acme Voice"
    await shot(page, "login-en")
    # when the client signs in
    await page.get_by_label("Email").fill(demo.CLIENT_EMAIL)
    await page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/")
    # then Home shows its balance, this month and the chart drawn beside its table
    await page.locator("#balance .figure").wait_for()
    assert "$" in await page.locator("#balance .figure").inner_text()
    assert await page.locator("#spend-table tbody tr").count() == 30
    await page.wait_for_function(
        "() => { const c = document.getElementById('spend-chart');"
        " return window.Chart && Chart.getChart(c) !== undefined; }"
    )
    await shot(page, "home-en")
    # when it switches to Hebrew
    await page.get_by_label("Language").select_option("he")
    await page.get_by_role("button", name="Change").click()
    await expect(page.locator("html")).to_have_attribute("lang", "he")
    # then the page is right to left and the menu is in Hebrew
    assert await page.evaluate("document.documentElement.dir") == "rtl"
    menu = page.get_by_role("navigation")
    assert await menu.get_by_role("link").first.inner_text() == "דף הבית"
    assert await page.get_by_role("button", name="התנתקות").is_visible()
    await shot(page, "home-he")
    for lang in ("fr", "ru"):
        await page.get_by_label("שפה" if lang == "fr" else "Langue").select_option(lang)
        await page.locator("form.language button").click()
        await expect(page.locator("html")).to_have_attribute("lang", lang)
        await shot(page, f"home-{lang}")
