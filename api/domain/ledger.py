"""The ledger: the one place where money moves (DESIGN §4).

``post`` writes one entry made of postings that sum to zero per currency, and updates each
account's cached balance in the same transaction with a single conditional statement::

    UPDATE accounts SET balance = balance + :amount
     WHERE id = :id [AND balance + :amount >= :floor] RETURNING balance

The row lock that statement takes (PostgreSQL) or the ``BEGIN IMMEDIATE`` write lock (SQLite)
makes the floor check and the change one atomic step, so concurrent debits lose nothing and a
floor is never crossed. Accounts are updated in id order, so two entries never deadlock.

Rollups: every posting is also added, in the same statement batch, to its row of
``ledger_rollups`` (account, UTC day of the entry, entry kind, the entry's reseller and client;
0 when it names none): one ``INSERT … ON CONFLICT DO UPDATE`` per entry (``post``) or per batch
(``posting_many``, an ``unnest`` insert on PostgreSQL), in key order. A rollup row of an account
is written only after that account's row was updated by the same transaction, so its lock
already serializes writers: rollups add no waits and no deadlocks. The financial reports read
the rollups (``api.domain.financials``); a test proves each equals the sum of its postings.

Idempotency: ``(idem_scope, idem_key)`` is unique on ``ledger_entries``. The entry row is inserted
before any balance changes; a concurrent duplicate fails on the constraint inside a savepoint and
the already committed entry is returned instead, with nothing changed.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from api.db import unnest_insert, unnest_params
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode
from api.models import Account, LedgerEntry, LedgerRollup, Posting
from api.models.base import utcnow


class LedgerInvariantError(RuntimeError):
    """A programming error: postings that do not balance. Never a user's fault."""


@dataclass(frozen=True)
class Leg:
    """One posting: ``amount`` micros into ``account`` (negative = out of it). When ``floor`` is
    set, the account's balance after this leg must stay at or above it."""

    account: Account
    amount: int
    floor: int | None = None
    floor_message: str = "insufficient funds"


@dataclass(frozen=True)
class Idempotency:
    scope: str
    key: str
    request_hash: str

    @classmethod
    def of(cls, scope: str, key: str, operation: str, params: dict[str, Any]) -> Idempotency:
        canonical = json.dumps([operation, params], sort_keys=True, default=str)
        return cls(scope, key, hashlib.sha256(canonical.encode()).hexdigest())


@dataclass
class Posted:
    entry: LedgerEntry
    replayed: bool = False
    balances: dict[int, int] = field(default_factory=dict)  # account id -> balance after


def validate_key(key: str) -> None:
    if not key or len(key) > 200 or not key.isprintable():
        raise DomainError(
            ErrorCode.VALIDATION,
            "an idempotency key of 1 to 200 printable characters is required",
            "idempotencyKey",
        )


async def find_replay(session: AsyncSession, idem: Idempotency) -> LedgerEntry | None:
    """The entry an earlier request with this key made, or None. A key reused for a different
    request is refused: it would otherwise silently return the wrong result."""
    validate_key(idem.key)
    entry = await session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.idem_scope == idem.scope, LedgerEntry.idem_key == idem.key
        )
    )
    if entry is not None and entry.request_hash != idem.request_hash:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "this idempotency key was already used for a different request",
            "idempotencyKey",
        )
    return entry


async def account(
    session: AsyncSession,
    key: str,
    *,
    kind: str,
    currency: str,
    reseller_id: int | None = None,
    client_id: int | None = None,
) -> Account:
    """The account named ``key``, created on first use (safe under concurrency)."""
    found = await session.scalar(select(Account).where(Account.key == key))
    if found is not None:
        return found
    created = Account(
        key=key,
        kind=kind,
        currency=currency,
        reseller_id=reseller_id,
        client_id=client_id,
        balance=0,
    )
    try:
        async with session.begin_nested():
            session.add(created)
            await session.flush()
    except IntegrityError:
        found = await session.scalar(select(Account).where(Account.key == key))
        if found is None:  # pragma: no cover - the constraint that failed names it
            raise
        return found
    return created


