"""The one path outside money takes into the books: deposits, and their corrections.

A payment provider tells us money moved (PayPal IPN, PayPal REST webhooks and captures); the
code that hears it checks the message and then calls exactly one of:

* :func:`credit` — a payment: credits a client's balance (and in the commission model the
  reseller's commission, in the same ledger entry) or a reseller's balance with the operator;
* :func:`debit` — a refund or a reversal (chargeback) of a credit, never more than is left of it;
* :func:`reinstate` — a canceled reversal: gives back what reversals of a credit took.

Each writes one :class:`~api.models.Deposit` row and one ledger entry in the caller's
transaction, posted by :func:`api.domain.payments.post_movement` with the rules written in
``api/domain/payments.py``. ``(source, external_id)`` is unique in both tables (the ledger's
idempotency key is ``deposit:<source>`` / ``external_id``), so a movement announced twice, even
by two requests at the same time, lands once: the second call answers ``replayed`` with the
first one's rows. Announced again with different details (amount, client), it is refused.

``source`` names the provider, not the channel: a PayPal transaction id is the same whether it
comes by IPN or by a REST webhook (a capture id is the ``txn_id`` of its IPN), so both use
``"paypal"`` and a payment told both ways is credited once.

What the money is for is not decided here. Every payment from outside, by IPN
(``paypal_ipn._completed``) or by Checkout (``paypal_checkout._apply_capture``, on the payer's
return or by webhook), is credited by :func:`credit` and by nothing else, in the transaction of
its entry: that is where a deposit settles a client's open invoices
(``api.domain.settlement.payment_received``), once the entry is posted and only when it is new
(``not result.replayed``) and for a client. A payment a reseller records by hand is
``payments.client_payment``, the one other way money reaches a client from outside, and it
calls the same hook.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api import money
from api.domain import accounts, payments, settlement
from api.domain.actors import OPERATOR_PERMISSIONS, Actor
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.domain.ledger import Leg
from api.models import Account, Client, Deposit, LedgerEntry, Reseller

PAYPAL = "paypal"
KINDS = ("credit", "refund", "reversal", "reinstate")
DEBIT_REASONS = ("refund", "reversal")


@dataclass
class DepositResult:
    deposit: Deposit
    entry: LedgerEntry
    replayed: bool
    reseller: Reseller
    client: Client | None


def source_actor(source: str) -> Actor:
    """Who a deposit is recorded as: the provider, acting as the system."""
    return Actor(kind="system", label=source, permissions=OPERATOR_PERMISSIONS)


async def find(session: AsyncSession, source: str, external_id: str) -> Deposit | None:
    return await session.scalar(
        select(Deposit).where(Deposit.source == source, Deposit.external_id == external_id)
    )


async def reversed_of(session: AsyncSession, original: Deposit) -> int:
    """What reversals of the credit ``original`` took, net of reinstatements: the most a
    canceled reversal may give back now."""
    return (await _taken_back(session, original.id))[1]


# --- the three movements ------------------------------------------------------------------------


async def credit(
    session: AsyncSession,
    *,
    source: str,
    external_id: str,
    client_id: int | None,
    reseller_id: int | None,
    amount: int,
    currency: str,
    memo: str,
    raw_id: int | None,
) -> DepositResult:
    """A payment of ``amount`` micros: to the client ``client_id`` when given (its reseller
    must then be ``reseller_id`` if that is given too), else to the reseller ``reseller_id``'s
    balance with the operator. The one function every provider's payment passes through (see
    the module's docstring: what a new credit sets off, such as settling invoices, goes here)."""
    _check_amount(amount)
    client, reseller = await _owner(session, client_id, reseller_id)
    _check_currency(currency, reseller.currency)
    commission = (
        money.percent_of(amount, reseller.commission_pct)
        if client is not None and reseller.billing_model == "commission"
        else 0
    )

    async def legs() -> list[Leg]:
        return await _legs(session, reseller, client, amount, commission)

    result = await _record(
        session,
        source=source,
        external_id=external_id,
        kind="credit",
        reseller=reseller,
        client=client,
        amount=amount,
        commission=lambda: commission,
        memo=memo,
        raw_id=raw_id,
        legs_for=legs,
    )
    if not result.replayed and client is not None:
        await settlement.payment_received(
            session, source_actor(source), client, reseller, amount, result.entry.id
        )
    return result


