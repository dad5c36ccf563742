"""Test data built through the domain functions (never by writing balances directly).

Amounts given to the money helpers follow the domain's rule: a string or Decimal is in units
("12.50"), an int is already micros.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from api.domain import accounts, auth, payments
from api.domain.actors import ROLE_PERMISSIONS, SYSTEM, Actor, actor_for_user
from api.models import (
    Account,
    Client,
    Deposit,
    LedgerEntry,
    LedgerRollup,
    Posting,
    Reseller,
    User,
)

PASSWORD = "test-password-1"
_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


def unique_key(prefix: str = "key") -> str:
    """A fresh idempotency key."""
    return f"{prefix}-{uuid.uuid4().hex}"


# --- SQL statement counting (N+1 tests) -------------------------------------------------------


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Collect every SQL statement the engine runs inside the block::

    with count_statements(engine) as statements:
        ...
    assert len(statements) <= 5
    """
    seen: list[str] = []

    def on_execute(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)


# --- tenants and users ------------------------------------------------------------------------


async def make_reseller(
    session: AsyncSession,
    billing_model: str = "markup",
    currency: str = "USD",
    commission_pct: str = "0",
    **kw: Any,
) -> Reseller:
    data = {
        "name": kw.pop("name", f"Reseller {_n()}"),
        "billing_model": billing_model,
        "currency": currency,
        "commission_pct": commission_pct,
        **kw,
    }
    return await accounts.create_reseller(session, SYSTEM, data)


async def make_client(
    session: AsyncSession,
    reseller: Reseller,
    billing_mode: str = "prepaid_strict",
    *,
    actor: Actor = SYSTEM,
    **kw: Any,
) -> Client:
    row = {"name": kw.pop("name", f"Client {_n()}"), "billing_mode": billing_mode, **kw}
    [client] = await accounts.create_clients(session, actor, reseller.id, [row])
    return client


async def make_user(
    session: AsyncSession,
    role: str = "reseller_owner",
    *,
    reseller: Reseller | None = None,
    client: Client | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    name: str = "",
) -> User:
    """A login of ``role`` (operator, reseller_owner, reseller_staff, client)."""
    return await auth.create_user(
        session,
        SYSTEM,
        email=email or f"user{_n()}-{uuid.uuid4().hex[:6]}@example.test",
        password=password,
        role=role,
        name=name,
        reseller_id=reseller.id if reseller else None,
        client_id=client.id if client else None,
    )


async def user_actor(session: AsyncSession, role: str = "reseller_owner", **kw: Any) -> Actor:
    """An actor backed by a real User row (for audit 'who did it' checks)."""
    return actor_for_user(await make_user(session, role, **kw))


# --- actors without a user row ----------------------------------------------------------------


def operator_actor(label: str = "operator@example.test") -> Actor:
    return Actor(
        kind="operator", role="operator", label=label, permissions=ROLE_PERMISSIONS["operator"]
    )


def reseller_actor(reseller: Reseller | int, role: str = "reseller_owner") -> Actor:
    reseller_id = reseller if isinstance(reseller, int) else reseller.id
    return Actor(
        kind="reseller_user",
        reseller_id=reseller_id,
        role=role,
        label=f"{role}@reseller{reseller_id}.test",
        permissions=ROLE_PERMISSIONS[role],
    )


def client_actor(client: Client) -> Actor:
    return Actor(
        kind="client_user",
        reseller_id=client.reseller_id,
        client_id=client.id,
        role="client",
        label=f"client{client.id}@example.test",
        permissions=ROLE_PERMISSIONS["client"],
    )


# --- money ------------------------------------------------------------------------------------


async def fund_reseller(
    session: AsyncSession, reseller: Reseller, amount: Any, *, key: str | None = None
) -> payments.Movement:
    """An operator deposit into the reseller's prepaid balance."""
    return await payments.reseller_deposit(
        session, SYSTEM, reseller.id, amount, key or unique_key("fund")
    )


async def balance_of(session: AsyncSession, key: str) -> int:
    """The cached balance of the account named ``key`` (0 when it does not exist yet)."""
    value = await session.scalar(select(Account.balance).where(Account.key == key))
    return value or 0


