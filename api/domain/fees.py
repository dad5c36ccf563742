"""Recurring and one-time fees: packages' monthly and setup fees, numbers' monthly fees.

What is charged (the posting rules are in :mod:`api.domain.payments`):

* a sub-account's package ``monthly_fee``, to its client, from the sub-account's
  ``next_billing_date`` (subject ``sub_account``, payer ``client:N``; packages have no
  platform cost, so the reseller pays nothing for them);
* a number's ``monthly_price``, to the client it is assigned to, from
  ``client_next_billing_date`` (subject ``did``, payer ``client:N``);
* a number's ``monthly_cost``, to the reseller holding it (owned or assigned), from
  ``reseller_next_billing_date`` (subject ``did``, payer ``reseller:N``);
* setup fees once, when the reseller asks for it ("charge setup fee now"):
  :func:`charge_sub_account_setup` (the package's ``setup_fee``; ``activation_fee_charged``)
  and :func:`charge_did_setup` (the number's ``setup_price``; ``client_setup_fee_charged``).
  A second request with another key is refused with CONFLICT; the same key again answers as
  the first time did.

Periods. A monthly fee is charged for one period at a time: from the subject's next billing
date to the day before the same day of the next month, which becomes the next billing date.
The day of the month is kept (the sub-account's ``billing_day``; a number's day of order or of
assignment) and clamped to the end of shorter months: a fee due on the 31st is due on 28/29
February and on 31 March again. A subject whose fee is zero (no package, a free number) has its
date moved on all the same, so that a fee set later starts from the current period. A disabled
sub-account is still charged (it still holds its package): taking the package off, or deleting
the sub-account, ends its fee. The fee is the package's at the time of the run.

The worker job ``recurring-fees`` (:func:`run_due`) charges every subject whose next billing
date is on or before the run's day (UTC), all its due periods, so a missed day (or month) is
caught up on the next run. It works in chunks of :data:`CHUNK` subjects, one transaction each:

1. the due rows are selected and locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so a second
   worker takes other rows; SQLite serializes writers with ``BEGIN IMMEDIATE``);
2. their clients, resellers and ledger accounts are read (missing accounts created) in a few
   statements;
3. the entries (one per fee period), the ``fee_charges`` rows naming them, and the balance
   changes are written through ``ledger.posting_many``; the rows' next billing dates move on;
4. the billing-mode status rule runs for the clients charged (a strict prepaid client at or
   below zero is suspended), for the whole chunk at once
   (``accounts.apply_balance_status_many``), with the alerts that follow a balance (low
   balance, suspension), and the resellers charged a number's cost are told their balance
   (``alerts.reseller_balance_changed``); the alerts of a chunk are one
   ``notifications.batch`` (what they look up per reseller is read once, their rows written
   in one flush).

Rows are written in bulk: the fee rows by ``COPY`` on PostgreSQL, the dates by one ``UPDATE``
per new date.

Idempotency: a period is one ``fee_charges`` row, unique by ``(subject_type, subject_id, kind,
period_start, payer)``, and its ledger entry has the same key (scope ``fee``). A run that meets
a period charged before (a date moved back by hand, a number held again on the same day by the
same payer) charges nothing for it and moves the date on.

Floors: none. A client may go below zero (its status rule applies). The reseller's platform
cost of a number is charged even when its balance does not cover it, and the balance goes
negative: the operator has provided the number for the period, skipping would hand it out for
free, and a negative balance already stops what the floor guards (transfers to clients,
orders of numbers, hostnames) until the reseller tops up.

Reading: :func:`fee_charges_query` (``clients:read``): the operator sees all, a reseller its
own, a client user its own client-side charges only (never the reseller's cost).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import money
from api.domain import (
    accounts,
    alerts,
    audit,
    callers,
    ledger,
    notifications,
    numbers,
    payments,
)
from api.domain.actors import SYSTEM, Actor
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.domain.ledger import EntrySpec, Idempotency, Leg
from api.models import Account, Client, Did, FeeCharge, LedgerEntry, Package, Reseller, SubAccount
from api.models.base import utcnow
from api.settings import Settings

CHUNK = 1000
SCOPE = "fee"
SUB_ACCOUNT, DID = "sub_account", "did"
MONTHLY, SETUP = "monthly", "setup"
SUBJECT_TYPES = (SUB_ACCOUNT, DID)
KINDS = (MONTHLY, SETUP)

# ledger entry kinds
PACKAGE_MONTHLY = "package_monthly_fee"
PACKAGE_SETUP = "package_setup_fee"
DID_MONTHLY = "did_monthly_fee"
DID_CLIENT_SETUP = "did_client_setup_fee"
DID_MONTHLY_COST = "did_monthly_cost"


# --- periods -----------------------------------------------------------------------------------


def add_month(day: date, anchor: int) -> date:
    """The same day of the next month (``anchor``, 1..31), clamped to that month's end."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def periods_due(start: date, anchor: int, today: date) -> tuple[list[tuple[date, date]], date]:
    """Every period from ``start`` that has begun by ``today`` (first day, last day), and the
    next billing date after them."""
    out = []
    while start <= today:
        following = add_month(start, anchor)
        out.append((start, date.fromordinal(following.toordinal() - 1)))
        start = following
    return out, start


