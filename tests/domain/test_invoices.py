"""Invoices of postpaid clients: drafted when the limit is reached, edited, sent, settled."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from api import money
from api.db import is_sqlite, transaction
from api.domain import fees, invoices, payments
from api.domain.errors import DomainError, ErrorCode
from api.models import (
    Account,
    Call,
    Client,
    Event,
    FeeCharge,
    Invoice,
    InvoiceEntry,
    InvoiceLine,
    InvoicePayment,
    LedgerEntry,
    OutboxAttachment,
    OutboxEmail,
    Posting,
)
from api.models.base import utcnow
from tests.factories import balance_of, client_balance, reseller_actor, unique_key
from tests.invoicing import U, call, ingest, pdf_text, postpaid_world

pytestmark = pytest.mark.usefixtures("ledger_checked")


async def _client(sessions, world) -> Client:
    async with sessions() as s:
        return await s.get(Client, world.client_id)


async def _invoices(sessions, world) -> list[Invoice]:
    async with sessions() as s:
        return list(
            await s.scalars(
                select(Invoice).where(Invoice.client_id == world.client_id).order_by(Invoice.id)
            )
        )


async def _lines(sessions, invoice_id) -> list[InvoiceLine]:
    async with sessions() as s:
        return (await invoices.lines_of(s, [invoice_id]))[invoice_id]


async def _reach_the_limit(sessions, world):
    """3000 s to the UK (0.60) and 1200 s to France (0.24), then 600 s (0.12) and 300 s (0.06)
    to the UK: 1.02 in all, past the 1.00 limit with the last batch."""
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 3000), call(world, "33123456", 1200))
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 600))
    assert (await _client(sessions, world)).status == "active"
    assert await _invoices(sessions, world) == []
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 300))


async def test_reaching_the_limit_blocks_and_drafts_the_uninvoiced_calls(sessions):
    async with transaction(sessions) as s:
        world = await postpaid_world(s)
    await _reach_the_limit(sessions, world)
    client = await _client(sessions, world)
    assert (client.status, client.status_reason) == ("blocked", "credit limit reached")
    [draft] = await _invoices(sessions, world)
    assert (draft.status, draft.reason, draft.number) == ("draft", "credit_limit", None)
    lines = await _lines(sessions, draft.id)
    assert [
        (x.article_number, x.description, x.quantity, x.unit_price, x.amount) for x in lines
    ] == [
        ("CALL-33", "Calls to France", Decimal(20), 12_000, 240_000),
        ("CALL-44", "Calls to United Kingdom", Decimal(65), 12_000, 780_000),
    ]
    # the invoice is exactly what the ledger took for the calls
    async with sessions() as s:
        assert draft.total == draft.charged == 1_020_000 == -await client_balance(s, client)
        assert client.invoiced_until == draft.period_end

    # when a call still lands while blocked, and the status rule runs again
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 60))
    # then no second draft is made: the call waits for the next invoice
    assert len(await _invoices(sessions, world)) == 1
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as err:
            await invoices.draft_for_client(s, reseller_actor(world.reseller_id), world.client_id)
        assert err.value.code == ErrorCode.CONFLICT


async def test_a_draft_is_edited_and_sent_and_a_sent_invoice_is_never_edited(sessions, settings):
    async with transaction(sessions) as s:
        world = await postpaid_world(s)
    await _reach_the_limit(sessions, world)
    [draft] = await _invoices(sessions, world)
    france, uk = await _lines(sessions, draft.id)
    acme = reseller_actor(world.reseller_id)
    async with transaction(sessions) as s:
        # the reseller lowers the UK price to 0.010/min and adds an installation line
        invoice, line = await invoices.update_line(s, acme, uk.id, {"unit_price": "0.01"})
        assert line.amount == 650_000
        invoice, added = await invoices.add_line(
            s,
            acme,
            draft.id,
            {"article_number": "SRV-1", "description": "Installation", "unit_price": "2.5"},
        )
        assert (added.quantity, added.amount) == (Decimal(1), 2_500_000)
        assert invoice.total == 240_000 + 650_000 + 2_500_000
    async with transaction(sessions) as s:
        sent = await invoices.send(s, acme, draft.id)
        assert (sent.number, sent.status) == ("INV-000001", "sent")
    async with sessions() as s:
        # the document changed what the ledger took: one entry for the difference
        entry = await s.get(LedgerEntry, sent.adjustment_entry_id)
        assert (entry.kind, entry.amount) == ("invoice_adjustment", 3_390_000 - 1_020_000)
        assert await client_balance(s, world.client_id) == -3_390_000
        assert await balance_of(s, f"reseller:{world.reseller_id}:sales") == 3_390_000
        # and the client gets it by email, with its PDF (besides the mail that it was blocked)
        emails = list(await s.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))
        assert [e.subject for e in emails if e.subject.endswith("blocked")] == [
            "Your service is blocked"
        ]
        [email] = [e for e in emails if e.subject.startswith("Invoice ")]
        assert email.to_address == "alice@example.test"
        assert email.subject == "Invoice INV-000001 from Acme Telecom: $3.39"
        [attachment] = list(await s.scalars(select(OutboxAttachment)))
        text = pdf_text(attachment.content)
        for expected in ("INV-000001", "Calls to United Kingdom", "Installation", "$3.39"):
            assert expected in text
        # and an invoice.issued event with its amounts goes to the reseller's webhooks
        [event] = list(await s.scalars(select(Event).where(Event.type == "invoice.issued")))
        issued = event.data["invoice"]
        assert (issued["number"], issued["currency"]) == ("INV-000001", "USD")
        assert money.parse(issued["total"]) == 3_390_000 == money.parse(issued["subtotal"])
        assert money.parse(issued["tax"]) == 0 and issued["dueAt"] == sent.due_at.isoformat()
    # a sent invoice is never edited
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as err:
            await invoices.update_line(s, acme, france.id, {"unit_price": "0"})
        assert err.value.code == ErrorCode.CONFLICT
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as err:
            await invoices.send(s, acme, draft.id)
        assert err.value.code == ErrorCode.CONFLICT
    # and another reseller does not find it
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as err:
            await invoices.send(s, reseller_actor(world.reseller_id + 1000), draft.id)
        assert err.value.code == ErrorCode.NOT_FOUND


async def test_payments_settle_open_invoices_oldest_first_and_raise_the_limit(sessions):
    async with transaction(sessions) as s:
        world = await postpaid_world(s, step="5")
    acme = reseller_actor(world.reseller_id)
    await _reach_the_limit(sessions, world)
    [first] = await _invoices(sessions, world)
    async with transaction(sessions) as s:
        await invoices.send(s, acme, first.id)
    # a second invoice, drafted by the reseller for a call made since
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 100))  # 0.02
    async with transaction(sessions) as s:
        second = await invoices.draft_for_client(s, acme, world.client_id)
        await invoices.send(s, acme, second.id)
    assert (first.total, second.total) == (1_020_000, 20_000)
    # when the client pays 1.00: the oldest invoice takes all of it, and is not paid yet
    async with transaction(sessions) as s:
        await payments.client_payment(s, acme, world.client_id, "1", unique_key())
    a, b = await _invoices(sessions, world)
    assert (a.status, a.paid, b.status, b.paid) == ("sent", 1_000_000, "sent", 0)
    # (the status rule unblocks the client: its balance is back above the limit) and the
    # limit is not raised before an invoice is paid
    client = await _client(sessions, world)
    assert (client.status, client.credit_limit) == ("active", 1 * U)
    # when it pays 0.03: 0.02 to the first (paid), 0.01 to the second
    async with transaction(sessions) as s:
        await payments.client_payment(s, acme, world.client_id, "0.03", unique_key())
    a, b = await _invoices(sessions, world)
    assert (a.status, a.paid, b.status, b.paid) == ("paid", 1_020_000, "sent", 10_000)
    client = await _client(sessions, world)
    assert (client.status, client.credit_limit) == ("active", 6 * U)
    async with sessions() as s:
        parts = await s.scalar(select(func.count()).select_from(InvoicePayment))
        assert parts == 3
        assert await client_balance(s, client) == -10_000


async def test_a_postpaid_clients_fees_are_drafted_once(sessions):
    async with transaction(sessions) as s:
        world = await postpaid_world(s, credit_limit="100")
    async with transaction(sessions) as s:
        await ingest(s, call(world, "33123456", 60))
        s.add(
            FeeCharge(
                subject_type="sub_account",
                subject_id=1,
                kind="monthly",
                payer=fees.client_payer(world.client_id),
                reseller_id=world.reseller_id,
                client_id=world.client_id,
                period_start=date(2026, 11, 1),
                period_end=date(2026, 11, 30),
                description="Retail monthly fee",
                client_amount=3 * U,
                currency="USD",
                entry_id=(await s.scalar(select(func.max(LedgerEntry.id)))),
            )
        )
    acme = reseller_actor(world.reseller_id)
    async with transaction(sessions) as s:
        invoice = await invoices.draft_for_client(s, acme, world.client_id)
    lines = await _lines(sessions, invoice.id)
    assert [(x.kind, x.article_number, x.amount) for x in lines] == [
        ("calls", "CALL-33", 12_000),
        ("fee", "FEE-MONTHLY", 3 * U),
    ]
    async with sessions() as s:
        [fee] = list(await s.scalars(select(FeeCharge)))
        assert fee.invoice_id == invoice.id


async def _one_call(sessions):
    """Alice with a credit limit of 100 and one minute to the UK (0.012), and her reseller."""
    async with transaction(sessions) as s:
        world = await postpaid_world(s, credit_limit="100")
        await ingest(s, call(world, "441234567", 60))
    return world, reseller_actor(world.reseller_id)


async def _claims(sessions, world) -> dict[int, int | None]:
    """Each ``calls`` entry that charged the client -> the invoice that claimed it (or None)."""
    async with sessions() as s:
        rows = await s.execute(
            select(LedgerEntry.id, InvoiceEntry.invoice_id)
            .outerjoin(InvoiceEntry, InvoiceEntry.entry_id == LedgerEntry.id)
            .where(
                LedgerEntry.client_id == world.client_id,
                LedgerEntry.kind == "calls",
                LedgerEntry.amount != 0,
            )
        )
        return {entry_id: invoice_id for entry_id, invoice_id in rows}


async def _assert_billed_once(sessions, world) -> None:
    """Every call that charged the client is on exactly one invoice, and each invoice's call
    lines add up to what the ledger entries it claimed debited the client."""
    claims = await _claims(sessions, world)
    assert None not in claims.values(), claims
    async with sessions() as s:
        unbilled = await s.scalar(
            select(func.count())
            .select_from(Call)
            .outerjoin(InvoiceEntry, InvoiceEntry.entry_id == Call.entry_id)
            .where(Call.client_id == world.client_id, Call.sell > 0)
            .where(InvoiceEntry.invoice_id.is_(None))
        )
        assert unbilled == 0
        rows = await s.execute(
            select(InvoiceEntry.invoice_id, -func.sum(Posting.amount))
            .join(Posting, Posting.entry_id == InvoiceEntry.entry_id)
            .join(Account, Account.id == Posting.account_id)
            .where(Account.key == f"client:{world.client_id}")
            .group_by(InvoiceEntry.invoice_id)
        )
        debits = {invoice_id: int(amount) for invoice_id, amount in rows}
    for invoice in await _invoices(sessions, world):
        lines = await _lines(sessions, invoice.id)
        billed = sum(x.charged for x in lines if x.kind == "calls")
        assert billed == debits.get(invoice.id, 0), (invoice.id, billed, debits)


async def test_a_call_delivered_ten_days_late_lands_on_the_next_invoice(sessions):
    # given a first invoice drafted and sent
    world, acme = await _one_call(sessions)
    async with transaction(sessions) as s:
        first = await invoices.draft_for_client(s, acme, world.client_id)
        await invoices.send(s, acme, first.id)
    # when calls that started before it was drafted arrive after it: one an hour before, one
    # ten days before
    async with transaction(sessions) as s:
        await ingest(
            s,
            call(world, "33123456", 120, at=first.period_end - timedelta(hours=1)),
            call(world, "441234567", 300, at=first.period_end - timedelta(days=10)),
        )
        second = await invoices.draft_for_client(s, acme, world.client_id)
    # then the next invoice takes both, and not the first invoice's call
    assert [(x.description, x.amount) for x in await _lines(sessions, first.id)] == [
        ("Calls to United Kingdom", 12_000)
    ]
    assert [(x.description, x.amount) for x in await _lines(sessions, second.id)] == [
        ("Calls to France", 24_000),
        ("Calls to United Kingdom", 60_000),
    ]
    assert (second.period_start, second.charged) == (first.period_end, 84_000)
    await _assert_billed_once(sessions, world)


async def test_a_batch_posted_before_a_draft_but_committed_after_it_is_on_the_next(sessions):
    # given a first batch, and a draft made at a moment after the second batch's calls started
    # and after its entry is stamped, that could not see the second batch (ordering stands in
    # for a batch still uncommitted while the draft ran)
    world, acme = await _one_call(sessions)
    drafted_at = utcnow() + timedelta(minutes=30)
    async with transaction(sessions) as s:
        client = await s.get(Client, world.client_id)
        first = await invoices.draft(s, acme, client, until=drafted_at, reason="manual")
        await invoices.send(s, acme, first.id)
    # when the second batch lands
    async with transaction(sessions) as s:
        await ingest(s, call(world, "33123456", 120), call(world, "33123456", 60))
    # then it is on no invoice yet, and the next draft takes it whole
    assert sorted((await _claims(sessions, world)).values(), key=str) == [first.id, None]
    async with transaction(sessions) as s:
        client = await s.get(Client, world.client_id)
        second = await invoices.draft(
            s, acme, client, until=drafted_at + timedelta(minutes=1), reason="manual"
        )
    assert [(x.description, x.amount) for x in await _lines(sessions, second.id)] == [
        ("Calls to France", 36_000)
    ]
    await _assert_billed_once(sessions, world)
    # and a draft after that finds nothing left
    async with transaction(sessions) as s:
        await invoices.send(s, acme, second.id)
        client = await s.get(Client, world.client_id)
        assert (
            await invoices.draft(
                s, acme, client, until=drafted_at + timedelta(days=1), reason="manual"
            )
            is None
        )


async def test_a_batch_committed_while_a_draft_is_open_is_on_the_next_invoice(sessions, engine):
    if is_sqlite(str(engine.url)):
        pytest.skip("SQLite runs one writer at a time; the interleaving needs PostgreSQL")
    world, acme = await _one_call(sessions)
    # given a draft that has claimed the client's entries, its transaction still open
    async with sessions() as drafting, drafting.begin():
        first = await invoices.draft_for_client(drafting, acme, world.client_id)
        # when a batch of the client lands and commits meanwhile
        async with transaction(sessions) as s:
            await ingest(s, call(world, "33123456", 120))
    # then the first invoice has the first call only, and the next one the batch's
    assert [(x.description, x.amount) for x in await _lines(sessions, first.id)] == [
        ("Calls to United Kingdom", 12_000)
    ]
    async with transaction(sessions) as s:
        await invoices.send(s, acme, first.id)
        second = await invoices.draft_for_client(s, acme, world.client_id)
    assert [(x.description, x.amount) for x in await _lines(sessions, second.id)] == [
        ("Calls to France", 24_000)
    ]
    await _assert_billed_once(sessions, world)


async def test_the_floor_passes_over_entries_claimed_a_day_before_a_drafts_end(sessions, engine):
    async def draft_at(until):
        async with transaction(sessions) as s:
            client = await s.get(Client, world.client_id)
            invoice = await invoices.draft(s, acme, client, until=until, reason="manual")
            await invoices.send(s, acme, invoice.id)
        return invoice

    world, acme = await _one_call(sessions)
    now = utcnow()
    # given a draft whose end is half a day after the client's entry was posted
    await draft_at(now + timedelta(hours=12))
    # then its floor stays below that entry: it is too recent to pass over
    assert (await _client(sessions, world)).invoice_entry_floor == 0
    # when another batch is drafted by an invoice ending three days after it
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 120))
    second = await draft_at(now + timedelta(days=3))
    # then the floor is that batch's entry (on PostgreSQL it stays an hour behind the oldest
    # open transaction: the draft's own, begun after the entry was posted)
    [entry_id] = [
        e for e, invoice_id in (await _claims(sessions, world)).items() if invoice_id == second.id
    ]
    floor = (await _client(sessions, world)).invoice_entry_floor
    assert floor == (0 if not is_sqlite(str(engine.url)) else entry_id)
    # and a late call after both is invoiced once, on the next invoice
    async with transaction(sessions) as s:
        await ingest(s, call(world, "33123456", 60, at=now - timedelta(days=5)))
    third = await draft_at(now + timedelta(days=4))
    assert [(x.description, x.amount) for x in await _lines(sessions, third.id)] == [
        ("Calls to France", 12_000)
    ]
    await _assert_billed_once(sessions, world)


async def test_on_postgresql_the_floor_stays_behind_the_oldest_open_transaction(sessions, engine):
    if is_sqlite(str(engine.url)):
        pytest.skip("SQLite runs one writer at a time: no transaction is open beside a draft")
    # given a transaction open (a batch in flight, say)
    async with sessions() as other, other.begin():
        started = await other.scalar(text("SELECT now()"))
        # when a draft asks how recent an entry its floor may pass over, for a day ahead
        async with sessions() as s, s.begin():
            cutoff = await invoices._claim_cutoff(s, utcnow() + timedelta(days=2))
    # then it is before that transaction began, by the clocks' margin
    assert cutoff <= started - invoices.CLOCK_MARGIN


async def test_concurrent_drafts_of_one_client_make_one_invoice(sessions, engine):
    if is_sqlite(str(engine.url)):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    world, acme = await _one_call(sessions)

    async def attempt() -> bool:
        try:
            async with transaction(sessions) as s:
                await invoices.draft_for_client(s, acme, world.client_id)
            return True
        except DomainError as exc:
            assert exc.code == ErrorCode.CONFLICT
            return False

    results = await asyncio.gather(*(attempt() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert len(await _invoices(sessions, world)) == 1


async def test_concurrent_payments_settle_an_invoice_once(sessions, engine):
    if is_sqlite(str(engine.url)):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    async with transaction(sessions) as s:
        world = await postpaid_world(s, step="5")
    acme = reseller_actor(world.reseller_id)
    await _reach_the_limit(sessions, world)
    [invoice] = await _invoices(sessions, world)
    async with transaction(sessions) as s:
        await invoices.send(s, acme, invoice.id)

    async def pay() -> None:
        async with transaction(sessions) as s:
            await payments.client_payment(s, acme, world.client_id, "1.02", unique_key())

    await asyncio.gather(pay(), pay(), pay())
    [paid] = await _invoices(sessions, world)
    assert (paid.status, paid.paid) == ("paid", 1_020_000)
    client = await _client(sessions, world)
    # the limit rose once, and the rest of the money is on the balance
    assert (client.credit_limit, client.status) == (6 * U, "active")
    async with sessions() as s:
        assert await client_balance(s, client) == 2 * 1_020_000
        assert await s.scalar(select(func.count()).select_from(InvoicePayment)) == 1


async def test_invoice_adjustments_are_revenue_net_of_tax_in_the_financial_report(sessions):
    from api.domain import financials

    async with transaction(sessions) as s:
        world = await postpaid_world(s)
    await _reach_the_limit(sessions, world)
    [draft] = await _invoices(sessions, world)
    acme = reseller_actor(world.reseller_id)
    async with transaction(sessions) as s:
        await invoices.add_line(
            s,
            acme,
            draft.id,
            {"article_number": "SRV-1", "description": "Installation", "unit_price": "18"},
        )
    async with transaction(sessions) as s:
        sent = await invoices.send(s, acme, draft.id)
    async with transaction(sessions) as s:
        await invoices.credit_note(s, acme, sent.id, "5", "goodwill", unique_key())
    async with sessions() as s:
        month = utcnow().strftime("%Y-%m")
        report = await financials.report(s, acme, month)
        [totals] = report.totals
        [row] = [c.figures for c in report.clients if c.client.id == world.client_id]
        taken = -sum(
            await s.scalars(
                select(Posting.amount)
                .join(Account, Account.id == Posting.account_id)
                .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
                .where(
                    Account.client_id == world.client_id,
                    LedgerEntry.kind.in_(("calls", "invoice_adjustment")),
                )
            )
        )
    # the 18.00 line, less the 5.00 credit note (no tax rate in this world)
    assert (totals.invoiced, totals.invoice_tax) == (13 * U, 0)
    assert totals.revenue == totals.calls_sell + totals.invoiced
    assert totals.earnings == totals.revenue
    # what the client's balance lost is revenue plus the tax owed, to the micro
    assert totals.revenue + totals.invoice_tax == taken
    assert (row.invoiced, row.invoice_tax, row.revenue) == (
        totals.invoiced,
        totals.invoice_tax,
        totals.revenue,
    )


def test_an_invoice_is_overdue_only_when_sent_past_due_with_something_to_pay():
    now = utcnow()
    past, future = now - timedelta(seconds=1), now + timedelta(days=1)

    def invoice(**fields) -> Invoice:
        row = {"kind": "invoice", "status": "sent", "due_at": past, "total": 5 * U, "paid": 0}
        return Invoice(**{**row, **fields})

    assert invoices.is_overdue(invoice(), now)
    assert invoices.is_overdue(invoice(paid=4 * U), now)  # part paid: still overdue
    assert not invoices.is_overdue(invoice(due_at=future), now)
    assert not invoices.is_overdue(invoice(due_at=now), now)  # due today: not yet
    assert not invoices.is_overdue(invoice(paid=5 * U, status="paid"), now)
    assert not invoices.is_overdue(invoice(status="void"), now)
    assert not invoices.is_overdue(invoice(status="draft", due_at=None), now)
    assert not invoices.is_overdue(invoice(kind="credit_note"), now)