async def debit(
    session: AsyncSession,
    *,
    source: str,
    external_id: str,
    original_external_id: str,
    amount: int,
    currency: str,
    memo: str,
    raw_id: int | None,
    reason: str = "refund",
) -> DepositResult:
    """Take back ``amount`` micros of the credit ``original_external_id``: a ``refund`` or a
    ``reversal`` (chargeback). Never more than is left of it; the commission earned on it is
    clawed back in proportion. The client's balance may go below zero (the money is gone):
    its billing mode's status rule then applies."""
    if reason not in DEBIT_REASONS:
        raise ValueError(f"unknown debit reason {reason!r}")
    return await _correct(
        session,
        kind=reason,
        source=source,
        external_id=external_id,
        original_external_id=original_external_id,
        amount=amount,
        currency=currency,
        memo=memo,
        raw_id=raw_id,
    )


async def reinstate(
    session: AsyncSession,
    *,
    source: str,
    external_id: str,
    original_external_id: str,
    amount: int,
    currency: str,
    memo: str,
    raw_id: int | None,
) -> DepositResult:
    """A canceled reversal: give back ``amount`` micros that reversals of the credit
    ``original_external_id`` took (never more than they took), with its commission."""
    return await _correct(
        session,
        kind="reinstate",
        source=source,
        external_id=external_id,
        original_external_id=original_external_id,
        amount=amount,
        currency=currency,
        memo=memo,
        raw_id=raw_id,
    )


# --- shared steps -------------------------------------------------------------------------------


async def _correct(
    session: AsyncSession,
    *,
    kind: str,
    source: str,
    external_id: str,
    original_external_id: str,
    amount: int,
    currency: str,
    memo: str,
    raw_id: int | None,
) -> DepositResult:
    _check_amount(amount)
    original = await find(session, source, original_external_id)
    if original is None or original.kind != "credit":
        raise not_found(f"the {source} payment {original_external_id}", "originalExternalId")
    _check_currency(currency, original.currency)
    client, reseller = await _owner(session, original.client_id, original.reseller_id)
    sign = 1 if kind == "reinstate" else -1
    commission = 0  # the part of it that moves with this correction, set by check()

    async def check() -> None:
        nonlocal commission
        # The original row is locked first (PostgreSQL) so that corrections of one payment
        # see each other; SQLite writers are serialized already.
        await session.refresh(original, with_for_update=True)
        taken, reversed_ = await _taken_back(session, original.id)
        if kind == "reinstate" and amount > reversed_:
            raise DomainError(
                ErrorCode.CONFLICT,
                f"only {money.format_amount(reversed_)} of that payment was reversed",
                "amount",
            )
        if kind != "reinstate" and amount > original.amount - taken:
            raise DomainError(
                ErrorCode.CONFLICT,
                f"only {money.format_amount(original.amount - taken)} of that payment is left",
                "amount",
            )
        before = _commission_kept(original, taken)
        after = _commission_kept(original, taken - sign * amount)
        commission = abs(after - before)

    async def legs() -> list[Leg]:
        return await _legs(session, reseller, client, sign * amount, sign * commission)

    return await _record(
        session,
        source=source,
        external_id=external_id,
        kind=kind,
        reseller=reseller,
        client=client,
        amount=amount,
        commission=lambda: commission,
        memo=memo,
        raw_id=raw_id,
        legs_for=legs,
        original=original,
        check=check,
    )