def fee_key(subject_type: str, subject_id: int, kind: str, period_start: date, payer: str) -> str:
    """The idempotency key of a fee's ledger entry: the same as its row's unique key."""
    return f"{subject_type}:{subject_id}:{kind}:{period_start.isoformat()}:{payer}"


def client_payer(client_id: int) -> str:
    return f"client:{client_id}"


def reseller_payer(reseller_id: int) -> str:
    return f"reseller:{reseller_id}"


# --- posting rules -----------------------------------------------------------------------------


def _client_fee_payee_key(reseller: Reseller) -> tuple[str, dict[str, Any]]:
    """Who a client's fee goes to: markup, the reseller's fees book; commission, the operator
    (who holds the balance), as for calls."""
    if reseller.billing_model == "commission":
        return f"operator:client_fees:{reseller.currency}", {"kind": "operator_client_fees"}
    return f"reseller:{reseller.id}:fees", {"kind": "reseller_fees", "reseller_id": reseller.id}


async def client_fee_payee(session: AsyncSession, reseller: Reseller) -> Account:
    if reseller.billing_model == "commission":
        return await payments.operator_account(session, "client_fees", reseller.currency)
    return await payments.reseller_book_account(session, reseller, "fees")


async def _accounts(session: AsyncSession, wanted: dict[str, dict[str, Any]]) -> dict[str, Account]:
    """The accounts named by ``wanted`` (key -> kind, currency, owner ids), the missing ones
    created in one statement (a concurrent creator's row is taken as it is)."""
    found = {
        row.key: row
        for row in await session.scalars(select(Account).where(Account.key.in_(list(wanted))))
    }
    missing = [
        {"key": key, "balance": 0, "reseller_id": None, "client_id": None, **spec}
        for key, spec in wanted.items()
        if key not in found
    ]
    if missing:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        await session.execute(
            dialect.insert(Account.__table__).on_conflict_do_nothing(index_elements=["key"]),
            [{**row, "created_at": utcnow()} for row in missing],
        )
        keys = [row["key"] for row in missing]
        for row in await session.scalars(select(Account).where(Account.key.in_(keys))):
            found[row.key] = row
    return found


# --- the worker --------------------------------------------------------------------------------


@dataclass
class _Due:
    """One subject's side that is due: who pays what, and which periods."""

    subject_type: str
    subject_id: int
    payer: str
    reseller_id: int
    client_id: int | None
    amount: int
    entry_kind: str
    description: str
    periods: list[tuple[date, date]]
    next_date: date


