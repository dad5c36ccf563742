"""Money movements between the operator, resellers and clients, as posting rules over the ledger.

Accounts (``api.domain.accounts`` names the tenant ones). A positive balance is money the
platform holds *for* the account's owner; the ``operator:*`` and ``reseller:N:receipts|sales``
accounts are the other side of the books and usually run negative.

=====================  ==============================================================
account                what it is
=====================  ==============================================================
reseller:N             the reseller's prepaid balance with the operator (floor 0)
client:N               the client's balance (markup: in the reseller's books;
                       commission: held by the operator)
reseller:N:receipts    markup: money the reseller took from its clients off-platform
reseller:N:sales       markup: what the reseller charged its clients
reseller:N:fees        markup: the monthly and setup fees its clients paid it
operator:deposits:CUR  money the operator received from resellers
operator:adjustments:CUR  the operator's corrections to reseller balances
operator:commission:CUR   commissions the operator paid to commission-model resellers
operator:hostname_fees:CUR  the one-time fees resellers paid for custom hostnames
operator:did_fees:CUR  the setup and monthly costs resellers paid for the numbers (DIDs)
                       they hold
operator:client_fees:CUR  commission: the fees commission-model clients paid the operator
=====================  ==============================================================

Posting rules (X the amount, c = commission_pct % of X, rounded once half-up):

* operator deposit to reseller: reseller:N +X, operator:deposits -X.
* operator adjustment (signed X): reseller:N +X, operator:adjustments -X; a negative one may
  not take the reseller below zero.
* reseller moves credit to a client (both models): reseller:N -X (floor 0), client:M +X.
  Commission model: also reseller:N +c, operator:commission -c (the deposit earns commission).
* manual client payment, markup: client:M +X, reseller:N:receipts -X (the reseller has the cash;
  its balance with the operator is untouched).
  Commission model: the client's balance is held by the operator, so the reseller, who took the
  cash, funds it from its own balance exactly as a transfer, and earns its commission.
* manual charge, markup: client:M -X, reseller:N:sales +X. Commission: client:M -X,
  reseller:N +X (the reseller's charge is paid to the reseller out of the operator-held balance).
  A charge may take a client below zero; the billing-mode status rule then applies.
* refund / withdrawal (never more than the client holds, nor more than is left of the payment
  it names): markup: client:M -X, reseller:N:receipts +X. Commission: client:M -X,
  reseller:N +X, and the commission earned on X is clawed back: reseller:N -c,
  operator:commission +c.

Deposits from outside (``api.domain.deposits``: PayPal IPN, PayPal Checkout). Who receives the
money decides the other side:

* markup: the client pays the reseller (its own PayPal receiver email, in the reseller's
  currency): client:M +X, reseller:N:receipts -X, as a manual payment. The reseller's balance
  with the operator is untouched.
* commission: the client's balance is held by the operator, so the client pays the operator
  directly (the operator's default brand's PayPal receiver email, in the reseller's currency):
  client:M +X, operator:client_payments:CUR -X, and the reseller earns its commission in the
  same entry: reseller:N +c, operator:commission -c. (Were the reseller paid instead, its
  balance would have to fund the client, and a payment PayPal already took could bounce on
  the reseller's floor.)
* a reseller pays the operator (card top-up of its own balance): reseller:N +X,
  operator:deposits -X, as an operator deposit.
* refund or reversal of a deposit (never more than is left of it): the same legs with the
  signs turned, and no floor (the money is already gone; the client's status rule applies).
  The commission moves in proportion: what the reseller keeps of c is
  ``round(c * (X - taken back) / X)``, so taking a payment back in parts claws back exactly c.
* canceled reversal (never more than reversals of that deposit took, net): the deposit's legs
  again for that amount, with the commission earned back by the same proportion.

Fees a reseller pays the operator:

* custom hostname (``api.domain.brands``; the price in settings, in the reseller's currency,
  charged once when the hostname is ordered, keyed by the hostname's id): reseller:N -X
  (floor 0: refused with nothing changed when the balance does not cover it),
  operator:hostname_fees:CUR +X.
* DID setup (``api.domain.numbers``; the number's setup cost in the inventory, charged once when
  the reseller orders it, keyed by the order's idempotency key in the actor's namespace):
  reseller:N -X (floor 0: refused with nothing changed when the balance does not cover it),
  operator:did_fees:CUR +X. Releasing the number gives nothing back.
* DID monthly cost (``api.domain.fees``, the worker, both models: the reseller holds the
  number): reseller:N -X, operator:did_fees:CUR +X. No floor: the period was provided, so a
  reseller whose balance does not cover it goes below zero (and its floor-guarded movements
  are refused until it tops up); skipping would hand the number out for free.

Fees clients pay (``api.domain.fees``: a package's monthly fee per sub-account and a number's
monthly price, by the worker on each one's next billing date, keyed ``fee`` /
``subject:id:monthly:period start:payer``; a package's activation fee and a number's setup
price once, when the reseller asks, keyed by the request's idempotency key in the actor's
namespace). X is the reseller's price; a package has no platform cost, so the reseller pays
the operator nothing for it:

* markup: client:M -X, reseller:N:fees +X (the client pays the reseller).
* commission: client:M -X, operator:client_fees:CUR +X (the operator holds the balance: the
  client pays the operator, as for calls; the reseller earns its commission on deposits).
* No floor: a fee may take a client below zero; the billing-mode status rule then applies
  (a strict prepaid client at or below zero is suspended).

Invoices (``api.domain.invoices``) are documents: the usage they list (calls, fees) was posted
when it happened, and a payment settles them through the paths above. Money moves for an
invoice only where the document differs from what the ledger already took, keyed in scope
``invoice`` by the invoice's id (``N:sent``, ``N:void``):

* sending, D = the invoice's subtotal minus what its charges already took (the reseller changed
  a price, added a line, removed one; signed), T = its tax (the reseller collects it):
  client:M -(D + T); markup: reseller:N:sales +D; commission: reseller:N +D (the reseller's
  charge, as a manual charge); reseller:N:tax +T. Nothing when D and T are zero.
* voiding a sent invoice, or a credit note of X on it (X ≤ what is left to credit; the tax
  part t of X in proportion of the invoice's tax, rounded once): the same legs with the signs
  turned: client:M +X; markup: reseller:N:sales -(X - t); commission: reseller:N -(X - t), no
  floor (the reseller forgives its client what it invoiced); reseller:N:tax -t.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api import money
from api.domain import accounts, alerts, audit, ledger, settlement
from api.domain import validation as v
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.domain.ledger import Idempotency, Leg
from api.models import Account, Client, LedgerEntry, Reseller

CLIENT_FUNDING_KINDS = ("client_transfer", "client_payment")
# movements that are a payment received (api.domain.alerts: payment.received)
PAYMENT_KINDS = {"client_payment": "manual", "deposit": None, "reseller_deposit": "operator"}


@dataclass
class Movement:
    entry: LedgerEntry
    replayed: bool
    reseller: Reseller
    client: Client | None = None


def idem_scope(actor: Actor) -> str:
    """Whose keys these are: one namespace per operator, reseller tenant or client."""
    if actor.is_operator:
        return "operator"
    if actor.client_id is not None:
        return f"client:{actor.client_id}"
    return f"reseller:{actor.reseller_id}"


async def operator_account(session: AsyncSession, name: str, currency: str) -> Account:
    return await ledger.account(
        session, f"operator:{name}:{currency}", kind=f"operator_{name}", currency=currency
    )


async def reseller_book_account(session: AsyncSession, reseller: Reseller, name: str) -> Account:
    return await ledger.account(
        session,
        f"reseller:{reseller.id}:{name}",
        kind=f"reseller_{name}",
        currency=reseller.currency,
        reseller_id=reseller.id,
    )


async def _commission_legs(
    session: AsyncSession, reseller: Reseller, reseller_acc: Account, amount: int, sign: int
) -> list[Leg]:
    """Commission on a client deposit (sign +1) or its claw-back (sign -1)."""
    if reseller.billing_model != "commission":
        return []
    commission = money.percent_of(amount, reseller.commission_pct)
    if not commission:
        return []
    operator_acc = await operator_account(session, "commission", reseller.currency)
    return [Leg(reseller_acc, sign * commission), Leg(operator_acc, -sign * commission)]


async def post_movement(
    session: AsyncSession,
    actor: Actor,
    *,
    operation: str,
    params: dict[str, Any],
    key: str,
    reseller: Reseller,
    client: Client | None,
    kind: str,
    amount: int,
    memo: str,
    legs_for: Callable[[], Awaitable[list[Leg]]],
    reverses_id: int | None = None,
    check: Callable[[], Awaitable[None]] | None = None,
    scope: str | None = None,
) -> Movement:
    """Shared shape of every movement: replay check, then the movement's own ``check`` (so
    that a replay answers as the first time did), legs, post, status rule, the alerts
    (``api.domain.alerts``: low balances, payment received), audit. Keys live
    in the actor's namespace (:func:`idem_scope`) unless ``scope`` names another one."""
    idem = Idempotency.of(scope or idem_scope(actor), key, operation, params)
    existing = await ledger.find_replay(session, idem)
    if existing is not None:
        return Movement(existing, True, reseller, client)
    if check is not None:
        await check()
    legs = await legs_for()
    posted = await ledger.post(
        session,
        kind=kind,
        currency=reseller.currency,
        amount=amount,
        legs=legs,
        idem=idem,
        actor=actor,
        reseller_id=reseller.id,
        client_id=client.id if client else None,
        memo=memo,
        reverses_id=reverses_id,
    )
    if posted.replayed:
        return Movement(posted.entry, True, reseller, client)
    if client is not None:
        balance = await accounts.client_balance(session, client)
        await accounts.apply_balance_status(session, actor, client, balance)
    reseller_key = accounts.reseller_account_key(reseller.id)
    for leg in legs:
        if leg.account.key == reseller_key:
            await alerts.reseller_balance_changed(session, reseller, leg.account.balance)
            break
    if kind in PAYMENT_KINDS:
        await alerts.payment_received(
            session,
            reseller=reseller,
            client=client,
            amount=amount,
            source=PAYMENT_KINDS[kind] or actor.label,
            entry_id=posted.entry.id,
        )
    await audit.record(
        session,
        actor,
        subject_type="ledger_entry",
        subject_id=posted.entry.id,
        action=f"money.{kind}",
        reseller_id=reseller.id,
        client_id=client.id if client else None,
        before={"balances": _balances(legs, undo=True)},
        after={
            "kind": kind,
            "amount": money.format_amount(amount),
            "currency": reseller.currency,
            "memo": memo,
            "balances": _balances(legs),
        },
    )
    return Movement(posted.entry, False, reseller, client)


