"""A client's payment history: the payments into its balance, each with what was taken back.

A payment is a ledger entry of the client of one of the kinds in :data:`PAYMENT_KINDS`: a
payment the reseller recorded by hand (``client_payment``), credit the reseller moved to it
(``client_transfer``), or money from outside (``deposit``: PayPal, by IPN or Checkout). Its
corrections are the entries that name it in ``reverses_id``: refunds (``client_refund``,
``deposit_refund``), reversals (``deposit_reversal``, a chargeback) and canceled reversals
(``deposit_reinstate``, which give back what a reversal took).

The status of a payment follows from them (``taken`` = refunds + reversals - reinstatements):

* ``completed``: nothing taken back;
* ``partially_refunded``: part of it taken back;
* ``refunded``: all of it taken back, by refunds only;
* ``reversed``: all of it taken back, a reversal among what took it.

The method says how the money came: ``manual``, ``reseller_credit``, ``paypal`` (the IPN
button) or ``paypal_checkout`` (an order whose capture is the deposit's transaction).

A page is read in a fixed number of statements whatever its size: the page of payments
(keyset on the entry id, newest first), their corrections, their deposits, the orders of those
deposits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.domain import payments
from api.domain.actors import Actor
from api.models import Deposit, LedgerEntry, PaypalOrder

PAYMENT_KINDS = ("client_payment", "client_transfer", "deposit")
CORRECTIONS = {
    "client_refund": "refund",
    "deposit_refund": "refund",
    "deposit_reversal": "reversal",
    "deposit_reinstate": "canceled_reversal",
}
METHODS = ("manual", "reseller_credit", "paypal", "paypal_checkout")
STATUSES = ("completed", "partially_refunded", "refunded", "reversed")


@dataclass(frozen=True)
class Correction:
    """A refund, reversal or canceled reversal of a payment."""

    entry_id: int
    kind: str  # refund | reversal | canceled_reversal
    amount: int  # micros, positive
    created_at: datetime


@dataclass
class Payment:
    entry: LedgerEntry
    method: str
    corrections: list[Correction] = field(default_factory=list)

    @property
    def taken_back(self) -> int:
        """What refunds and reversals took of it, net of canceled reversals (micros)."""
        total = 0
        for c in self.corrections:
            total += -c.amount if c.kind == "canceled_reversal" else c.amount
        return total

    @property
    def status(self) -> str:
        taken = self.taken_back
        if taken <= 0:
            return "completed"
        if taken < self.entry.amount:
            return "partially_refunded"
        reversed_ = sum(
            c.amount if c.kind == "reversal" else -c.amount
            for c in self.corrections
            if c.kind in ("reversal", "canceled_reversal")
        )
        return "reversed" if reversed_ > 0 else "refunded"


def payments_query(actor: Actor, client_id: int) -> Select:
    """The client's payments the actor may read (the ledger's own scoping: a client user its
    own, a reseller its clients', the operator all)."""
    return payments.entries_query(actor, client_id=client_id).where(
        LedgerEntry.kind.in_(PAYMENT_KINDS)
    )


async def describe(session: AsyncSession, entries: list[LedgerEntry]) -> list[Payment]:
    """The payments of these entries, with their method and corrections (three statements
    at most, whatever their number)."""
    if not entries:
        return []
    ids = [e.id for e in entries]
    corrections: dict[int, list[Correction]] = {}
    rows = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.reverses_id.in_(ids), LedgerEntry.kind.in_(tuple(CORRECTIONS)))
        .order_by(LedgerEntry.id)
    )
    for row in rows:
        assert row.reverses_id is not None
        corrections.setdefault(row.reverses_id, []).append(
            Correction(row.id, CORRECTIONS[row.kind], row.amount, row.created_at)
        )
    deposit_ids = [e.id for e in entries if e.kind == "deposit"]
    checkout: set[int] = set()
    if deposit_ids:
        deposits = list(
            (
                await session.execute(
                    select(Deposit.entry_id, Deposit.external_id).where(
                        Deposit.entry_id.in_(deposit_ids)
                    )
                )
            ).all()
        )
        by_txn = {external_id: entry_id for entry_id, external_id in deposits}
        if by_txn:
            captured = await session.scalars(
                select(PaypalOrder.capture_id).where(PaypalOrder.capture_id.in_(list(by_txn)))
            )
            checkout = {by_txn[c] for c in captured if c is not None}
    result = []
    for entry in entries:
        if entry.kind == "client_payment":
            method = "manual"
        elif entry.kind == "client_transfer":
            method = "reseller_credit"
        else:
            method = "paypal_checkout" if entry.id in checkout else "paypal"
        result.append(Payment(entry, method, corrections.get(entry.id, [])))
    return result
