"""A payment settles a client's open invoices, oldest first.

:func:`payment_received` is the one hook, called in the payment's transaction right after its
ledger entry is posted, and only for a new entry: by ``deposits.credit`` (every PayPal IPN and
Checkout payment) and by ``payments.client_payment`` (a payment the reseller records by hand).

The payment's amount is spread over the client's sent, unpaid invoices in the order they were
issued (then by id): each takes what is left of it, and the rest of the payment stays on the
balance. Each part is one :class:`~api.models.InvoicePayment` row, unique per invoice and entry.
An invoice paid in full becomes ``paid``; the client's credit limit then rises by its
reseller's ``credit_limit_step`` (once per paid invoice), and the billing-mode status rule runs
again, so a postpaid client blocked at its limit is unblocked by the same payment. A client
blocked because an invoice went overdue is unblocked when no overdue invoice is left.

Money does not move here: the payment already did (``api/domain/payments.py``).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api import money
from api.domain import accounts, audit
from api.domain.actors import Actor
from api.models import Client, Invoice, InvoicePayment, Reseller
from api.models.base import utcnow

OVERDUE_BLOCK_REASON = "invoice overdue"


async def payment_received(
    session: AsyncSession,
    actor: Actor,
    client: Client,
    reseller: Reseller,
    amount: int,
    entry_id: int,
) -> list[Invoice]:
    """Settle ``client``'s open invoices with ``amount`` micros of the payment ``entry_id``
    (see the module docstring); returns the invoices it paid in full."""
    open_invoices = list(
        await session.scalars(
            select(Invoice)
            .where(
                Invoice.client_id == client.id,
                Invoice.kind == "invoice",
                Invoice.status == "sent",
            )
            .order_by(Invoice.issued_at, Invoice.id)
            .with_for_update()
        )
    )
    left = amount
    paid: list[Invoice] = []
    now = utcnow()
    for invoice in open_invoices:
        if left <= 0:
            break
        part = min(left, invoice.total - invoice.paid)
        if part <= 0:
            continue
        left -= part
        invoice.paid += part
        session.add(InvoicePayment(invoice_id=invoice.id, entry_id=entry_id, amount=part))
        if invoice.paid == invoice.total:
            invoice.status, invoice.paid_at = "paid", now
            paid.append(invoice)
    if not paid and left == amount:
        return []
    await session.flush()
    for invoice in paid:
        before = audit.snapshot(client, ("credit_limit",))
        client.credit_limit += reseller.credit_limit_step
        await audit.record(
            session,
            actor,
            subject_type="invoice",
            subject_id=invoice.id,
            action="invoice.paid",
            reseller_id=client.reseller_id,
            client_id=client.id,
            before=before,
            after={
                "number": invoice.number,
                "total": money.format_amount(invoice.total),
                "credit_limit": client.credit_limit,
            },
        )
    if paid:
        await _lift_overdue_block(session, client)
        await session.flush()
        balance = await accounts.client_balance(session, client)
        await accounts.apply_balance_status(session, actor, client, balance)
    return paid


async def _lift_overdue_block(session: AsyncSession, client: Client) -> None:
    if (client.status, client.status_reason) != ("blocked", OVERDUE_BLOCK_REASON):
        return
    days = timedelta(days=client.overdue_block_days or 0)
    still_overdue = await session.scalar(
        select(Invoice.id)
        .where(
            Invoice.client_id == client.id,
            Invoice.status == "sent",
            Invoice.kind == "invoice",
            Invoice.due_at < utcnow() - days,
        )
        .limit(1)
    )
    if still_overdue is None:
        # back to the status rule: blocked again at once if it is at its credit limit
        client.status, client.status_reason = "active", ""