async def _record(
    session: AsyncSession,
    *,
    source: str,
    external_id: str,
    kind: str,
    reseller: Reseller,
    client: Client | None,
    amount: int,
    commission: Callable[[], int],
    memo: str,
    raw_id: int | None,
    legs_for: Callable[[], Awaitable[list[Leg]]],
    original: Deposit | None = None,
    check: Callable[[], Awaitable[None]] | None = None,
) -> DepositResult:
    """Post the entry (or find the one posted before), then the deposit row beside it.
    ``commission`` is read after ``check`` ran (a correction's share depends on what it finds)."""
    memo = memo[:500]
    moved = await payments.post_movement(
        session,
        source_actor(source),
        operation=f"deposit_{kind}",
        params={
            "client": client.id if client else None,
            "reseller": reseller.id,
            "amount": amount,
            "currency": reseller.currency,
            "original": original.id if original else None,
        },
        key=external_id,
        scope=f"deposit:{source}",
        reseller=reseller,
        client=client,
        kind=f"deposit_{kind}" if kind != "credit" else "deposit",
        amount=amount,
        memo=memo,
        legs_for=legs_for,
        reverses_id=original.entry_id if original else None,
        check=check,
    )
    if moved.replayed:
        deposit = await find(session, source, external_id)
        assert deposit is not None  # written in the same transaction as the entry
        return DepositResult(deposit, moved.entry, True, reseller, client)
    deposit = Deposit(
        source=source,
        external_id=external_id,
        kind=kind,
        reseller_id=reseller.id,
        client_id=client.id if client else None,
        amount=amount,
        currency=reseller.currency,
        commission=commission(),
        original_id=original.id if original else None,
        entry_id=moved.entry.id,
        raw_id=raw_id,
        memo=memo,
    )
    session.add(deposit)
    await session.flush()
    return DepositResult(deposit, moved.entry, False, reseller, client)


async def _legs(
    session: AsyncSession, reseller: Reseller, client: Client | None, amount: int, commission: int
) -> list[Leg]:
    """The legs of a signed ``amount`` (+ in, - out) and ``commission`` (the posting rules of
    ``api/domain/payments.py``, "deposits from outside")."""
    if client is None:
        return [
            Leg(await accounts.reseller_account(session, reseller), amount),
            Leg(await payments.operator_account(session, "deposits", reseller.currency), -amount),
        ]
    client_acc = await accounts.client_account(session, client, reseller.currency)
    if reseller.billing_model != "commission":
        receipts = await payments.reseller_book_account(session, reseller, "receipts")
        return [Leg(client_acc, amount), Leg(receipts, -amount)]
    paid_in: Account = await payments.operator_account(
        session, "client_payments", reseller.currency
    )
    legs = [Leg(client_acc, amount), Leg(paid_in, -amount)]
    if commission:
        reseller_acc = await accounts.reseller_account(session, reseller)
        operator_commission = await payments.operator_account(
            session, "commission", reseller.currency
        )
        legs += [Leg(reseller_acc, commission), Leg(operator_commission, -commission)]
    return legs


async def _owner(
    session: AsyncSession, client_id: int | None, reseller_id: int | None
) -> tuple[Client | None, Reseller]:
    if client_id is not None:
        client = await session.get(Client, client_id, with_for_update=True)
        if client is None or client.deleted_at is not None:
            raise not_found("client", "clientId")
        if reseller_id is not None and client.reseller_id != reseller_id:
            raise not_found("client", "clientId")
        reseller_id = client.reseller_id
    else:
        client = None
    reseller = await session.get(Reseller, reseller_id) if reseller_id is not None else None
    if reseller is None:
        raise not_found("reseller", "resellerId")
    return client, reseller


async def _taken_back(session: AsyncSession, original_id: int) -> tuple[int, int]:
    """What refunds and reversals took from a credit, net of reinstatements, and what
    reversals took net of reinstatements."""
    signed = case((Deposit.kind == "reinstate", -Deposit.amount), else_=Deposit.amount)
    reversal = case((Deposit.kind == "refund", 0), else_=signed)
    row = (
        await session.execute(
            select(func.coalesce(func.sum(signed), 0), func.coalesce(func.sum(reversal), 0)).where(
                Deposit.original_id == original_id
            )
        )
    ).one()
    return int(row[0]), int(row[1])


def _commission_kept(original: Deposit, taken: int) -> int:
    """The commission the reseller keeps of a credit once ``taken`` of it was taken back: in
    proportion, rounded once, so that taking all of it back in parts claws back exactly the
    commission it earned."""
    if not original.commission:
        return 0
    kept = original.amount - taken
    return money.round_micros(Decimal(original.commission) * kept / original.amount)


def _check_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise invalid("amount", "a deposit's amount must be a positive number of micros")


def _check_currency(given: str, expected: str) -> None:
    if given.upper() != expected:
        raise invalid("currency", f"the amount is in {given}, the balance in {expected}")
