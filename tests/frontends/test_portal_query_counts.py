"""No client portal page grows its SQL with its rows: each page runs as many statements for
the demo client with many sub-accounts, numbers and payments as with the demo's few."""

from __future__ import annotations

from sqlalchemy import select

from api.db import transaction
from api.domain import demo
from api.models import Client
from frontends.client import routes
from tests.frontends.conftest import ACME_HOST, more_rows, statements

# the pages (the Calls page has its own test with 1 and 50 rows: test_calls_http.py)
PAGES = ["/", "/numbers", "/sub-accounts", "/topup", "/payments", "/invoices", "/profile"]


async def test_no_page_runs_more_statements_for_more_rows(browse, sessions, settings, portal_app):
    assert set(PAGES) <= {r.path for r in routes()}
    browser = browse(ACME_HOST)
    await browser.login(demo.CLIENT_EMAIL)
    few = await statements(browser, portal_app.state.engine, PAGES)

    # when the demo client gets 6 more sub-accounts, 3 more numbers and 30 payments
    async with transaction(sessions) as s:
        client = await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))
        await more_rows(s, settings, client, payments_made=30, key="walk")
    many = await statements(browser, portal_app.state.engine, PAGES)

    # then every page ran the same number of statements, showing the new rows
    assert many == few
    assert "blue-extra-5" in (await browser.http.get("/sub-accounts")).text
    assert "15558880002" in (await browser.http.get("/numbers")).text.replace(" ", "")
