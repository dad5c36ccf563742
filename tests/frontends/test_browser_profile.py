"""The Profile page in Chromium: the client's details, its users and the password form, in
English and in Hebrew (right to left, the phone and email left to right); saving the language
makes the portal speak it."""

from __future__ import annotations

from playwright.async_api import expect

from api.domain import demo
from tests.frontends.conftest import BROWSER, shot

pytestmark = BROWSER


async def test_the_profile_in_english_then_hebrew(client_page):
    page = client_page
    # when the client opens Profile from the menu
    await page.get_by_role("navigation").get_by_role("link", name="Profile").click()
    await page.wait_for_url("**/profile")
    # then its details are in the form and it is listed among the portal users
    await expect(page.get_by_label("Contact person")).to_have_value("Dana Reyes")
    await expect(page.get_by_label("Phone")).to_have_value("+1 415 555 0134")
    assert demo.CLIENT_EMAIL in await page.locator("#users-table").inner_text()
    await shot(page, "profile-en")
    # when it picks Hebrew as its own language and saves
    await page.get_by_label("Language of the portal and emails").select_option("he")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_url("**/profile?done=saved")
    # then the portal speaks Hebrew, right to left, numbers left to right
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("#profile-notice")).to_have_text("הפרטים שלך נשמרו.")
    assert await page.get_by_label("טלפון").get_attribute("dir") == "ltr"
    current = page.get_by_role("navigation").locator("[aria-current=page]")
    assert await current.inner_text() == "פרופיל"
    await shot(page, "profile-he")


async def test_a_wrong_current_password_is_told_in_place(client_page):
    page = client_page
    await page.goto("/profile")
    await page.get_by_label("Current password").fill("not-my-password")
    await page.get_by_label("New password", exact=True).fill("fresh-password-1")
    await page.get_by_label("New password again").fill("fresh-password-1")
    await page.get_by_role("button", name="Change the password").click()
    await expect(page.locator("#password-error")).to_have_text("The current password is wrong.")
    await shot(page, "profile-password-error-en")
    # and with the right one, it is changed
    await page.get_by_label("Current password").fill(demo.DEMO_PASSWORD)
    await page.get_by_label("New password", exact=True).fill("fresh-password-1")
    await page.get_by_label("New password again").fill("fresh-password-1")
    await page.get_by_role("button", name="Change the password").click()
    await page.wait_for_url("**/profile?done=password")
    await expect(page.locator("#profile-notice")).to_contain_text("Your password is changed.")
