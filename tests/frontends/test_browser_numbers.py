"""The Numbers page in Chromium: forward the client's number to an outside number and see it
saved; screenshots in English and Hebrew (with axe's check)."""

from __future__ import annotations

from playwright.async_api import expect

from tests.frontends.conftest import BROWSER, shot
from tests.frontends.test_browser_calls import speak

pytestmark = BROWSER


async def test_edit_a_numbers_forwarding(client_page):
    page = client_page
    await page.get_by_role("navigation").get_by_role("link", name="Numbers").click()
    await page.wait_for_url("**/numbers")
    card = page.locator("section.did").first
    await expect(card.locator("h2")).to_have_text("+14155550100")
    await shot(page, "numbers-en")
    # when the client forwards it to an outside number
    await card.get_by_label("An outside number").check()
    await card.get_by_label("Number to forward to").fill("+1 212 555 0123")
    await card.get_by_role("button", name="Save forwarding").click()
    # then the page says it is saved and shows where calls go now
    await expect(page.get_by_role("status")).to_have_text("Forwarding of +14155550100 saved.")
    await expect(card.locator(".routing")).to_contain_text("+12125550123")
    await expect(card.get_by_label("An outside number")).to_be_checked()
    # a number that is not one refuses, saying why
    await card.get_by_label("Number to forward to").fill("call me")
    await card.get_by_role("button", name="Save forwarding").click()
    await expect(card.get_by_role("alert")).to_contain_text("with its country code")
    await expect(card.locator(".routing")).to_contain_text("+12125550123")
    await speak(page, "he")
    await shot(page, "numbers-he")
