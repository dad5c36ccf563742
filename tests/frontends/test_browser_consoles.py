"""The staff portals in Chromium: signing in to the reseller portal and the operator console,
in English and in Hebrew (right to left), each page screenshotted and checked by axe."""

from __future__ import annotations

import pytest

from tests.frontends.conftest import BROWSER, shot

pytestmark = BROWSER


async def test_the_reseller_owner_sees_the_dashboard(manage_page):
    page = manage_page
    await (
        page.get_by_role("navigation", name="Main menu")
        .get_by_role("link", name="Clients")
        .wait_for()
    )
    assert await page.locator("#reseller-balance").inner_text()
    await shot(page, "manage-dashboard-en")


async def test_the_dashboard_in_hebrew_reads_right_to_left(manage_page):
    page = manage_page
    await page.get_by_label("Language").select_option("he")
    await page.get_by_role("button", name="Change").click()
    await page.wait_for_url("**/manage")
    assert await page.locator("html").get_attribute("dir") == "rtl"
    await shot(page, "manage-dashboard-he")


@pytest.mark.parametrize("lang", ["en", "he"])
async def test_the_operator_sees_the_overview(operator_page, lang):
    page = operator_page
    if lang == "he":
        await page.get_by_label("Language").select_option("he")
        await page.get_by_role("button", name="Change").click()
        await page.wait_for_url("**/operator")
    assert await page.get_by_text("Acme Telecom").count() == 1
    await shot(page, f"operator-overview-{lang}")
