"""The client card grows no SQL with its rows: its overview and history run as many
statements for the demo client with many sub-accounts, numbers, payments and changes as with
the demo's few."""

from __future__ import annotations

from sqlalchemy import select
from strawberry.relay import to_base64

from api.db import transaction
from api.domain import accounts, demo
from api.domain.actors import SYSTEM
from api.models import Client
from tests.frontends.conftest import ACME_HOST, more_rows, statements


def _pages(card: str) -> list[str]:
    return [card + rest for rest in ("", "/edit", "/history", "/delete")]


async def test_the_card_runs_no_more_statements_for_more_rows(
    browse, sessions, settings, portal_app
):
    browser = browse(ACME_HOST)
    await browser.login(demo.ACME_OWNER_EMAIL, path="/manage/login")
    async with sessions() as s:
        client = await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))
    card = f"/manage/clients/{to_base64('Client', client.id)}"
    few = await statements(browser, portal_app.state.engine, _pages(card))

    # when the client gets 6 more sub-accounts, 3 more numbers, 10 payments and 10 changes
    async with transaction(sessions) as s:
        await more_rows(s, settings, client, payments_made=10, key="card")
        for n in range(10):
            await accounts.update_client(s, SYSTEM, client.id, {"label": f"label-{n}"})
    many = await statements(browser, portal_app.state.engine, _pages(card))

    # then every page ran the same number of statements, showing the new rows
    assert many == few
    overview = (await browser.http.get(card)).text
    assert "blue-extra-5" in overview and "+15558880002" in overview
    assert "label-9" in (await browser.http.get(card + "/history")).text