def _balances(legs: list[Leg], *, undo: bool = False) -> dict[str, str]:
    """The balances of the accounts an entry touched, after it (or before it, ``undo``)."""
    out: dict[str, int] = {}
    for leg in legs:
        out.setdefault(leg.account.key, leg.account.balance)
        if undo:
            out[leg.account.key] -= leg.amount
    return {key: money.format_amount(value) for key, value in out.items()}


def _amount_and_memo(amount: Any, memo: str | None) -> tuple[int, str]:
    return v.amount("amount", amount, positive=True), v.text("memo", memo, max_len=500)


# --- the operator and a reseller's balance ----------------------------------------------------


async def reseller_deposit(
    session: AsyncSession, actor: Actor, reseller_id: int, amount: Any, key: str, memo: str = ""
) -> Movement:
    actor.require("reseller_balance:write")
    micros, memo = _amount_and_memo(amount, memo)
    reseller = await accounts.get_reseller(session, actor, reseller_id)

    async def legs() -> list[Leg]:
        return [
            Leg(await accounts.reseller_account(session, reseller), micros),
            Leg(await operator_account(session, "deposits", reseller.currency), -micros),
        ]

    return await post_movement(
        session,
        actor,
        operation="reseller_deposit",
        params={"reseller": reseller_id, "amount": micros, "memo": memo},
        key=key,
        reseller=reseller,
        client=None,
        kind="reseller_deposit",
        amount=micros,
        memo=memo,
        legs_for=legs,
    )