async def post(
    session: AsyncSession,
    *,
    kind: str,
    currency: str,
    amount: int,
    legs: list[Leg],
    idem: Idempotency,
    actor: Actor,
    reseller_id: int | None = None,
    client_id: int | None = None,
    memo: str = "",
    reverses_id: int | None = None,
) -> Posted:
    """Write one balanced entry and move the cached balances, or change nothing."""
    _check_balanced(legs, currency)
    entry = LedgerEntry(
        kind=kind,
        currency=currency,
        amount=amount,
        memo=memo,
        reseller_id=reseller_id,
        client_id=client_id,
        idem_scope=idem.scope,
        idem_key=idem.key,
        request_hash=idem.request_hash,
        reverses_id=reverses_id,
        actor_type=actor.audit_type,
        actor_id=actor.audit_id,
        actor_label=actor.label[:320],
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(entry)
            await session.flush()
    except IntegrityError:
        existing = await find_replay(session, idem)
        if existing is None:  # pragma: no cover - some other constraint failed
            raise
        return Posted(existing, replayed=True)

    balances: dict[int, int] = {}
    # Id order prevents deadlocks; on one account, debits go first so floors see them.
    for leg in sorted(legs, key=lambda leg: (leg.account.id, leg.amount)):
        balances[leg.account.id] = await _apply(session, leg)
    session.add_all(
        Posting(entry_id=entry.id, account_id=leg.account.id, amount=leg.amount, currency=currency)
        for leg in legs
        if leg.amount
    )
    await session.flush()
    await _roll_up(session, _rollup_rows([(entry.created_at, kind, reseller_id, client_id, legs)]))
    return Posted(entry, balances=balances)


@dataclass(frozen=True)
class EntrySpec:
    """One entry of :func:`post_many`: the arguments of :func:`post`."""

    kind: str
    currency: str
    amount: int
    legs: list[Leg]
    idem: Idempotency
    reseller_id: int | None = None
    client_id: int | None = None
    memo: str = ""


async def post_many(
    session: AsyncSession, entries: list[EntrySpec], actor: Actor
) -> list[int | None]:
    """Write many balanced entries at once (see :func:`posting_many`); the id of each new entry,
    ``None`` for a replay."""
    async with posting_many(session, entries, actor) as ids:
        return ids


@asynccontextmanager
async def posting_many(
    session: AsyncSession, entries: list[EntrySpec], actor: Actor
) -> AsyncIterator[list[int | None]]:
    """Write many balanced entries at once, with the same rules as :func:`post` (one entry
    each, postings summing to zero, cached balances moved in the same transaction, idempotency
    by the unique key) in a constant number of statements, around the caller's block::

        async with ledger.posting_many(session, specs, actor) as entry_ids:
            ...  # write the rows that name the entries

    The entries are inserted (one statement) before the block, which gets the id of each; when
    the block ends, the balance changes, summed per account, are applied in account id order
    (one executemany, so two batches never deadlock) and the postings written (one insert), so
    the accounts' rows are locked for the end of the transaction only. The entries, the block's
    writes and the postings are one savepoint: a block that raises leaves none of them.

    Entries whose legs have a floor, and a batch in which some idempotency key was used before,
    go through :func:`post` one by one before the block instead; an entry that was a replay
    then gets ``None``. The accounts of the legs get their new balances."""
    if not entries:
        yield []
        return
    for spec in entries:
        _check_balanced(spec.legs, spec.currency)
    if any(leg.floor is not None for spec in entries for leg in spec.legs):
        yield await _post_each(session, entries, actor)
        return
    for spec in entries:
        validate_key(spec.idem.key)
    label = actor.label[:320]
    now = utcnow()
    rows = [
        (
            spec.kind,
            spec.currency,
            spec.amount,
            spec.memo,
            spec.reseller_id,
            spec.client_id,
            spec.idem.scope,
            spec.idem.key,
            spec.idem.request_hash,
            None,
            actor.audit_type,
            actor.audit_id,
            label,
            now,
        )
        for spec in entries
    ]
    savepoint = await session.begin_nested()
    try:
        ids: list[int | None] = await _insert_entries(session, rows)
    except IntegrityError:
        await savepoint.rollback()
        yield await _post_each(session, entries, actor)
        return
    try:
        yield ids
        await _move_balances(session, entries, ids, now)
    except BaseException:
        await savepoint.rollback()
        raise
    await savepoint.commit()


_ENTRY_COLUMNS = (
    "kind",
    "currency",
    "amount",
    "memo",
    "reseller_id",
    "client_id",
    "idem_scope",
    "idem_key",
    "request_hash",
    "reverses_id",
    "actor_type",
    "actor_id",
    "actor_label",
    "created_at",
)
_POSTING_COLUMNS = ("entry_id", "account_id", "amount", "currency")
_NEXT_ENTRY_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('ledger_entries', 'id')) FROM generate_series(1, :n)"
)


