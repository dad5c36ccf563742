"""The Sub-accounts page in Chromium: see the SIP settings, set the caller ID to the client's
number, reset the password and see the new one once; screenshots in English and Hebrew."""

from __future__ import annotations

from playwright.async_api import expect

from tests.frontends.conftest import BROWSER, shot
from tests.frontends.test_browser_calls import speak

pytestmark = BROWSER


async def test_set_caller_id_and_reset_a_sub_accounts_password(client_page):
    page = client_page
    await page.get_by_role("navigation").get_by_role("link", name="Sub-accounts").click()
    await page.wait_for_url("**/sub-accounts")
    card = page.locator("section.sub-account").first
    await expect(card.locator("h2")).to_have_text("demo-blueharbordental")
    await shot(page, "sub-accounts-en")
    # when the client shows its number as caller ID
    await card.get_by_label("Caller ID shown to the people called").select_option("14155550100")
    await card.get_by_role("button", name="Save caller ID").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Caller ID of demo-blueharbordental saved."
    )
    # when it resets the password: the new one is shown, once
    await card.get_by_role("button", name="Reset password").click()
    secret = await page.locator("#new-secret-value").inner_text()
    assert len(secret) >= 16
    await shot(page, "sub-accounts-secret-en")
    await page.goto("/sub-accounts")
    await expect(page.locator("#new-secret")).to_have_count(0)
    assert secret not in await page.content()
    await speak(page, "he")
    await shot(page, "sub-accounts-he")
