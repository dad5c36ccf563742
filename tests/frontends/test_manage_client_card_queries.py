"""The client card grows no SQL with its rows: its overview and history run as many
statements for the demo client with many sub-accounts, numbers, payments and changes as with
the demo's few."""

from __future__ import annotations

from sqlalchemy import select
from strawberry.relay import to_base64

from api.db import transaction
from api.domain import accounts, callers, demo, numbers, payments
from api.domain.actors import SYSTEM
from api.models import Client, Did
from tests.factories import count_statements
from tests.frontends.conftest import ACME_HOST


async def _statements(browser, engine, card: str) -> dict[str, int]:
    counts = {}
    for rest in ("", "/edit", "/history", "/delete"):
        with count_statements(engine) as seen:
            page = await browser.http.get(card + rest)
        assert page.status_code == 200, rest
        counts[rest] = len(seen)
    return counts


async def test_the_card_runs_no_more_statements_for_more_rows(
    browse, sessions, settings, portal_app
):
    browser = browse(ACME_HOST)
    await browser.login(demo.ACME_OWNER_EMAIL, path="/manage/login")
    async with sessions() as s:
        client = await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))
    card = f"/manage/clients/{to_base64('Client', client.id)}"
    few = await _statements(browser, portal_app.state.engine, card)

    # when the client gets 6 more sub-accounts, 3 more numbers, 10 payments and 10 changes
    async with transaction(sessions) as s:
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
            await numbers.order(s, SYSTEM, did_id, f"card-{n}", reseller_id=client.reseller_id)
            await numbers.assign(s, SYSTEM, did_id, client.id, monthly_price="2.00")
        for n in range(10):
            await payments.client_payment(s, SYSTEM, client.id, "1.50", f"card-pay-{n}")
            await accounts.update_client(s, SYSTEM, client.id, {"label": f"label-{n}"})
    many = await _statements(browser, portal_app.state.engine, card)

    # then every page ran the same number of statements, showing the new rows
    assert many == few
    overview = (await browser.http.get(card)).text
    assert "blue-extra-5" in overview and "+15558880002" in overview
    assert "label-9" in (await browser.http.get(card + "/history")).text