async def reseller_adjust(
    session: AsyncSession, actor: Actor, reseller_id: int, amount: Any, key: str, memo: str
) -> Movement:
    """A signed correction of a reseller's balance; it must say why."""
    actor.require("reseller_balance:write")
    micros = v.amount("amount", amount)
    if micros == 0:
        raise invalid("amount", "an adjustment must not be zero")
    memo = v.text("memo", memo, max_len=500, required=True)
    reseller = await accounts.get_reseller(session, actor, reseller_id)

    async def legs() -> list[Leg]:
        return [
            Leg(
                await accounts.reseller_account(session, reseller),
                micros,
                floor=0,
                floor_message="the adjustment would take the reseller's balance below zero",
            ),
            Leg(await operator_account(session, "adjustments", reseller.currency), -micros),
        ]

    return await post_movement(
        session,
        actor,
        operation="reseller_adjust",
        params={"reseller": reseller_id, "amount": micros, "memo": memo},
        key=key,
        reseller=reseller,
        client=None,
        kind="reseller_adjustment",
        amount=abs(micros),
        memo=memo,
        legs_for=legs,
    )


# --- a reseller and its clients ---------------------------------------------------------------


async def _client_and_reseller(
    session: AsyncSession, actor: Actor, client_id: int
) -> tuple[Client, Reseller]:
    actor.require("payments:write")
    client = await accounts.get_client(session, actor, client_id, for_update=True, field="clientId")
    reseller = await session.get(Reseller, client.reseller_id)
    assert reseller is not None
    return client, reseller