async def _insert_entries(session: AsyncSession, rows: list[tuple]) -> list[int]:
    """Insert entry rows (``_ENTRY_COLUMNS`` order); their ids, in order. PostgreSQL: the ids
    drawn from the sequence first, then one ``unnest`` insert (Core over the tables: the ORM's
    bulk insert, or an executemany with ``RETURNING``, costs more than the SQL)."""
    table = LedgerEntry.__table__
    if session.get_bind().dialect.name == "postgresql":
        ids = list((await session.execute(_NEXT_ENTRY_IDS, {"n": len(rows)})).scalars())
        names = ("id", *_ENTRY_COLUMNS)
        with_ids = [(entry_id, *row) for entry_id, row in zip(ids, rows, strict=True)]
        await session.execute(unnest_insert(table, names), unnest_params(names, with_ids))
        return ids
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    params = [dict(zip(_ENTRY_COLUMNS, row, strict=True)) for row in rows]
    return list((await session.execute(stmt, params)).scalars())


async def _move_balances(
    session: AsyncSession, entries: list[EntrySpec], ids: list[int | None], created_at: datetime
) -> None:
    """The postings of entries already inserted (at ``created_at``), their accounts' cached
    balances and the rollups."""
    deltas: dict[int, int] = defaultdict(int)
    holders: dict[int, Account] = {}  # one of each account object (by identity)
    postings = []
    for entry_id, spec in zip(ids, entries, strict=True):
        for leg in spec.legs:
            account_id = leg.account.id
            deltas[account_id] += leg.amount
            holders[id(leg.account)] = leg.account
            if leg.amount:
                postings.append((entry_id, account_id, leg.amount, spec.currency))
    balances = await _add_to_balances(session, deltas)
    for account_row in holders.values():
        set_committed_value(account_row, "balance", balances[account_row.id])
    if not postings:
        return
    table = Posting.__table__
    if session.get_bind().dialect.name == "postgresql":
        stmt = unnest_insert(table, _POSTING_COLUMNS)
        await session.execute(stmt, unnest_params(_POSTING_COLUMNS, postings))
    else:
        rows = [dict(zip(_POSTING_COLUMNS, row, strict=True)) for row in postings]
        await session.execute(insert(table), rows)
    await _roll_up(
        session,
        _rollup_rows(
            (created_at, spec.kind, spec.reseller_id, spec.client_id, spec.legs) for spec in entries
        ),
    )


_LOCK_ACCOUNTS = text(
    "SELECT id FROM accounts WHERE id = ANY(CAST(:ids AS INTEGER[])) ORDER BY id FOR NO KEY UPDATE"
)
_ADD_TO_BALANCES = text(
    "UPDATE accounts SET balance = accounts.balance + moved.delta "
    "FROM unnest(CAST(:ids AS INTEGER[]), CAST(:deltas AS BIGINT[])) AS moved (id, delta) "
    "WHERE accounts.id = moved.id RETURNING accounts.id, accounts.balance"
)


async def _add_to_balances(session: AsyncSession, deltas: dict[int, int]) -> dict[int, int]:
    """Add ``deltas`` (account id -> micros) to the accounts' cached balances, locking their
    rows in id order (so that two batches never deadlock); their new balances. PostgreSQL: the
    rows locked by one ``SELECT … ORDER BY id FOR NO KEY UPDATE``, then one ``UPDATE … FROM
    unnest(…) RETURNING``, whatever their number; elsewhere one update per account."""
    ids = sorted(deltas)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK_ACCOUNTS, {"ids": ids})
        moved = await session.execute(
            _ADD_TO_BALANCES, {"ids": ids, "deltas": [deltas[i] for i in ids]}
        )
        return dict(moved.all())
    await session.execute(
        text("UPDATE accounts SET balance = balance + :delta WHERE id = :id"),
        [{"id": account_id, "delta": deltas[account_id]} for account_id in ids],
    )
    found = await session.execute(select(Account.id, Account.balance).where(Account.id.in_(ids)))
    return dict(found.all())


