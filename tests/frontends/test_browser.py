"""The client portal in Chromium (Debian's /usr/bin/chromium, driven by Playwright): sign in
on Acme's hostname, see its colours, switch to Hebrew and see the page mirrored and its menu
translated. Run once, on SQLite (a browser test says nothing more on PostgreSQL). Screenshots
of each page go to build/screenshots/portal/ (README, "Portals").

The browser fixtures (``page``, ``shot``) are in ``conftest.py``: each page's browser test
module sets ``pytestmark = BROWSER``."""

from __future__ import annotations

from playwright.async_api import expect

from api.domain import demo
from tests.frontends.conftest import BROWSER, shot

pytestmark = BROWSER


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