def _reseller_debit(reseller_acc: Account, micros: int) -> Leg:
    return Leg(
        reseller_acc,
        -micros,
        floor=0,
        floor_message="the reseller's balance does not cover this amount",
    )


async def client_transfer(
    session: AsyncSession, actor: Actor, client_id: int, amount: Any, key: str, memo: str = ""
) -> Movement:
    """The reseller moves credit from its own balance to a client."""
    return await _fund_client(session, actor, client_id, amount, key, memo, "client_transfer")


async def client_payment(
    session: AsyncSession, actor: Actor, client_id: int, amount: Any, key: str, memo: str = ""
) -> Movement:
    """The reseller records a payment it took from a client by hand (cash, bank transfer).
    A new payment settles the client's open invoices (``api.domain.settlement``)."""
    moved = await _fund_client(session, actor, client_id, amount, key, memo, "client_payment")
    if not moved.replayed and moved.client is not None:
        await settlement.payment_received(
            session, actor, moved.client, moved.reseller, moved.entry.amount, moved.entry.id
        )
    return moved


async def _fund_client(
    session: AsyncSession,
    actor: Actor,
    client_id: int,
    amount: Any,
    key: str,
    memo: str,
    kind: str,
) -> Movement:
    micros, memo = _amount_and_memo(amount, memo)
    client, reseller = await _client_and_reseller(session, actor, client_id)
    from_reseller = kind == "client_transfer" or reseller.billing_model == "commission"

    async def legs() -> list[Leg]:
        client_acc = await accounts.client_account(session, client, reseller.currency)
        if not from_reseller:
            receipts = await reseller_book_account(session, reseller, "receipts")
            return [Leg(client_acc, micros), Leg(receipts, -micros)]
        reseller_acc = await accounts.reseller_account(session, reseller)
        return [
            _reseller_debit(reseller_acc, micros),
            Leg(client_acc, micros),
            *await _commission_legs(session, reseller, reseller_acc, micros, +1),
        ]

    return await post_movement(
        session,
        actor,
        operation=kind,
        params={"client": client_id, "amount": micros, "memo": memo},
        key=key,
        reseller=reseller,
        client=client,
        kind=kind,
        amount=micros,
        memo=memo,
        legs_for=legs,
    )


