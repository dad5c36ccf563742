"""The Invoices page in Chromium as the demo's postpaid client (Gotham Legal LLP on
acme.localhost): reached from the menu, its paid and open invoices marked, a PDF downloaded and
read back, the page in Hebrew; a prepaid client's empty state. Screenshots: invoices-en.png,
invoices-he.png, invoices-fr.png, invoices-ru.png, invoices-empty-en.png."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import expect

from api.domain import demo
from tests.frontends.conftest import BROWSER, shot
from tests.invoicing import pdf_text

pytestmark = BROWSER


async def _sign_in(page, email: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url("**/")


async def test_the_postpaid_client_downloads_an_invoice_and_reads_the_page_in_hebrew(page):
    await _sign_in(page, demo.POSTPAID_CLIENT_EMAIL)
    # when it opens Invoices from the menu
    await page.get_by_role("navigation").get_by_role("link", name="Invoices").click()
    await page.wait_for_url("**/invoices")
    table = page.locator("#invoices")
    # then its two invoices are listed, newest first, the paid one marked paid
    rows = table.locator("tbody tr")
    await expect(rows).to_have_count(2)
    assert await rows.nth(0).locator("th").inner_text() == "INV-000002"
    assert "To pay" in await rows.nth(0).inner_text()
    assert "$5.00" in await rows.nth(0).inner_text()
    assert "✓ Paid" in await rows.nth(1).inner_text()
    await shot(page, "invoices-en")
    # when it downloads the open invoice's PDF
    async with page.expect_download() as info:
        await rows.nth(0).get_by_role("link", name="PDF INV-000002").click()
    download = await info.value
    assert download.suggested_filename == "INV-000002.pdf"
    text = pdf_text(Path(await download.path()).read_bytes())
    # then it is that invoice, addressed to it
    assert "Invoice INV-000002" in text and "Gotham Legal LLP" in text and "$5.00" in text

    # when it switches to Hebrew
    await page.get_by_label("Language").select_option("he")
    await page.get_by_role("button", name="Change").click()
    await expect(page.locator("html")).to_have_attribute("lang", "he")
    # then the page is mirrored, translated, and its numbers still read left to right
    assert await page.evaluate("document.documentElement.dir") == "rtl"
    assert await page.locator(".title-bar h1").inner_text() == "חשבוניות"
    assert "שולמה" in await rows.nth(1).inner_text()
    number = rows.nth(0).locator("th bdi")
    assert await number.evaluate("e => getComputedStyle(e).direction") == "ltr"
    await shot(page, "invoices-he")
    for lang, label in (("fr", "שפה"), ("ru", "Langue")):
        await page.get_by_label(label).select_option(lang)
        await page.locator("form.language button").click()
        await expect(page.locator("html")).to_have_attribute("lang", lang)
        await shot(page, f"invoices-{lang}")


async def test_a_prepaid_client_sees_no_invoices_link_and_an_empty_state(client_page):
    page = client_page
    menu = page.get_by_role("navigation")
    await expect(menu.get_by_role("link", name="Home")).to_be_visible()
    assert await menu.get_by_role("link", name="Invoices").count() == 0
    await page.goto("/invoices")
    await expect(page.get_by_role("heading", name="No invoices yet")).to_be_visible()
    await shot(page, "invoices-empty-en")