_ROLLUP_KEY = ("reseller_id", "day", "account_id", "kind", "client_id")
_ROLLUP_SUMS = ("amount", "postings")
_ROLLUP_COLUMNS = (*_ROLLUP_KEY, *_ROLLUP_SUMS)


def _rollup_rows(
    entries: Iterable[tuple[datetime, str, int | None, int | None, list[Leg]]],
) -> list[tuple]:
    """The rollup rows of entries (created at, kind, reseller, client, legs): their non-zero
    postings summed per ``_ROLLUP_KEY``, in key order (``_ROLLUP_COLUMNS`` order)."""
    sums: dict[tuple, list[int]] = {}
    days: dict[datetime, Any] = {}
    for created_at, kind, reseller_id, client_id, legs in entries:
        day = days.get(created_at)
        if day is None:
            day = days[created_at] = created_at.astimezone(UTC).date()
        for leg in legs:
            if not leg.amount:
                continue
            key = (reseller_id or 0, day, leg.account.id, kind, client_id or 0)
            acc = sums.get(key)
            if acc is None:
                sums[key] = [leg.amount, 1]
            else:
                acc[0] += leg.amount
                acc[1] += 1
    return [(*key, amount, count) for key, (amount, count) in sorted(sums.items())]


def _adding_to_rollups(stmt: Any) -> Any:
    table = LedgerRollup.__table__
    return stmt.on_conflict_do_update(
        index_elements=list(_ROLLUP_KEY),
        set_={name: table.c[name] + stmt.excluded[name] for name in _ROLLUP_SUMS},
    )


async def _roll_up(session: AsyncSession, rows: list[tuple]) -> None:
    """Add rows (``_rollup_rows``) to ``ledger_rollups``: one statement on PostgreSQL (an
    ``unnest`` upsert), an executemany of the same upsert on SQLite."""
    if not rows:
        return
    table = LedgerRollup.__table__
    if session.get_bind().dialect.name == "postgresql":
        stmt = _adding_to_rollups(unnest_insert(table, _ROLLUP_COLUMNS))
        await session.execute(stmt, unnest_params(_ROLLUP_COLUMNS, rows))
        return
    stmt = _adding_to_rollups(sqlite.insert(table))
    await session.execute(stmt, [dict(zip(_ROLLUP_COLUMNS, row, strict=True)) for row in rows])


async def _post_each(
    session: AsyncSession, entries: list[EntrySpec], actor: Actor
) -> list[int | None]:
    out: list[int | None] = []
    for spec in entries:
        posted = await _post_spec(session, spec, actor)
        out.append(None if posted.replayed else posted.entry.id)
    return out


async def _post_spec(session: AsyncSession, spec: EntrySpec, actor: Actor) -> Posted:
    return await post(
        session,
        kind=spec.kind,
        currency=spec.currency,
        amount=spec.amount,
        legs=spec.legs,
        idem=spec.idem,
        actor=actor,
        reseller_id=spec.reseller_id,
        client_id=spec.client_id,
        memo=spec.memo,
    )


async def _apply(session: AsyncSession, leg: Leg) -> int:
    stmt = update(Account).where(Account.id == leg.account.id)
    if leg.floor is not None and leg.amount < 0:
        stmt = stmt.where(Account.balance + leg.amount >= leg.floor)
    stmt = stmt.values(balance=Account.balance + leg.amount).returning(Account.balance)
    new_balance = await session.execute(stmt, execution_options={"synchronize_session": False})
    value = new_balance.scalar_one_or_none()
    if value is None:
        raise DomainError(ErrorCode.INSUFFICIENT_FUNDS, leg.floor_message, "amount")
    set_committed_value(leg.account, "balance", value)
    return value


def _check_balanced(legs: list[Leg], currency: str) -> None:
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if leg.account.currency != currency:
            raise LedgerInvariantError(
                f"account {leg.account.key} is in {leg.account.currency}, entry in {currency}"
            )
        totals[leg.account.currency] += leg.amount
    if any(totals.values()):
        raise LedgerInvariantError(f"postings do not sum to zero: {dict(totals)}")