async def client_charge(
    session: AsyncSession, actor: Actor, client_id: int, amount: Any, key: str, memo: str
) -> Movement:
    """A manual charge to a client, paid to the reseller (see the posting rules above)."""
    micros = v.amount("amount", amount, positive=True)
    memo = v.text("memo", memo, max_len=500, required=True)
    client, reseller = await _client_and_reseller(session, actor, client_id)

    async def legs() -> list[Leg]:
        client_acc = await accounts.client_account(session, client, reseller.currency)
        if reseller.billing_model == "commission":
            payee = await accounts.reseller_account(session, reseller)
        else:
            payee = await reseller_book_account(session, reseller, "sales")
        return [Leg(client_acc, -micros), Leg(payee, micros)]

    return await post_movement(
        session,
        actor,
        operation="client_charge",
        params={"client": client_id, "amount": micros, "memo": memo},
        key=key,
        reseller=reseller,
        client=client,
        kind="client_charge",
        amount=micros,
        memo=memo,
        legs_for=legs,
    )


async def client_refund(
    session: AsyncSession,
    actor: Actor,
    client_id: int,
    amount: Any,
    key: str,
    memo: str = "",
    payment_id: int | None = None,
) -> Movement:
    """Pay money back to a client (a refund of one payment, or a withdrawal of its balance)."""
    micros, memo = _amount_and_memo(amount, memo)
    client, reseller = await _client_and_reseller(session, actor, client_id)

    async def check() -> None:
        if payment_id is not None:
            await _check_refundable(session, client, payment_id, micros)

    async def legs() -> list[Leg]:
        client_acc = await accounts.client_account(session, client, reseller.currency)
        out = Leg(
            client_acc,
            -micros,
            floor=0,
            floor_message="the client's balance does not cover this refund",
        )
        if reseller.billing_model != "commission":
            receipts = await reseller_book_account(session, reseller, "receipts")
            return [out, Leg(receipts, micros)]
        reseller_acc = await accounts.reseller_account(session, reseller)
        return [
            out,
            Leg(reseller_acc, micros),
            *await _commission_legs(session, reseller, reseller_acc, micros, -1),
        ]

    return await post_movement(
        session,
        actor,
        operation="client_refund",
        params={"client": client_id, "amount": micros, "memo": memo, "payment": payment_id},
        key=key,
        reseller=reseller,
        client=client,
        kind="client_refund",
        amount=micros,
        memo=memo,
        legs_for=legs,
        reverses_id=payment_id,
        check=check,
    )


async def _check_refundable(
    session: AsyncSession, client: Client, payment_id: int, micros: int
) -> None:
    """A refund never exceeds what is left of the payment it reverses. The payment row is
    locked first (PostgreSQL) so that concurrent refunds see each other."""
    original = await session.scalar(
        select(LedgerEntry).where(LedgerEntry.id == payment_id).with_for_update()
    )
    if (
        original is None
        or original.client_id != client.id
        or original.kind not in CLIENT_FUNDING_KINDS
    ):
        raise not_found("payment", "paymentId")
    refunded = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.reverses_id == payment_id
        )
    )
    left = original.amount - refunded
    if micros > left:
        raise DomainError(
            ErrorCode.VALIDATION,
            f"only {money.format_amount(left)} of that payment is left to refund",
            "amount",
        )


# --- invoices ---------------------------------------------------------------------------------


async def invoice_adjustment(
    session: AsyncSession,
    actor: Actor,
    *,
    client: Client,
    reseller: Reseller,
    invoice_id: int,
    step: str,
    net: int,
    tax: int,
    memo: str,
) -> Movement | None:
    """Post what an invoice moves (see "Invoices" above): ``net`` + ``tax`` micros taken from
    the client (negative: given back), ``net`` to the reseller, ``tax`` to its tax book. Keyed
    ``invoice`` / ``<invoice id>:<step>``; None when there is nothing to move."""
    if not net and not tax:
        return None

    async def legs() -> list[Leg]:
        client_acc = await accounts.client_account(session, client, reseller.currency)
        if reseller.billing_model == "commission":
            payee = await accounts.reseller_account(session, reseller)
        else:
            payee = await reseller_book_account(session, reseller, "sales")
        out = [Leg(client_acc, -(net + tax))]
        if net:
            out.append(Leg(payee, net))
        if tax:
            out.append(Leg(await reseller_book_account(session, reseller, "tax"), tax))
        return out

    return await post_movement(
        session,
        actor,
        operation="invoice_adjustment",
        params={"invoice": invoice_id, "step": step, "net": net, "tax": tax},
        key=f"{invoice_id}:{step}",
        scope="invoice",
        reseller=reseller,
        client=client,
        kind="invoice_adjustment",
        amount=abs(net + tax) or abs(net),
        memo=memo[:500],
        legs_for=legs,
    )


