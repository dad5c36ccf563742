"""Log in as client in Chromium: the owner opens Blue Harbor Dental's portal from the clients
list, sees the banner, and comes back to the reseller portal; in English and in Hebrew."""

from __future__ import annotations

import pytest

from tests.frontends.conftest import BROWSER, shot

pytestmark = BROWSER


@pytest.mark.parametrize("lang", ["en", "he"])
async def test_the_owner_logs_in_as_the_client_and_back(manage_page, lang):
    page = manage_page
    if lang == "he":
        await page.get_by_label("Language").select_option("he")
        await page.get_by_role("button", name="Change").click()
        await page.wait_for_url("**/manage")
    await page.goto("/manage/clients")
    await shot(page, f"manage-clients-{lang}")
    await (
        page.locator('form[action$="/impersonate"]')
        .filter(has=page.locator('button[aria-label$="Blue Harbor Dental"]'))
        .get_by_role("button")
        .click()
    )
    await page.wait_for_url("**/")
    banner = page.locator("#impersonation-banner")
    await banner.wait_for()
    assert await page.get_by_text("Blue Harbor Dental").count() >= 1
    await shot(page, f"portal-impersonation-{lang}")
    await banner.get_by_role("button").click()
    await page.wait_for_url("**/manage/clients")
    assert await page.locator("#impersonation-banner").count() == 0
    assert await page.locator("#clients-table").count() == 1
