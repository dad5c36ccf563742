"""The Calls page in Chromium: search by direction and destination and see the results and
totals change without a reload (htmx), page to older calls, download the CSV of the search and
read it back; screenshots in English, French, Russian and Hebrew (with axe's check)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

from playwright.async_api import expect

from api.domain import demo
from tests.frontends.conftest import BROWSER, shot

pytestmark = BROWSER


async def speak(page, lang: str) -> None:
    await page.locator("#lang-select").select_option(lang)
    await page.locator("form.language button").click()
    await expect(page.locator("html")).to_have_attribute("lang", lang)


async def test_search_calls_see_totals_and_download_the_csv(client_page):
    page = client_page
    await page.get_by_role("navigation").get_by_role("link", name="Calls").click()
    await page.wait_for_url("**/calls")
    rows = page.locator("#calls-table tbody tr")
    assert await rows.count() == demo.CALLS_PER_CLIENT
    assert await page.locator("#total-calls").inner_text() == str(demo.CALLS_PER_CLIENT)
    await shot(page, "calls-en")
    # when the client picks outbound calls to the US (destination 1): results change in place
    marker = await page.evaluate("() => (window.__stay = 'same page')")
    first_destination = await rows.first.locator("td").nth(2).inner_text()
    prefix = first_destination[:1]
    await page.get_by_label("Direction").select_option("outbound")
    await page.get_by_label("Destination (first digits)").fill(prefix)
    await page.get_by_label("Destination (first digits)").press("Enter")
    await page.wait_for_url(f"**/calls?*destination={prefix}*")
    await expect(page.locator("#call-results")).to_be_visible()
    assert await page.evaluate("() => window.__stay") == marker  # no full reload
    count = await rows.count()
    destinations = [await rows.nth(i).locator("td").nth(2).inner_text() for i in range(count)]
    assert count and all(d.startswith(prefix) for d in destinations)
    assert await page.locator("#total-calls").inner_text() == str(count)
    spent_text = await page.locator("#total-spend").inner_text()
    # when it downloads the CSV of this search
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Download these calls (CSV)").click()
    download = await waiting.value
    text = Path(await download.path()).read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    # then it holds exactly the calls on the page, without the reseller's costs
    assert len(exported) == count
    assert all(
        r["destination"].startswith(prefix) and r["direction"] == "outbound" for r in exported
    )
    assert "cost" not in exported[0]
    spent = sum(Decimal(r["sell"]) for r in exported).quantize(Decimal("0.01"))
    assert spent_text == f"${spent:,.2f}"
    for lang in ("fr", "ru", "he"):
        await speak(page, lang)
        await expect(page.locator("#call-results")).to_be_visible()
        await shot(page, f"calls-{lang}")
    assert await page.evaluate("document.documentElement.dir") == "rtl"