# --- fees a reseller pays the operator ---------------------------------------------------------


async def _reseller_pays_operator(
    session: AsyncSession,
    actor: Actor,
    reseller: Reseller,
    amount: int,
    *,
    book: str,
    what: str,
    **movement: Any,
) -> Movement:
    """A one-time fee the reseller pays the operator from its balance, into the operator's
    ``book``; refused when the balance does not cover it (``what`` names the fee there)."""

    async def legs() -> list[Leg]:
        return [
            Leg(
                await accounts.reseller_account(session, reseller),
                -amount,
                floor=0,
                floor_message="the reseller's balance does not cover the "
                + what.replace("{amount}", f"{money.format_amount(amount)} {reseller.currency}"),
            ),
            Leg(await operator_account(session, book, reseller.currency), amount),
        ]

    return await post_movement(
        session, actor, reseller=reseller, client=None, amount=amount, legs_for=legs, **movement
    )


async def hostname_fee(
    session: AsyncSession, actor: Actor, reseller: Reseller, hostname_id: int, amount: int
) -> Movement:
    """Charge the one-time fee of a custom hostname to the reseller's balance."""
    return await _reseller_pays_operator(
        session,
        actor,
        reseller,
        amount,
        book="hostname_fees",
        what="hostname fee of {amount}",
        operation="hostname_fee",
        params={"reseller": reseller.id, "hostname": hostname_id, "amount": amount},
        key=str(hostname_id),
        scope="hostname_fee",
        kind="hostname_fee",
        memo=f"hostname {hostname_id}",
    )


async def did_setup_fee(
    session: AsyncSession,
    actor: Actor,
    reseller: Reseller,
    did_id: int,
    number: str,
    amount: int,
    key: str,
) -> Movement:
    """Charge the setup cost of an ordered number (DID) to the reseller's balance."""
    return await _reseller_pays_operator(
        session,
        actor,
        reseller,
        amount,
        book="did_fees",
        what=f"setup cost of {{amount}} of number {number}",
        operation="did_order",
        params={"reseller": reseller.id, "did": did_id, "amount": amount},
        key=key,
        kind="did_setup_fee",
        memo=f"setup of number {number}",
    )


# --- reading -----------------------------------------------------------------------------------


def entries_query(actor: Actor, *, client_id: int | None = None, reseller_id: int | None = None):
    """Ledger entries the actor may read, optionally narrowed to a client or reseller."""
    stmt = select(LedgerEntry)
    if actor.client_id is not None:
        stmt = stmt.where(LedgerEntry.client_id == actor.client_id)
    elif not actor.is_authenticated or not actor.can("clients:read"):
        return stmt.where(False)
    elif not actor.is_operator:
        stmt = stmt.where(LedgerEntry.reseller_id == actor.reseller_id)
    if client_id is not None:
        stmt = stmt.where(LedgerEntry.client_id == client_id)
    if reseller_id is not None:
        stmt = stmt.where(LedgerEntry.reseller_id == reseller_id)
    return stmt


async def get_entry(session: AsyncSession, actor: Actor, entry_id: int) -> LedgerEntry:
    entry = await session.get(LedgerEntry, entry_id)
    if entry is None:
        raise not_found("ledger entry")
    if actor.client_id is not None:
        visible = entry.client_id == actor.client_id
    else:
        visible = (
            actor.can("clients:read")
            and entry.reseller_id is not None
            and actor.sees_reseller(entry.reseller_id)
        ) or actor.is_operator
    if not visible:
        raise not_found("ledger entry")
    return entry