async def reseller_balance(session: AsyncSession, reseller: Reseller | int) -> int:
    rid = reseller if isinstance(reseller, int) else reseller.id
    return await balance_of(session, accounts.reseller_account_key(rid))


async def client_balance(session: AsyncSession, client: Client | int) -> int:
    cid = client if isinstance(client, int) else client.id
    return await balance_of(session, accounts.client_account_key(cid))


async def entry_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


async def posting_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Posting)) or 0


async def deposit_legs(session: AsyncSession, deposit_id: int) -> dict[str, int]:
    """The postings of a deposit's one ledger entry, by account key (what moved, and where, in
    that single entry)."""
    rows = await session.execute(
        select(Account.key, Posting.amount)
        .join(Posting, Posting.account_id == Account.id)
        .join(Deposit, Deposit.entry_id == Posting.entry_id)
        .where(Deposit.id == deposit_id)
    )
    legs: dict[str, int] = {}
    for key, amount in rows:
        legs[key] = legs.get(key, 0) + int(amount)
    return legs


async def assert_ledger_consistent(session: AsyncSession) -> None:
    """DESIGN §4.7: the ledger sums to zero per currency, every entry balances, and every
    account's cached balance equals the sum of its postings."""
    per_currency = (
        await session.execute(
            select(Posting.currency, func.sum(Posting.amount)).group_by(Posting.currency)
        )
    ).all()
    unbalanced_currencies = {cur: total for cur, total in per_currency if total != 0}
    assert not unbalanced_currencies, f"ledger does not sum to zero: {unbalanced_currencies}"

    unbalanced_entries = (
        await session.execute(
            select(Posting.entry_id, func.sum(Posting.amount))
            .group_by(Posting.entry_id)
            .having(func.sum(Posting.amount) != 0)
        )
    ).all()
    assert not unbalanced_entries, (
        f"entries whose postings do not sum to zero: {unbalanced_entries}"
    )

    wrong_currency = (
        await session.execute(
            select(Posting.id, Posting.currency, Account.currency)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.currency != Account.currency)
        )
    ).all()
    assert not wrong_currency, f"postings in another currency than their account: {wrong_currency}"

    sums = (
        select(Posting.account_id, func.sum(Posting.amount).label("total"))
        .group_by(Posting.account_id)
        .subquery()
    )
    drift = (
        await session.execute(
            select(Account.key, Account.balance, func.coalesce(sums.c.total, 0))
            .outerjoin(sums, sums.c.account_id == Account.id)
            .where(Account.balance != func.coalesce(sums.c.total, 0))
        )
    ).all()
    assert not drift, f"cached balances differ from their postings (key, cached, sum): {drift}"
    await assert_rollups_match(session)


async def postings_by_rollup_key(session: AsyncSession) -> dict[tuple, tuple[int, int]]:
    """The postings summed, straight from the ledger, per ledger rollup key (account, UTC day
    of the entry, entry kind, the entry's reseller and client or 0): (amount, count)."""
    rows = await session.execute(
        select(
            Posting.account_id,
            LedgerEntry.created_at,
            LedgerEntry.kind,
            LedgerEntry.reseller_id,
            LedgerEntry.client_id,
            Posting.amount,
        ).join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
    )
    out: dict[tuple, tuple[int, int]] = {}
    for account_id, created_at, kind, reseller_id, client_id, amount in rows:
        key = (account_id, created_at.date(), kind, reseller_id or 0, client_id or 0)
        total, count = out.get(key, (0, 0))
        out[key] = (total + int(amount), count + 1)
    return out


async def assert_rollups_match(session: AsyncSession) -> None:
    """Every ledger rollup row equals the sum and count of its postings, and every posting is
    in one."""
    rolled = {
        (r.account_id, r.day, r.kind, r.reseller_id, r.client_id): (r.amount, r.postings)
        for r in await session.scalars(select(LedgerRollup))
    }
    expected = await postings_by_rollup_key(session)
    differ = {
        key: (rolled.get(key), expected.get(key))
        for key in rolled.keys() | expected.keys()
        if rolled.get(key) != expected.get(key)
    }
    assert not differ, f"ledger rollups differ from the postings (rollup, postings): {differ}"
