"""No client portal page grows its SQL with its rows: each page runs as many statements for
the demo client with many sub-accounts, numbers and payments as with the demo's few."""

from __future__ import annotations

from sqlalchemy import select

from api.db import transaction
from api.domain import callers, demo, numbers, payments
from api.domain.actors import SYSTEM
from api.models import Client, Did
from frontends.client import routes
from tests.factories import count_statements
from tests.frontends.conftest import ACME_HOST

# the pages (the Calls page has its own test with 1 and 50 rows: test_calls_http.py)
PAGES = ["/", "/numbers", "/sub-accounts", "/topup", "/payments", "/invoices", "/profile"]


async def _statements(browser, engine) -> dict[str, int]:
    counts = {}
    for path in PAGES:
        with count_statements(engine) as seen:
            page = await browser.http.get(path)
        assert page.status_code == 200, path
        counts[path] = len(seen)
    return counts


async def test_no_page_runs_more_statements_for_more_rows(browse, sessions, settings, portal_app):
    assert set(PAGES) <= {r.path for r in routes()}
    browser = browse(ACME_HOST)
    await browser.login(demo.CLIENT_EMAIL)
    few = await _statements(browser, portal_app.state.engine)

    # when the demo client gets 6 more sub-accounts, 3 more numbers and 30 payments
    async with transaction(sessions) as s:
        client = await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))
        for n in range(6):
            await callers.create_sub_account(
                s, SYSTEM, client.id, {"username": f"blue-extra-{n}"}, settings=settings
            )
        await numbers.import_numbers(
            s,
            SYSTEM,
            [
                "number,country,city,monthly_cost,setup_cost,per_minute,currency\n",
                *(f"1555888000{n},US,Austin,1.00,0,0,USD\n" for n in range(3)),
            ],
        )
        for n in range(3):
            did_id = await s.scalar(select(Did.id).where(Did.number == f"1555888000{n}"))
            await numbers.order(s, SYSTEM, did_id, f"walk-{n}", reseller_id=client.reseller_id)
            await numbers.assign(s, SYSTEM, did_id, client.id, monthly_price="2.00")
        for n in range(30):
            await payments.client_payment(s, SYSTEM, client.id, "1.50", f"walk-pay-{n}")
    many = await _statements(browser, portal_app.state.engine)

    # then every page ran the same number of statements, showing the new rows
    assert many == few
    assert "blue-extra-5" in (await browser.http.get("/sub-accounts")).text
    assert "15558880002" in (await browser.http.get("/numbers")).text.replace(" ", "")