@dataclass(frozen=True)
class _Source:
    """A kind of due subject: how to find them, and how to move their date."""

    name: str
    select_due: Callable[[date], Select]
    due: Callable[[Any, date], _Due]
    date_column: Any


def _sub_account_rows() -> Select:
    """Sub-accounts with what their fee needs: their package's name and monthly fee."""
    return select(
        SubAccount.id,
        SubAccount.client_id,
        SubAccount.reseller_id,
        SubAccount.username,
        SubAccount.next_billing_date,
        SubAccount.billing_day,
        Package.name,
        Package.monthly_fee,
    ).outerjoin(Package, Package.id == SubAccount.package_id)


def _sub_accounts_due(today: date) -> Select:
    return (
        _sub_account_rows()
        .where(SubAccount.next_billing_date <= today)
        .order_by(SubAccount.id)
        .limit(CHUNK)
        .with_for_update(of=SubAccount, skip_locked=True)
    )


def _sub_account_due(row: Any, today: date) -> _Due:
    anchor = row.billing_day or row.next_billing_date.day
    periods, next_date = periods_due(row.next_billing_date, anchor, today)
    return _Due(
        SUB_ACCOUNT,
        row.id,
        client_payer(row.client_id),
        row.reseller_id,
        row.client_id,
        row.monthly_fee or 0,
        PACKAGE_MONTHLY,
        f"monthly fee of package {row.name} for sub-account {row.username}",
        periods,
        next_date,
    )


def _dids_due(column: Any, statuses: tuple[str, ...]) -> Callable[[date], Select]:
    def stmt(today: date) -> Select:
        return (
            select(Did)
            .where(column <= today, Did.status.in_(statuses))
            .order_by(Did.id)
            .limit(CHUNK)
            .with_for_update(skip_locked=True)
        )

    return stmt


def _did_client_due(did: Did, today: date) -> _Due:
    start = did.client_next_billing_date
    anchor = did.assigned_at.day if did.assigned_at else start.day
    periods, next_date = periods_due(start, anchor, today)
    assert did.client_id is not None and did.reseller_id is not None
    return _Due(
        DID,
        did.id,
        client_payer(did.client_id),
        did.reseller_id,
        did.client_id,
        did.monthly_price,
        DID_MONTHLY,
        f"monthly fee of number {did.number}",
        periods,
        next_date,
    )


def _did_reseller_due(did: Did, today: date) -> _Due:
    start = did.reseller_next_billing_date
    anchor = did.ordered_at.day if did.ordered_at else start.day
    periods, next_date = periods_due(start, anchor, today)
    assert did.reseller_id is not None
    return _Due(
        DID,
        did.id,
        reseller_payer(did.reseller_id),
        did.reseller_id,
        None,
        did.monthly_cost,
        DID_MONTHLY_COST,
        f"monthly cost of number {did.number}",
        periods,
        next_date,
    )


SOURCES = (
    _Source("sub_accounts", _sub_accounts_due, _sub_account_due, SubAccount.next_billing_date),
    _Source(
        "did_clients",
        _dids_due(Did.client_next_billing_date, ("assigned",)),
        _did_client_due,
        Did.client_next_billing_date,
    ),
    _Source(
        "did_resellers",
        _dids_due(Did.reseller_next_billing_date, ("owned", "assigned")),
        _did_reseller_due,
        Did.reseller_next_billing_date,
    ),
)


