"""The reseller portal's reports in Chromium: each page in English, the calls report searched
through its form, the financial month's chart drawn, and the pages in Hebrew (right to left),
each screenshotted and checked by axe."""

from __future__ import annotations

from sqlalchemy import select
from strawberry.relay import to_base64

from api.models import Client
from tests.frontends.conftest import BROWSER, shot

pytestmark = BROWSER


async def test_the_reports_in_english_and_hebrew(manage_page, sessions):
    page = manage_page
    await page.get_by_role("link", name="Reports").click()
    await page.wait_for_url("**/manage/reports")
    await shot(page, "manage-reports-en")

    # the calls report, narrowed to one client and its answered calls through the form
    await page.get_by_role("link", name="Calls").first.click()
    await page.wait_for_url("**/manage/reports/calls")
    await page.get_by_label("Client").select_option(label="Blue Harbor Dental")
    await page.get_by_label("Result").select_option("answered")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url("**/manage/reports/calls?*result=answered*")
    assert await page.locator("#calls-table tbody tr").count() > 0
    # one client's calls: its name heads the page, its sub-account made every call
    assert await page.locator("h1").inner_text() == "Calls of Blue Harbor Dental"
    subs = await page.locator("#calls-table tbody td:nth-child(2)").all_inner_texts()
    assert set(subs) == {"demo-blueharbordental"}
    results = await page.locator("#calls-table tbody td:nth-child(7)").all_inner_texts()
    assert set(results) == {"Answered"}
    assert await page.locator("#total-profit").inner_text()
    await shot(page, "manage-reports-calls-en")

    # the financial month: its chart is drawn (Chart.js sized the canvas)
    await page.goto("/manage/reports/financial")
    await page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('days-chart'))"
    )
    points = await page.evaluate(
        "() => Chart.getChart(document.getElementById('days-chart')).data.datasets.length"
    )
    assert points == 3
    await shot(page, "manage-reports-financial-en")
    await page.goto("/manage/reports/sub-accounts")
    await shot(page, "manage-reports-sub-accounts-en")
    await page.goto("/manage/reports/numbers")
    await shot(page, "manage-reports-numbers-en")

    # in Hebrew, right to left
    await page.get_by_label("Language").select_option("he")
    await page.get_by_role("button", name="Change").click()
    await page.wait_for_url("**/manage/reports/numbers")
    assert await page.locator("html").get_attribute("dir") == "rtl"
    await shot(page, "manage-reports-numbers-he")
    await page.goto("/manage/reports/financial")
    await page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('days-chart'))"
    )
    await shot(page, "manage-reports-financial-he")
    async with sessions() as s:
        blue = await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))
    await page.goto(f"/manage/reports/calls?client={to_base64('Client', blue.id)}")
    await shot(page, "manage-reports-calls-he")
    await page.goto("/manage/reports")
    await shot(page, "manage-reports-he")
