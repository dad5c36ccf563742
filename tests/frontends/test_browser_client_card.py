"""The client card in Chromium: its overview in English and in Hebrew (right to left), its
details changed through the form, and its history, each screenshotted and checked by axe."""

from __future__ import annotations

from sqlalchemy import select
from strawberry.relay import to_base64

from api.models import Client
from tests.frontends.conftest import BROWSER, shot

pytestmark = BROWSER


async def _card(sessions) -> str:
    async with sessions() as s:
        client = await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))
    return f"/manage/clients/{to_base64('Client', client.id)}"


async def test_the_card_in_english_and_hebrew(manage_page, sessions):
    page = manage_page
    card = await _card(sessions)
    await page.goto(card)
    assert await page.locator("#sub-accounts").get_by_text("demo-blueharbordental").count() == 1
    assert await page.locator("#client-balance").inner_text()
    await shot(page, "manage-client-card-en")
    await page.get_by_label("Language").select_option("he")
    await page.get_by_role("button", name="Change").click()
    await page.wait_for_url(f"**{card}")
    assert await page.locator("html").get_attribute("dir") == "rtl"
    await shot(page, "manage-client-card-he")


async def test_the_details_are_edited_and_the_history_shows_it(manage_page, sessions):
    page = manage_page
    card = await _card(sessions)
    await page.goto(card + "/edit")
    await page.locator("#f-label").fill("vip")
    await page.locator("#f-credit_limit").fill("25")
    await page.get_by_role("button", name="Save the details").click()
    await page.wait_for_url("**/edit?done=saved")
    assert await page.locator("#card-notice").inner_text() == "The changes are saved."
    await page.locator("#f-email").fill("not-an-email")
    await page.get_by_role("button", name="Save the details").click()
    assert await page.locator("#f-email-error").inner_text() == "Enter a valid email address."
    await shot(page, "manage-client-edit-en")
    await page.get_by_role("link", name="History").click()
    await page.wait_for_url("**/history")
    assert "$25.00" in await page.locator("#history").inner_text()
    await shot(page, "manage-client-history-en")