async def run_due(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """The worker's job ``recurring-fees``: charge every period due by ``now``'s day (UTC);
    returns how many fee periods it charged."""
    today = now.date()
    charged = 0
    for source in SOURCES:
        while True:
            async with sessions() as session, session.begin():
                subjects, done = await _charge_chunk(session, source, today)
            charged += done
            if subjects < CHUNK:
                break
    return charged


async def _charge_chunk(session: AsyncSession, source: _Source, today: date) -> tuple[int, int]:
    """One chunk of due subjects of a source, in the caller's transaction: (subjects, fees)."""
    rows = list(await session.execute(source.select_due(today)))
    if not rows:
        return 0, 0
    if source.name != "sub_accounts":
        rows = [row[0] for row in rows]
    due = [source.due(row, today) for row in rows]
    charging = [d for d in due if d.amount > 0]

    specs: list[EntrySpec] = []
    fee_rows: list[tuple] = []
    payers: dict[int, Account] = {}  # client id -> its account
    reseller_books: dict[int, Account] = {}  # reseller id -> its balance, for numbers' costs
    resellers: dict[int, Reseller] = {}
    if charging:
        resellers = {
            r.id: r
            for r in await session.scalars(
                select(Reseller).where(Reseller.id.in_({d.reseller_id for d in charging}))
            )
        }
        wanted: dict[str, dict[str, Any]] = {}
        for d in charging:
            reseller = resellers[d.reseller_id]
            cur = reseller.currency
            if d.client_id is None:
                wanted[accounts.reseller_account_key(reseller.id)] = {
                    "kind": "reseller",
                    "currency": cur,
                    "reseller_id": reseller.id,
                }
                wanted[f"operator:did_fees:{cur}"] = {"kind": "operator_did_fees", "currency": cur}
            else:
                wanted[accounts.client_account_key(d.client_id)] = {
                    "kind": "client",
                    "currency": cur,
                    "reseller_id": reseller.id,
                    "client_id": d.client_id,
                }
                key, spec = _client_fee_payee_key(reseller)
                wanted[key] = {**spec, "currency": cur}
        found = await _accounts(session, wanted)

        for d in charging:
            reseller = resellers[d.reseller_id]
            cur = reseller.currency
            if d.client_id is None:
                payer_acc = found[accounts.reseller_account_key(reseller.id)]
                payee_acc = found[f"operator:did_fees:{cur}"]
                reseller_books[reseller.id] = payer_acc
            else:
                payer_acc = found[accounts.client_account_key(d.client_id)]
                payee_acc = found[_client_fee_payee_key(reseller)[0]]
                payers[d.client_id] = payer_acc
            for start, end in d.periods:
                key = fee_key(d.subject_type, d.subject_id, MONTHLY, start, d.payer)
                memo = f"{d.description}, {start.isoformat()} to {end.isoformat()}"
                specs.append(
                    EntrySpec(
                        kind=d.entry_kind,
                        currency=cur,
                        amount=d.amount,
                        legs=[Leg(payer_acc, -d.amount), Leg(payee_acc, d.amount)],
                        idem=Idempotency.of(SCOPE, key, "fee", {"key": key}),
                        reseller_id=reseller.id,
                        client_id=d.client_id,
                        memo=memo[:500],
                    )
                )
                fee_rows.append(
                    (
                        d.subject_type,
                        d.subject_id,
                        MONTHLY,
                        d.payer,
                        reseller.id,
                        d.client_id,
                        start,
                        end,
                        d.description[:300],
                        d.amount if d.client_id is not None else 0,
                        d.amount if d.client_id is None else 0,
                        cur,
                        None,
                    )
                )

    charged = 0
    async with ledger.posting_many(session, specs, SYSTEM) as entry_ids:
        now = utcnow()
        stored = [
            (*row, entry_id, now)
            for row, entry_id in zip(fee_rows, entry_ids, strict=True)
            if entry_id is not None  # charged before: nothing more
        ]
        await _store(session, stored)
        charged = len(stored)
        await _move_dates(session, source.date_column, due)
    # The balances moved when the block ended: the status rule and the alerts that follow a
    # balance (both the accounts and alerts modules' own) for the clients and resellers charged
    if payers:
        found = await session.scalars(select(Client).where(Client.id.in_(list(payers))))
        await accounts.apply_balance_status_many(
            session, SYSTEM, [(client, payers[client.id].balance) for client in found]
        )
    async with notifications.batch(session):
        for reseller_id, account in sorted(reseller_books.items()):
            await alerts.reseller_balance_changed(session, resellers[reseller_id], account.balance)
    return len(rows), charged


FEE_COLUMNS = (
    "subject_type",
    "subject_id",
    "kind",
    "payer",
    "reseller_id",
    "client_id",
    "period_start",
    "period_end",
    "description",
    "client_amount",
    "reseller_cost",
    "currency",
    "invoice_id",
    "entry_id",
    "created_at",
)


async def _store(session: AsyncSession, rows: list[tuple]) -> None:
    """The fee rows (``FEE_COLUMNS`` order): ``COPY`` on PostgreSQL (asyncpg, same connection
    and transaction), a Core executemany elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if driver is not None and hasattr(driver, "copy_records_to_table"):
            await driver.copy_records_to_table(
                FeeCharge.__tablename__, records=rows, columns=list(FEE_COLUMNS)
            )
            return
    await session.execute(
        FeeCharge.__table__.insert(), [dict(zip(FEE_COLUMNS, row, strict=True)) for row in rows]
    )


async def _move_dates(session: AsyncSession, column: Any, due: list[_Due]) -> None:
    """Move each subject's next billing date on: one ``UPDATE … WHERE id IN (…)`` per new date
    (a chunk due on one day has one)."""
    by_date: dict[date, list[int]] = defaultdict(list)
    for d in due:
        by_date[d.next_date].append(d.subject_id)
    table = column.table
    values: dict[str, Any] = {column.key: bindparam("b_date")}
    if "updated_at" in table.c:
        values["updated_at"] = utcnow()
    for next_date, ids in sorted(by_date.items()):
        await session.execute(
            update(table).where(table.c.id.in_(ids)).values(values),
            {"b_date": next_date},
            execution_options={"synchronize_session": False},
        )


# --- "charge setup fee now" ----------------------------------------------------------------------


@dataclass
class Charged:
    charge: FeeCharge
    replayed: bool = False


async def _replay(
    session: AsyncSession, actor: Actor, key: str, subject_type: str, subject_id: int
) -> Charged | None:
    """The charge an earlier request with this key made (the same subject), or None."""
    ledger.validate_key(key)
    entry = await session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.idem_scope == payments.idem_scope(actor), LedgerEntry.idem_key == key
        )
    )
    if entry is None:
        return None
    charge = await session.scalar(select(FeeCharge).where(FeeCharge.entry_id == entry.id))
    if charge is None or (charge.subject_type, charge.subject_id) != (subject_type, subject_id):
        raise DomainError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "this idempotency key was already used for a different request",
            "idempotencyKey",
        )
    return Charged(charge, replayed=True)


async def _charge_setup(
    session: AsyncSession,
    actor: Actor,
    *,
    key: str,
    operation: str,
    subject_type: str,
    subject_id: int,
    reseller: Reseller,
    client: Client,
    amount: int,
    period_start: date,
    entry_kind: str,
    description: str,
) -> FeeCharge:
    """Post a client's setup fee (one entry, no floor) and record it."""

    async def legs() -> list[Leg]:
        client_acc = await accounts.client_account(session, client, reseller.currency)
        return [Leg(client_acc, -amount), Leg(await client_fee_payee(session, reseller), amount)]

    moved = await payments.post_movement(
        session,
        actor,
        operation=operation,
        params={subject_type: subject_id, "amount": amount},
        key=key,
        reseller=reseller,
        client=client,
        kind=entry_kind,
        amount=amount,
        memo=description,
        legs_for=legs,
    )
    charge = FeeCharge(
        subject_type=subject_type,
        subject_id=subject_id,
        kind=SETUP,
        payer=client_payer(client.id),
        reseller_id=reseller.id,
        client_id=client.id,
        period_start=period_start,
        period_end=period_start,
        description=description[:300],
        client_amount=amount,
        reseller_cost=0,
        currency=reseller.currency,
        entry_id=moved.entry.id,
    )
    session.add(charge)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # the unique key: charged by a concurrent request
        raise DomainError(ErrorCode.CONFLICT, "this setup fee was already charged", "id") from None
    return charge


async def charge_sub_account_setup(
    session: AsyncSession, actor: Actor, sub_account_id: int | None, key: str
) -> Charged:
    """Charge the activation (setup) fee of a sub-account's package to its client, once."""
    actor.require("payments:write")
    sub = await callers.get_sub_account(session, actor, sub_account_id or 0)
    # the row is locked (PostgreSQL) so that two requests with different keys see each other
    await session.refresh(sub, with_for_update=True)
    replay = await _replay(session, actor, key, SUB_ACCOUNT, sub.id)
    if replay is not None:
        return replay
    if sub.activation_fee_charged:
        raise DomainError(
            ErrorCode.CONFLICT,
            f"the activation fee of sub-account {sub.username} was already charged",
            "id",
        )
    package = await session.get(Package, sub.package_id) if sub.package_id else None
    if package is None:
        raise invalid("id", f"sub-account {sub.username} has no package, so no activation fee")
    if package.setup_fee <= 0:
        raise invalid("id", f"package {package.name} has no setup fee to charge")
    client = await accounts.get_client(session, actor, sub.client_id, for_update=True)
    reseller = await session.get(Reseller, sub.reseller_id)
    assert reseller is not None
    charge = await _charge_setup(
        session,
        actor,
        key=key,
        operation="sub_account_setup_fee",
        subject_type=SUB_ACCOUNT,
        subject_id=sub.id,
        reseller=reseller,
        client=client,
        amount=package.setup_fee,
        period_start=sub.created_at.date(),
        entry_kind=PACKAGE_SETUP,
        description=f"activation fee of package {package.name} for sub-account {sub.username}",
    )
    sub.activation_fee_charged = True
    await session.flush()
    await _audit_setup(session, actor, SUB_ACCOUNT, sub.id, "sub_account", charge)
    return Charged(charge)


async def charge_did_setup(
    session: AsyncSession, actor: Actor, did_id: int | None, key: str
) -> Charged:
    """Charge a number's setup price to the client it is assigned to, once per assignment."""
    actor.require("payments:write")
    did = await numbers.get_did(session, actor, did_id)
    if did.reseller_id is None or not actor.sees_reseller(did.reseller_id):
        raise not_found("number", "id")
    await session.refresh(did, with_for_update=True)
    replay = await _replay(session, actor, key, DID, did.id)
    if replay is not None:
        return replay
    if did.status != "assigned" or did.client_id is None:
        raise DomainError(
            ErrorCode.CONFLICT, f"number {did.number} is not assigned to a client", "id"
        )
    if did.client_setup_fee_charged:
        raise DomainError(
            ErrorCode.CONFLICT, f"the setup fee of number {did.number} was already charged", "id"
        )
    if did.setup_price <= 0:
        raise invalid("id", f"number {did.number} has no setup price to charge")
    client = await accounts.get_client(session, actor, did.client_id, for_update=True)
    reseller = await session.get(Reseller, did.reseller_id)
    assert reseller is not None
    assigned = did.assigned_at or utcnow()
    charge = await _charge_setup(
        session,
        actor,
        key=key,
        operation="did_client_setup_fee",
        subject_type=DID,
        subject_id=did.id,
        reseller=reseller,
        client=client,
        amount=did.setup_price,
        period_start=assigned.date(),
        entry_kind=DID_CLIENT_SETUP,
        description=f"setup fee of number {did.number}",
    )
    did.client_setup_fee_charged = True
    await session.flush()
    await _audit_setup(session, actor, DID, did.id, "did", charge)
    return Charged(charge)


async def _audit_setup(
    session: AsyncSession,
    actor: Actor,
    subject_type: str,
    subject_id: int,
    action_prefix: str,
    charge: FeeCharge,
) -> None:
    await audit.record(
        session,
        actor,
        subject_type=subject_type,
        subject_id=subject_id,
        action=f"{action_prefix}.setup_fee_charged",
        reseller_id=charge.reseller_id,
        client_id=charge.client_id,
        before={"setup_fee_charged": False},
        after={
            "setup_fee_charged": True,
            "amount": money.format_amount(charge.client_amount),
            "currency": charge.currency,
            "fee_charge_id": charge.id,
            "entry_id": charge.entry_id,
        },
    )


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpcomingFee:
    """The next period of a client's monthly fee: what the worker will charge on ``due_on``."""

    subject_type: str
    subject_id: int
    due_on: date
    period_end: date
    amount: int
    description: str


def _upcoming(due: _Due) -> UpcomingFee:
    (start, end), *_ = due.periods
    return UpcomingFee(due.subject_type, due.subject_id, start, end, due.amount, due.description)


async def upcoming_fees(
    session: AsyncSession, client_ids: list[int]
) -> dict[int, list[UpcomingFee]]:
    """Each client's next monthly fees, soonest first: its sub-accounts' packages and its
    numbers that cost something (the same rules as the worker's; free ones are left out)."""
    out: dict[int, list[UpcomingFee]] = {i: [] for i in client_ids}
    subs = await session.execute(
        _sub_account_rows().where(
            SubAccount.client_id.in_(client_ids),
            SubAccount.next_billing_date.is_not(None),
            Package.monthly_fee > 0,
        )
    )
    for row in subs:
        out[row.client_id].append(_upcoming(_sub_account_due(row, row.next_billing_date)))
    dids = await session.scalars(
        select(Did).where(
            Did.client_id.in_(client_ids),
            Did.status == "assigned",
            Did.client_next_billing_date.is_not(None),
            Did.monthly_price > 0,
        )
    )
    for did in dids:
        out[did.client_id].append(_upcoming(_did_client_due(did, did.client_next_billing_date)))
    for fees_of_client in out.values():
        fees_of_client.sort(key=lambda fee: (fee.due_on, fee.description))
    return out


def fee_charges_query(
    actor: Actor,
    *,
    client_id: int | None = None,
    reseller_id: int | None = None,
    subject_type: str | None = None,
    kind: str | None = None,
) -> Select:
    """The fee charges an actor may list: the operator all, a reseller its own, a client user
    the ones its client paid (never a reseller's side)."""
    stmt = select(FeeCharge)
    if actor.client_id is not None:
        stmt = stmt.where(
            FeeCharge.client_id == actor.client_id,
            FeeCharge.payer == client_payer(actor.client_id),
        )
    elif not actor.is_authenticated or not actor.can("clients:read"):
        return stmt.where(False)
    elif not actor.is_operator:
        stmt = stmt.where(FeeCharge.reseller_id == actor.reseller_id)
    if client_id is not None:
        stmt = stmt.where(FeeCharge.client_id == client_id)
    if reseller_id is not None:
        stmt = stmt.where(FeeCharge.reseller_id == reseller_id)
    if subject_type is not None:
        stmt = stmt.where(FeeCharge.subject_type == subject_type)
    if kind is not None:
        stmt = stmt.where(FeeCharge.kind == kind)
    return stmt


def can_see(actor: Actor, charge: FeeCharge) -> bool:
    if actor.client_id is not None:
        return charge.payer == client_payer(actor.client_id)
    return actor.can("clients:read") and actor.sees_reseller(charge.reseller_id)


async def get_fee_charge(session: AsyncSession, actor: Actor, charge_id: int) -> FeeCharge:
    charge = await session.get(FeeCharge, charge_id)
    if charge is None or not can_see(actor, charge):
        raise not_found("fee charge")
    return charge


def shows_cost(actor: Actor) -> bool:
    """Whether the viewer may see what a reseller paid (not a client)."""
    return actor.client_id is None
