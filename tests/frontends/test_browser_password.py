"""Signing in, the hard way, in Chromium: five wrong passwords and the throttled message (in
English and Hebrew); the forgot-password page and its answer."""

from __future__ import annotations

from playwright.async_api import expect

from api.domain import demo
from tests.frontends.conftest import BROWSER, shot

pytestmark = BROWSER


async def fail_login(page, password: str) -> None:
    await page.get_by_label("Email").fill(demo.CLIENT_EMAIL)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.locator("#login-error").wait_for()


async def test_five_failed_logins_are_throttled(page):
    await page.goto("/login")
    for attempt in range(5):
        await fail_login(page, f"wrong-password-{attempt}")
    # then the page says to wait, not that the password is wrong
    await expect(page.locator("#login-error")).to_have_text(
        "Too many attempts. Try again in 1 minute."
    )
    await shot(page, "login-throttled-en")
    # and in Hebrew, right to left
    await page.get_by_label("Language").select_option("he")
    await page.get_by_role("button", name="Change").click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await page.locator("#email").fill(demo.CLIENT_EMAIL)
    await page.locator("#password").fill(demo.DEMO_PASSWORD)
    await page.locator("form.stack button").click()
    await expect(page.locator("#login-error")).to_contain_text("יותר מדי ניסיונות")
    await shot(page, "login-throttled-he")


async def test_forgot_password_answers_the_same_for_any_address(page):
    await page.goto("/login")
    await page.get_by_role("link", name="Forgot your password?").click()
    await page.wait_for_url("**/password/forgot")
    await shot(page, "password-forgot-en")
    await page.get_by_label("Email").fill("nobody@example.test")
    await page.get_by_role("button", name="Send the link").click()
    await expect(page.locator("#forgot-sent")).to_contain_text(
        "If the address is known, an email is on its way."
    )
    await shot(page, "password-forgot-sent-en")
    await page.get_by_label("Language").select_option("he")
    await page.get_by_role("button", name="Change").click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await shot(page, "password-forgot-he")
