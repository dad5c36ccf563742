"""Invoices' terms and settings: tax rates (the reseller's, a client's own for a period) on
each line, price list articles with a client's discount, monthly drafts by the worker, and
overdue invoices flagged, blocking the client by its terms until it pays."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from api import money
from api.db import transaction
from api.domain import invoices, notifications, payments, price_lists
from api.domain.errors import DomainError, ErrorCode
from api.models import Client, Event, Invoice, OutboxEmail
from api.models.base import utcnow
from tests.factories import reseller_actor, unique_key
from tests.invoicing import U, call, ingest, postpaid_world

pytestmark = pytest.mark.usefixtures("ledger_checked")


async def test_tax_per_line_from_the_reseller_or_the_clients_own_rate(sessions):
    async with transaction(sessions) as s:
        world = await postpaid_world(s, credit_limit="100")
        await ingest(s, call(world, "441234567", 61))  # 0.0122
    acme = reseller_actor(world.reseller_id)
    async with transaction(sessions) as s:
        await invoices.update_invoice_settings(s, acme, None, {"tax_rate_pct": "19"})
        # an own rate that ended yesterday does not apply, one valid today does
        today = utcnow().date()
        await invoices.add_client_tax_rate(
            s, acme, world.client_id, "5", today - timedelta(days=30), today - timedelta(days=1)
        )
        with pytest.raises(DomainError) as err:
            await invoices.add_client_tax_rate(
                s, acme, world.client_id, "7", today, date(2000, 1, 1)
            )
        assert err.value.field == "validTo"
    async with transaction(sessions) as s:
        invoice = await invoices.draft_for_client(s, acme, world.client_id)
    async with sessions() as s:
        [line] = (await invoices.lines_of(s, [invoice.id]))[invoice.id]
    # 19 % of 0.0122 is 0.002318 exactly; the totals add up
    assert (line.tax_pct, line.amount, line.tax) == (Decimal(19), 12_200, 2_318)
    assert (invoice.subtotal, invoice.tax, invoice.total) == (12_200, 2_318, 14_518)

    async with transaction(sessions) as s:
        await invoices.add_client_tax_rate(s, acme, world.client_id, "7.5", today, None)
        invoice, added = await invoices.add_line(
            s, acme, invoice.id, {"description": "Support", "unit_price": "0.333333"}
        )
    # a line added later takes the client's own rate, its tax rounded once, half-up
    assert (added.tax_pct, added.tax) == (Decimal("7.5"), 25_000)


async def test_an_article_of_the_clients_price_list_with_its_discount(sessions):
    async with transaction(sessions) as s:
        world = await postpaid_world(s, credit_limit="100")
        await ingest(s, call(world, "441234567", 60))
    acme = reseller_actor(world.reseller_id)
    async with transaction(sessions) as s:
        basic = await price_lists.add_item(
            s,
            acme,
            None,
            {"article_number": "SRV-1", "description": "Installation", "unit_price": "40"},
        )
        vip = await price_lists.create_list(s, acme, None, "VIP")
        vip_item = await price_lists.add_item(
            s,
            acme,
            vip.id,
            {"article_number": "SRV-1", "description": "Installation (VIP)", "unit_price": "30"},
        )
        with pytest.raises(DomainError) as err:
            await price_lists.add_item(
                s, acme, vip.id, {"article_number": "SRV-1", "description": "x", "unit_price": "1"}
            )
        assert err.value.code == ErrorCode.CONFLICT
        await invoices.update_terms(s, acme, world.client_id, {"discount_pct": "12.5"})
        invoice = await invoices.draft_for_client(s, acme, world.client_id)
    # a new client is on the basic list: 40 less 12.5 %
    async with transaction(sessions) as s:
        invoice, line = await invoices.add_line(
            s, acme, invoice.id, {"price_list_item_id": basic.id, "quantity": "2"}
        )
        assert (line.article_number, line.description, line.unit_price, line.amount) == (
            "SRV-1",
            "Installation",
            35 * U,
            70 * U,
        )
        # an article of another list is not hers
        with pytest.raises(DomainError) as err:
            await invoices.add_line(s, acme, invoice.id, {"price_list_item_id": vip_item.id})
        assert err.value.code == ErrorCode.NOT_FOUND
    async with transaction(sessions) as s:
        await invoices.update_terms(s, acme, world.client_id, {"price_list_id": vip.id})
        invoice, line = await invoices.add_line(
            s, acme, invoice.id, {"price_list_item_id": vip_item.id}
        )
        assert (line.description, line.amount) == ("Installation (VIP)", 26_250_000)


async def test_the_worker_drafts_monthly_invoices_once(sessions, settings):
    async with transaction(sessions) as s:
        world = await postpaid_world(s, credit_limit="100")
        quiet = await postpaid_world(s, credit_limit="100")
        await ingest(s, call(world, "441234567", 60))
    next_month = invoices.month_start(utcnow() + timedelta(days=32)) + timedelta(hours=1)
    # when the worker runs at the start of next month, twice
    assert await invoices.draft_monthly(sessions, settings, next_month) == 1
    assert await invoices.draft_monthly(sessions, settings, next_month) == 0
    # then the client with calls has one monthly draft up to the month's start, and the quiet
    # one none but is invoiced up to then too
    async with sessions() as s:
        [invoice] = list(await s.scalars(select(Invoice)))
        assert (invoice.client_id, invoice.reason, invoice.total) == (
            world.client_id,
            "monthly",
            12_000,
        )
        assert invoice.period_end == invoices.month_start(next_month)
        quiet_client = await s.get(Client, quiet.client_id)
        assert quiet_client.invoiced_until == invoices.month_start(next_month)


async def test_an_overdue_invoice_is_flagged_once_and_blocks_by_the_terms(sessions, settings):
    async with transaction(sessions) as s:
        world = await postpaid_world(s, credit_limit="100")
        await ingest(s, call(world, "441234567", 600))  # 0.12
    acme = reseller_actor(world.reseller_id)
    async with transaction(sessions) as s:
        await invoices.update_terms(
            s, acme, world.client_id, {"invoice_due_days": 10, "overdue_block_days": 5}
        )
        invoice = await invoices.draft_for_client(s, acme, world.client_id)
        invoice = await invoices.send(s, acme, invoice.id)
    due = invoice.due_at
    assert due.date() == (utcnow() + timedelta(days=10)).date()
    # a day past due: flagged once, with its event and email, not blocked yet
    day_after = due + timedelta(days=1)
    assert await invoices.mark_overdue(sessions, settings, day_after) == 1
    assert await invoices.mark_overdue(sessions, settings, day_after) == 0
    async with sessions() as s:
        [event] = list(await s.scalars(select(Event).where(Event.type == "invoice.overdue")))
        assert event.data["invoice"]["number"] == "INV-000001"
        assert event.data["invoice"]["currency"] == "USD"
        assert money.parse(event.data["invoice"]["due"]) == 120_000
        assert event.data["invoice"]["client"] == notifications.global_id("Client", world.client_id)
        assert event.data["invoice"]["dueAt"] is not None
        subjects = list(await s.scalars(select(OutboxEmail.subject)))
        assert "Invoice INV-000001 is overdue: $0.12" in subjects
        assert (await s.get(Client, world.client_id)).status == "active"
        assert list(await s.scalars(select(Event).where(Event.type == "client.blocked"))) == []
    # five days past due: blocked, and told so once
    for _ in range(2):
        await invoices.mark_overdue(sessions, settings, due + timedelta(days=5, seconds=1))
    async with sessions() as s:
        client = await s.get(Client, world.client_id)
        assert (client.status, client.status_reason) == ("blocked", "invoice overdue")
        blocked = list(await s.scalars(select(Event).where(Event.type == "client.blocked")))
        assert [(e.client_id, e.data["reason"]) for e in blocked] == [
            (world.client_id, "invoice overdue")
        ]
        subjects = list(await s.scalars(select(OutboxEmail.subject)))
        assert "Your service is blocked" in subjects
    # paying it unblocks her
    async with transaction(sessions) as s:
        await payments.client_payment(s, acme, world.client_id, "0.12", unique_key())
    async with sessions() as s:
        client = await s.get(Client, world.client_id)
        assert client.status == "active"
        assert (await s.get(Invoice, invoice.id)).status == "paid"


async def test_a_monthly_fee_that_reaches_the_limit_blocks_and_drafts_it(sessions):
    from api.domain import callers, fees, rates
    from api.domain.actors import SYSTEM
    from api.settings import Settings
    from tests.factories import fund_reseller, make_client, make_reseller

    settings = Settings(secret_key="dialtone-test-secret-key-0123456789")
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, "commission", commission_pct="10")
        await fund_reseller(s, reseller, "100")
        client = await make_client(s, reseller, "postpaid", credit_limit="5")
        package = await rates.create_package(
            s, SYSTEM, reseller.id, {"name": "Pack", "monthly_fee": "6"}
        )
        await callers.create_sub_account(
            s,
            SYSTEM,
            client.id,
            {"username": f"fee{client.id}", "package_id": package.id},
            settings=settings,
        )
    # when the worker charges the first month's fee (6.00, past the 5.00 limit)
    assert await fees.run_due(sessions, settings, utcnow()) == 1
    # then the client is blocked and its fee drafted into an invoice
    async with sessions() as s:
        blocked = await s.get(Client, client.id)
        assert (blocked.status, blocked.status_reason) == ("blocked", "credit limit reached")
        [invoice] = list(await s.scalars(select(Invoice)))
        [line] = (await invoices.lines_of(s, [invoice.id]))[invoice.id]
        assert (line.kind, line.article_number, line.amount) == ("fee", "FEE-MONTHLY", 6 * U)
    # commission model: a lower price is the reseller's to give, from its own balance
    acme = reseller_actor(reseller.id)
    async with transaction(sessions) as s:
        await invoices.update_line(s, acme, line.id, {"unit_price": "4"})
        await invoices.send(s, acme, invoice.id)
    async with sessions() as s:
        from tests.factories import client_balance, reseller_balance

        assert await client_balance(s, client.id) == -4 * U
        assert await reseller_balance(s, reseller.id) == 98 * U
