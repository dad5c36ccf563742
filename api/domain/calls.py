"""CDR ingestion: match each finished call to its caller, rate it twice, store it, post it.

A batch (a GraphQL request, one HTTP delivery, or a chunk of a CSV import) is one transaction:

1. Rows the reader refused, and calls whose id was seen before (in the database, or in an
   earlier row of the batch that lands), are reported with their row number and skipped; the
   rest of the batch lands. A row refused later (unknown caller, no rate) claims no call id:
   the next row of the batch with its id is tried in its place (after the batch's other rows,
   so it takes free minutes after them), and only the rows after one that landed are
   duplicates "earlier in this batch".
2. Each call is matched to its caller: the sub-account its switch's account code names, else
   its sub-account by SIP username, else its client by A-number (``client_numbers``). The
   lookup is scoped: a reseller's API token only finds the callers of its own reseller (any
   other is "unknown caller"); the operator and the system find any. A call of a deleted
   client is "unknown caller" too.
3. Rating (``api.domain.rating``), at the moment the call started:
   cost = the reseller's base deck (deck rate, deck increments);
   sell, markup model = the sub-account's package, else the client's package; without a
   package the client is sold at cost (rule ``cost``);
   sell, commission model = the base rate plus the client's personal percent.
   Each side of each call is rounded once, half-up, to the micro (``rating.charge``).
   Free minutes: a call priced by a package with free minutes takes its billed seconds from
   the caller's allowance of the month (UTC) first — its sub-account's, or its client's for a
   call matched by A-number — and the client pays for the seconds beyond it only (connection
   fee included; a call wholly within the allowance is free). The reseller still pays cost.
   What each call took is stored (``calls.free_seconds``) and each caller's use per month
   kept in ``free_minutes_usage``, its rows locked for the batch (``_load_free``), so that
   batches at once never hand out the same second twice. An
   answered outbound call with no route in the deck is refused ("no rate"); an unanswered one
   is stored at zero. Inbound calls: one to a number (DID) a client holds is billed to that
   client (and the number's sub-account), whoever matched it otherwise; when the number has an
   inbound per-minute rate, the reseller pays that rate (60/60) and the client pays it marked up
   by its package's formula (no overrides: they price dialled destinations), or plus its
   personal percent (commission model); rule ``inbound``. Other inbound calls are recorded at
   zero.
4. Posting rules, one ledger entry per client per batch (kind ``calls``), whose amount is the
   exact sum of the calls' sell amounts, so no cent is lost to rounding across a batch:

   markup:      client:N -sell, reseller:R:sales +sell   (the client pays the reseller)
                reseller:R -cost, operator:sales:CUR +cost  (the reseller pays the operator)
   commission:  client:N -sell, operator:sales:CUR +sell  (the operator holds the balance)

   No floor applies: the calls already happened, so balances may go below zero. The entry's
   idempotency key (scope ``calls``) is a digest of the batch's call ids of that client. Each
   stored call names its entry (``calls.entry_id``): the entries are inserted first, then the
   calls, and the balances move last (``ledger.posting_many``), so that the accounts' rows are
   locked only for the end of the transaction. Afterwards the billing-mode status rule runs
   (``accounts.apply_balance_status``): a strict prepaid client at or below zero is suspended.
5. Calls are stored in bulk (binary ``COPY`` on PostgreSQL, executemany elsewhere), and the
   rollups ``call_rollups`` (reseller, client, UTC day, direction: calls, answered seconds, cost,
   sell) are added to in one upsert (``INSERT … ON CONFLICT DO UPDATE``) in the same
   transaction.

Each step works on the whole batch: the database is asked a few questions per batch, whatever
its size (the seen call ids, the callers, their clients, resellers, decks and packages), each deck
is searched for all the batch's numbers at once (``DeckIndex.lookup_many``), and prices are
remembered per matched deck rate (``_BatchRater``).

A concurrent batch delivering the same calls fails on the calls' unique call id (or its ledger
entry's idempotency key) and rolls back whole; delivering it again then reports every call as a
duplicate. A delivery split into batches that run at once (the CSV import) does just that: a
batch that failed so (:func:`delivered_concurrently`) is ingested again.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Numeric,
    Select,
    String,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from api.db import unnest_insert, unnest_params
from api.domain import _copy, accounts, alerts, dialing, ledger, numbers, rating, validation
from api.domain.actors import Actor
from api.domain.cdr_formats import CallRecord
from api.domain.errors import DomainError, ErrorCode
from api.domain.ledger import Idempotency, Leg
from api.domain.payments import operator_account, reseller_book_account
from api.models import (
    Account,
    Call,
    CallRollup,
    Client,
    ClientNumber,
    FreeMinutesUsage,
    Reseller,
    SubAccount,
)
from api.models.base import utcnow

CHUNK = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RATE_SLICE = 2000  # calls rated at a time, between which other tasks of the event loop run
IDEM_SCOPE = "calls"
_RATE_PLACES = Decimal("0.000001")


@dataclass
class RowIssue:
    row: int
    message: str
    duplicate: bool = False


@dataclass
class CurrencyTotals:
    currency: str
    calls: int = 0
    seconds: int = 0
    cost: int = 0
    sell: int = 0


@dataclass
class IngestReport:
    received: int = 0
    ingested: int = 0
    duplicates: int = 0
    rejected: int = 0
    issues: list[RowIssue] = field(default_factory=list)
    totals: dict[str, CurrencyTotals] = field(default_factory=dict)
    suspended_client_ids: list[int] = field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        self.received += other.received
        self.ingested += other.ingested
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.issues.extend(other.issues)
        for cur, t in other.totals.items():
            mine = self.totals.setdefault(cur, CurrencyTotals(cur))
            mine.calls += t.calls
            mine.seconds += t.seconds
            mine.cost += t.cost
            mine.sell += t.sell
        self.suspended_client_ids.extend(other.suspended_client_ids)


@dataclass(frozen=True, slots=True)
class _Caller:
    client_id: int
    reseller_id: int
    sub_account_id: int | None
    package_id: int | None
    did: numbers.InboundRate | None = None  # the number an inbound call dialled


def _reject(report: IngestReport, row: int, message: str) -> None:
    report.rejected += 1
    report.issues.append(RowIssue(row, message))


async def _where_in(session: AsyncSession, stmt: Select, column: Any, values: list) -> list:
    """The rows of ``stmt`` whose ``column`` is one of ``values`` (distinct): on PostgreSQL
    joined to one array parameter (``unnest``: any length, one plan, a hash join or index probes
    where ``= ANY(…)`` would compare every row with every value), chunks of ``IN`` lists
    elsewhere."""
    if not values:
        return []
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam("values", type_=ARRAY(column.type))
        wanted = func.unnest(array).table_valued("value").render_derived()
        return list(await session.execute(stmt.where(column == wanted.c.value), {"values": values}))
    found: list = []
    for start in range(0, len(values), CHUNK):
        found.extend(await session.execute(stmt.where(column.in_(values[start : start + CHUNK]))))
    return found


async def _existing_call_ids(session: AsyncSession, ids: list[str]) -> set[str]:
    return {row[0] for row in await _where_in(session, select(Call.call_id), Call.call_id, ids)}


async def _callers(
    session: AsyncSession, actor: Actor, records: list[tuple[int, CallRecord]]
) -> tuple[dict[str, _Caller], dict[str, _Caller]]:
    """Sub-accounts by username and client numbers by number, of the batch, in scope."""
    usernames = {n for _, r in records for n in (r.account_code, r.sub_account) if n}
    numbers = {n for _, r in records if r.a_number for n in (r.a_number, _digits(r.a_number)) if n}
    scoped = None if actor.is_operator else actor.reseller_id
    subs = select(
        SubAccount.username,
        SubAccount.client_id,
        SubAccount.reseller_id,
        SubAccount.id,
        SubAccount.package_id,
    )
    owners = select(ClientNumber.number, ClientNumber.client_id, ClientNumber.reseller_id)
    if scoped is not None:
        subs = subs.where(SubAccount.reseller_id == scoped)
        owners = owners.where(ClientNumber.reseller_id == scoped)
    by_username = {
        username: _Caller(client_id, reseller_id, sub_id, package_id)
        for username, client_id, reseller_id, sub_id, package_id in await _where_in(
            session, subs, SubAccount.username, sorted(usernames)
        )
    }
    by_number = {
        number: _Caller(client_id, reseller_id, None, None)
        for number, client_id, reseller_id in await _where_in(
            session, owners, ClientNumber.number, sorted(numbers)
        )
    }
    return by_username, by_number


def _digits(number: str) -> str:
    return dialing.normalize(number)


async def _dids_called(
    session: AsyncSession, actor: Actor, records: list[tuple[int, CallRecord]]
) -> dict[str, _Caller]:
    """The numbers (DIDs) that the batch's inbound calls dialled, held by a client in scope,
    as the caller each call is billed to (with the number's inbound rate)."""
    dialled = {r.destination for _, r in records if r.direction == "inbound" and r.destination}
    if not dialled:
        return {}
    scoped = None if actor.is_operator else actor.reseller_id
    return {
        number: _Caller(held.client_id, held.reseller_id, held.sub_account_id, None, held)
        for number, held in (await numbers.inbound_rate(session, dialled)).items()
        if held.client_id is not None and scoped in (None, held.reseller_id)
    }


def _match(
    record: CallRecord, by_username: dict[str, _Caller], by_number: dict[str, _Caller]
) -> _Caller | None:
    """The caller of a call: the sub-account its account code names, else the one its
    username names, else the client holding its A-number."""
    if record.account_code and record.account_code in by_username:
        return by_username[record.account_code]
    if record.sub_account and record.sub_account in by_username:
        return by_username[record.sub_account]
    if record.a_number:
        return by_number.get(record.a_number) or by_number.get(_digits(record.a_number))
    return None


def _caller_named(record: CallRecord) -> str:
    """Who a call says its caller is, as an "unknown caller" names it."""
    name = record.sub_account or record.a_number
    if record.account_code and record.account_code != name:
        return f"{name} (accountcode {record.account_code})" if name else record.account_code
    return name


class _Pricer:
    """Deck indexes and package pricing, read once per batch (before the rating loop, so that
    rating itself is plain synchronous Python)."""

    def __init__(self) -> None:
        self.decks: dict[int, rating.DeckIndex] = {}
        self.packages: dict[int, rating.PackagePricing | None] = {}

    async def load(self, session: AsyncSession, deck_ids: set[int], package_ids: set[int]) -> None:
        self.decks.update(await rating.deck_indexes(session, deck_ids))
        self.packages.update(await rating.package_pricings(session, package_ids))


def _sell_at_cost(cost: rating.DeckRate) -> rating.SellPrice:
    return rating.SellPrice(
        Decimal(cost.rate),
        Decimal(cost.connection_fee),
        cost.first_increment,
        cost.increment,
        "cost",
    )


FreeKey = tuple[int, int, int, date]  # client, sub-account (0: none), package, month


def _free_key(record: CallRecord, caller: _Caller, pricing: rating.PackagePricing) -> FreeKey:
    """Whose free minutes a call priced by ``pricing`` uses: its sub-account's (else its
    client's) allowance of that package in the month (UTC) the call started."""
    month = record.started_at.date().replace(day=1)
    return (caller.client_id, caller.sub_account_id or 0, pricing.package.id, month)


class FreeMinutes:
    """The free seconds left to the callers of one batch (``FreeKey`` -> seconds), used call
    by call in the batch's order; what each used is written back by :func:`_save_free`."""

    __slots__ = ("ids", "left", "used")

    def __init__(self, left: dict[FreeKey, int], ids: dict[FreeKey, int] | None = None):
        self.left = left
        self.ids = ids or {}
        self.used: dict[FreeKey, int] = defaultdict(int)

    def take(self, key: FreeKey, wanted: int) -> int:
        """Up to ``wanted`` seconds from the allowance of ``key`` (none when it is not known)."""
        got = min(self.left.get(key, 0), wanted)
        if got:
            self.left[key] -= got
            self.used[key] += got
        return got


_USAGE_KEY = ("client_id", "sub_account_id", "package_id", "month")


async def _load_free(
    session: AsyncSession,
    matched: list[tuple[CallRecord, _Caller]],
    clients: dict[int, Client],
    pricer: _Pricer,
) -> FreeMinutes:
    """The free minutes left to the batch's callers whose package has some: their usage rows
    made where missing and read, locked (PostgreSQL) so that batches at once take each second
    once; a caller's allowance is the package's free minutes less what the month used."""
    allowance: dict[FreeKey, int] = {}
    packages = pricer.packages
    for record, caller in matched:
        if record.billsec <= 0 or record.direction == "inbound":
            continue
        pricing = packages.get(caller.package_id or clients[caller.client_id].package_id)
        if pricing is not None and pricing.package.free_minutes > 0:
            allowance[_free_key(record, caller, pricing)] = pricing.package.free_minutes * 60
    if not allowance:
        return FreeMinutes({})
    keys = sorted(allowance)
    table = FreeMinutesUsage.__table__
    names = (*_USAGE_KEY, "seconds")
    rows = [(*key, 0) for key in keys]
    if session.get_bind().dialect.name == "postgresql":
        stmt = unnest_insert(table, names).on_conflict_do_nothing()
        await session.execute(stmt, unnest_params(names, rows))
    else:
        stmt = sqlite.insert(table).on_conflict_do_nothing()
        await session.execute(stmt, [dict(zip(names, row, strict=True)) for row in rows])
    key_columns = [table.c[name] for name in _USAGE_KEY]
    found = await session.execute(
        select(table.c.id, *key_columns, table.c.seconds)
        .where(tuple_(*key_columns).in_(keys))
        .order_by(table.c.id)
        .with_for_update()
    )
    left: dict[FreeKey, int] = {}
    ids: dict[FreeKey, int] = {}
    for usage_id, client_id, sub_id, package_id, month, seconds in found:
        key = (client_id, sub_id, package_id, month)
        left[key] = max(0, allowance[key] - seconds)
        ids[key] = usage_id
    return FreeMinutes(left, ids)


async def _save_free(session: AsyncSession, free: FreeMinutes) -> None:
    """Add what the batch used to its usage rows (locked by :func:`_load_free`)."""
    used = [{"usage": free.ids[key], "used": n} for key, n in sorted(free.used.items()) if n]
    if used:
        table = FreeMinutesUsage.__table__
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("usage"))
            .values(seconds=table.c.seconds + bindparam("used")),
            used,
        )


def _batch_key(call_ids: list[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(call_ids)).encode()).hexdigest()
    return f"cdr:{digest}"


async def ingest(
    session: AsyncSession,
    actor: Actor,
    records: Iterable[tuple[int, CallRecord | str]],
    home_country: str | None = None,
) -> IngestReport:
    """Ingest one batch in the caller's transaction (see the module docstring). Dialled
    numbers are read by ``home_country`` when given, else by each caller's reseller's."""
    actor.require("calls:write")
    home_country = validation.home_country("homeCountry", home_country)
    report = IngestReport()
    good: list[tuple[int, CallRecord]] = []
    later: list[tuple[int, CallRecord]] = []  # rows whose call id an earlier row has
    seen: set[str] = set()
    for row, item in records:
        report.received += 1
        if item.__class__ is str:
            _reject(report, row, item)
            continue
        if item.call_id in seen:
            later.append((row, item))
            continue
        seen.add(item.call_id)
        good.append((row, item))
    if not good:
        return report

    existing = await _existing_call_ids(session, list(seen))
    fresh = good
    if existing:
        fresh = _not_ingested(report, good, existing)
        later = _not_ingested(report, later, existing)
        if not fresh:
            report.issues.sort(key=lambda issue: issue.row)
            return report

    candidates = fresh + later if later else fresh
    by_username, by_number = await _callers(session, actor, candidates)
    by_did = await _dids_called(session, actor, candidates)
    client_ids = {
        c.client_id for c in (*by_username.values(), *by_number.values(), *by_did.values())
    }
    clients = {
        c.id: c
        for c in await session.scalars(
            select(Client).where(Client.id.in_(client_ids), Client.deleted_at.is_(None))
        )
    }
    resellers = {
        r.id: r
        for r in await session.scalars(
            select(Reseller).where(Reseller.id.in_({c.reseller_id for c in clients.values()}))
        )
    }
    pricer = _Pricer()
    await pricer.load(
        session,
        {r.base_deck_id for r in resellers.values() if r.base_deck_id},
        {c.package_id for c in (*by_username.values(),) if c.package_id}
        | {c.package_id for c in clients.values() if c.package_id},
    )

    def matched(pairs: list[tuple[int, CallRecord]]) -> list[_Row]:
        found: list[_Row] = []
        for row, record in pairs:
            caller = by_did.get(record.destination) if record.direction == "inbound" else None
            caller = caller or _match(record, by_username, by_number)
            if caller is not None and caller.client_id not in clients:
                caller = None
            found.append((row, record, caller))
        return found

    turn = matched(fresh)
    waiting = _waiting(matched(later))
    free = await _load_free(
        session,
        [(r, c) for _, r, c in itertools.chain(turn, *waiting.values()) if c is not None],
        clients,
        pricer,
    )
    dids = {d: c.did for d, c in by_did.items()}
    rater = _BatchRater(pricer, clients, resellers, free, dids, home_country)
    rows_by_client: dict[int, list[tuple]] = defaultdict(list)
    while turn:
        refused = await _rate_rows(turn, rater, report, rows_by_client)
        # a refused row leaves its call id to the next row of the batch that has it
        turn = [waiting[call_id].popleft() for call_id in refused if waiting.get(call_id)]
    for row, record, _ in sorted(itertools.chain(*waiting.values()), key=lambda r: r[0]):
        report.duplicates += 1
        report.issues.append(
            RowIssue(row, f"duplicate call id {record.call_id} (earlier in this batch)", True)
        )

    sums = {client_id: _sums(rows) for client_id, rows in rows_by_client.items()}
    for client_id, (calls, seconds, cost, sell) in sums.items():
        currency = resellers[clients[client_id].reseller_id].currency
        totals = report.totals.setdefault(currency, CurrencyTotals(currency))
        totals.calls += calls
        totals.seconds += seconds
        totals.cost += cost
        totals.sell += sell
        report.ingested += calls

    specs, payers = await _entries(session, clients, resellers, rows_by_client, sums)
    async with ledger.posting_many(session, specs, actor) as posted:
        if None in posted:
            raise ConcurrentDelivery()
        entry_ids = {
            client.id: entry_id for (client, _), entry_id in zip(payers, posted, strict=True)
        }
        now = utcnow()
        stored = [
            (rows, (entry_ids.get(client_id), now)) for client_id, rows in rows_by_client.items()
        ]
        await _store(session, stored)
    # the balances moved when the block above ended; the clients' rows are written (status,
    # a drafted invoice) in id order, as the accounts were, so that batches never deadlock
    for client, account in sorted(payers, key=lambda payer: payer[0].id):
        status = client.status
        await accounts.apply_balance_status(session, actor, client, account.balance)
        if client.status != status and client.status == "suspended":
            report.suspended_client_ids.append(client.id)
    for reseller_id in sorted({c.reseller_id for c, _ in payers}):
        reseller = resellers[reseller_id]
        if reseller.billing_model != "commission":  # it paid the calls' cost
            book = await accounts.reseller_account(session, reseller)
            await alerts.reseller_balance_changed(session, reseller, book.balance)
    await _roll_up(session, itertools.chain.from_iterable(rows_by_client.values()))
    await _save_free(session, free)
    report.issues.sort(key=lambda issue: issue.row)
    return report


_Row = tuple[int, CallRecord, _Caller | None]  # a row of the batch, its call, its caller


def _not_ingested(
    report: IngestReport, rows: list[tuple[int, CallRecord]], existing: set[str]
) -> list[tuple[int, CallRecord]]:
    """The rows whose call id is not ``existing``; the others are reported as duplicates."""
    kept = []
    for row, record in rows:
        if record.call_id in existing:
            report.duplicates += 1
            report.issues.append(
                RowIssue(row, f"duplicate call id {record.call_id} (already ingested)", True)
            )
        else:
            kept.append((row, record))
    return kept


def _waiting(rows: list[_Row]) -> dict[str, deque[_Row]]:
    """Rows by call id, in the batch's order."""
    by_id: dict[str, deque[_Row]] = {}
    for item in rows:
        by_id.setdefault(item[1].call_id, deque()).append(item)
    return by_id


async def _rate_rows(
    turn: list[_Row],
    rater: _BatchRater,
    report: IngestReport,
    rows_by_client: dict[int, list[tuple]],
) -> list[str]:
    """Rate the matched rows of ``turn`` into ``rows_by_client``; report the others (unknown
    caller, no rate) and return their call ids."""
    refused: list[str] = []
    rows: list[int] = []
    calls: list[tuple[CallRecord, _Caller]] = []
    for row, record, caller in turn:
        if caller is None:
            _reject(report, row, f"unknown caller {_caller_named(record)}")
            refused.append(record.call_id)
            continue
        rows.append(row)
        calls.append((record, caller))
    for start in range(0, len(calls), RATE_SLICE):
        part = calls[start : start + RATE_SLICE]
        for row, (record, caller), values in zip(
            rows[start : start + RATE_SLICE], part, rater.rate_many(part), strict=True
        ):
            if values.__class__ is str:
                _reject(report, row, values)
                refused.append(record.call_id)
            else:
                rows_by_client[caller.client_id].append(values)
        await asyncio.sleep(0)  # let other work on this event loop go on between slices
    return refused


class ConcurrentDelivery(DomainError):
    """A concurrent batch posted the same calls of a client (its ledger entry's key)."""

    def __init__(self) -> None:
        super().__init__(
            ErrorCode.CONFLICT, "these calls were delivered concurrently; send them again"
        )


_UNIQUE_VIOLATION, _DEADLOCK = "23505", "40P01"
_CALL_ID_CONSTRAINT = next(
    c.name
    for c in Call.__table__.constraints
    if isinstance(c, UniqueConstraint) and [column.name for column in c.columns] == ["call_id"]
)


def delivered_concurrently(exc: BaseException) -> bool:
    """Whether ``exc`` ended a batch because a concurrent batch carried some of its calls: the
    same calls entry (:class:`ConcurrentDelivery`), a call id it stored first (the calls'
    unique constraint), or each waiting for the other's call ids (a deadlock). Ingested again
    once the other batch ended, the batch then finds those calls as duplicates."""
    if isinstance(exc, ConcurrentDelivery):
        return True
    seen: BaseException | None = exc
    while seen is not None:  # the driver's error, as raised or wrapped by SQLAlchemy
        state = getattr(seen, "sqlstate", None)
        if state == _DEADLOCK or (
            state == _UNIQUE_VIOLATION
            and getattr(seen, "constraint_name", None) == _CALL_ID_CONSTRAINT
        ):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _sums(rows: list[tuple]) -> tuple[int, int, int, int]:
    """Calls, answered seconds, cost and sell of stored call rows."""
    seconds = cost = sell = 0
    for v in rows:
        seconds += v[_BILLSEC]
        cost += v[_COST]
        sell += v[_SELL]
    return len(rows), seconds, cost, sell


# a stored call row: the first 22 columns of ``CALL_COLUMNS`` (entry_id and created_at are
# added when the batch is stored)
_STARTED, _DIRECTION, _BILLSEC, _COST, _SELL = 7, 4, 9, 16, 19


class _BatchRater:
    """Rates the calls of one batch: the reference rules of ``_rate_reference`` (``rating``'s
    lookup, pricing and ``rate_call``) with the arithmetic done once per (matched deck rate,
    sell rule) and the charges in integers (``rating.charge_terms``/``charge_exact``): rates
    and percentages as exact fractions, rounded half-up once per charge as ever. The property
    tests compare it with ``_rate_reference`` call by call.

    The prices of a matched deck rate are kept on the object they derive from, which the
    process caches per version (``rating.deck_index``, ``rating.package_pricing``), so they are
    never stale: the package's for the markup rules (keyed by the deck rate and the override
    that applied), the deck index's for at-cost and commission prices."""

    __slots__ = ("clients", "dialled", "did_rates", "free", "pricer", "profiles", "resellers")

    def __init__(
        self,
        pricer: _Pricer,
        clients: dict[int, Client],
        resellers: dict[int, Reseller],
        free: FreeMinutes | None = None,
        dids: dict[str, numbers.InboundRate] | None = None,
        home_country: str | None = None,
    ) -> None:
        self.pricer = pricer
        # reseller id -> how the numbers its clients dial are read (``dialing``)
        self.dialled = {
            r.id: dialing.normalizer(home_country or r.home_country) for r in resellers.values()
        }
        self.clients = clients
        self.resellers = resellers
        self.free = free or FreeMinutes({})
        # an inbound minute on each number dialled, as a rate of the deck (60/60)
        self.did_rates = {
            number: rating.DeckRate(
                number, "Inbound", "", held.inbound_rate_micros, 0, 60, 60, _EPOCH
            )
            for number, held in (dids or {}).items()
            if held.inbound_rate_micros > 0
        }
        # client id -> (reseller id, currency, commission?, deck, package id, personal %)
        self.profiles: dict[int, tuple] = {}

    def _profile(self, client_id: int) -> tuple:
        client = self.clients[client_id]
        reseller = self.resellers[client.reseller_id]
        deck_id = reseller.base_deck_id
        profile = (
            reseller.id,
            reseller.currency,
            reseller.billing_model == "commission",
            self.pricer.decks.get(deck_id) if deck_id else None,
            client.package_id,
            client.personal_rate_pct,
        )
        self.profiles[client.id] = profile
        return profile

    def rate_many(self, calls: list[tuple[CallRecord, _Caller]]) -> list[tuple | str]:
        """The stored columns of each call (of a client of the batch), or why it cannot be
        rated; each deck's rates are looked up for the whole batch at once
        (``DeckIndex.lookup_many``)."""
        profiles = self.profiles
        dialled = self.dialled
        work: list[tuple[CallRecord, _Caller, tuple, str]] = []
        by_deck: dict[rating.DeckIndex, list[int]] = {}
        for record, caller in calls:
            profile = profiles.get(caller.client_id) or self._profile(caller.client_id)
            number = ""
            if record.direction != "inbound":
                number = dialled[profile[0]](record.destination)
                deck = profile[3]
                if deck is not None and number:
                    by_deck.setdefault(deck, []).append(len(work))
            work.append((record, caller, profile, number))
        found: list[rating.DeckRate | None] = [None] * len(work)
        for deck, positions in by_deck.items():
            hits = deck.lookup_many(
                [work[i][3] for i in positions], [work[i][0].started_at for i in positions]
            )
            for i, hit in zip(positions, hits, strict=True):
                found[i] = hit
        rate = self._rate
        return [rate(*item, cost_rate) for item, cost_rate in zip(work, found, strict=True)]

    def _rate(
        self,
        record: CallRecord,
        caller: _Caller,
        profile: tuple,
        number: str,
        cost_rate: rating.DeckRate | None,
    ) -> tuple | str:
        reseller_id, currency, commission, deck, package_id, pct = profile
        free_key = None
        if record.direction == "inbound":
            cost_rate = self.did_rates.get(record.destination) if caller.did else None
            if cost_rate is None:
                return _unrated(record, caller, reseller_id, currency, "inbound")
            return self._rated(record, caller, profile, self._inbound_price(profile, cost_rate))
        destination = record.destination
        if cost_rate is None:
            if record.billsec > 0:
                if deck is None:
                    return "no rate: the reseller has no base rate deck"
                return f"no rate for destination {destination}"
            return _unrated(record, caller, reseller_id, currency, "no_route")
        if commission:
            memo = deck.memo
            key = (id(cost_rate), pct)
            price = memo.get(key)
            if price is None or price[0] is not cost_rate:
                price = _factor_price(cost_rate, cost_rate.rate, pct, cost_rate, "personal")
                if price is None:
                    price = _price(cost_rate, rating.commission_price(cost_rate, pct))
                _remember(memo, key, price)
        else:
            pricing = self.pricer.packages.get(caller.package_id or package_id)
            if pricing is not None and pricing.package.free_minutes > 0:
                free_key = _free_key(record, caller, pricing)
            if pricing is None:
                memo = deck.memo
                key = (id(cost_rate), None)
                price = memo.get(key)
                if price is None or price[0] is not cost_rate:
                    price = _price(cost_rate, _sell_at_cost(cost_rate))
                    _remember(memo, key, price)
            else:
                override, rule = pricing.override_for(number, cost_rate)
                memo = pricing.memo
                key = (id(cost_rate), id(override))
                price = memo.get(key)
                if price is None or price[0] is not cost_rate:
                    price = _package_price(pricing, cost_rate, override, rule)
                    if price is None:
                        price = _price(cost_rate, pricing.price(number, cost_rate))
                    _remember(memo, key, price)
        return self._rated(record, caller, profile, price, free_key)

    def _inbound_price(self, profile: tuple, cost_rate: rating.DeckRate) -> tuple:
        """The price of an inbound minute on a number (``cost_rate``): marked up by the client's
        package (its overrides price dialled destinations, not numbers), or the base rate plus
        the personal percent (commission model), or at cost without a package; rule
        ``inbound``."""
        _, _, commission, _, package_id, pct = profile
        pricing = None if commission else self.pricer.packages.get(package_id)
        if pricing is None:
            base, pct, increments = cost_rate.rate, pct if commission else _ZERO_PCT, cost_rate
        else:
            package = pricing.package
            base, pct, increments = (
                cost_rate.rate + package.markup_fixed,
                package.markup_pct,
                package,
            )
        price = _factor_price(cost_rate, base, pct, increments, "inbound")
        if price is None:  # below zero: the reference arithmetic
            factor = 1 + Decimal(pct) / 100
            sell = rating.SellPrice(
                base * factor,
                cost_rate.connection_fee * factor,
                increments.first_increment,
                increments.increment,
                "inbound",
            )
            price = _price(cost_rate, sell)
        return price

    def _rated(
        self,
        record: CallRecord,
        caller: _Caller,
        profile: tuple,
        price: tuple,
        free_key: FreeKey | None = None,
    ) -> tuple:
        """The stored columns of a call at ``price`` (what ``_price`` and its kin give)."""
        reseller_id, currency = profile[0], profile[1]
        (_, prefix, name, cost_micros, c_first, c_inc, c_terms, sell_rate, s_first, s_inc, s_terms,
         rule) = price  # fmt: skip
        billsec = record.billsec
        free = 0
        if billsec > 0:
            cost_billed = rating.billed_seconds(billsec, c_first, c_inc)
            sell_billed = rating.billed_seconds(billsec, s_first, s_inc)
            cost = rating.charge_exact(c_terms, cost_billed)
            if free_key is not None:
                free = self.free.take(free_key, sell_billed)
            sell = rating.charge_exact(s_terms, sell_billed - free)
        else:
            cost_billed = sell_billed = cost = sell = 0
        return (
            record.call_id,
            reseller_id,
            caller.client_id,
            caller.sub_account_id,
            record.direction,
            record.a_number,
            record.destination,
            record.started_at,
            record.duration,
            billsec,
            record.disposition,
            prefix,
            name,
            currency,
            cost_micros,
            cost_billed,
            cost,
            sell_rate,
            sell_billed,
            sell,
            rule,
            free,
        )


_MEMO_MAX = 100_000
_ZERO_PCT = Decimal(0)
_factors: dict[Decimal, tuple[int, int]] = {}


def _remember(memo: dict, key: Any, price: tuple) -> None:
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = price


def _factor(pct: Decimal) -> tuple[int, int]:
    """``1 + pct / 100`` as an exact fraction (numerator, denominator)."""
    found = _factors.get(pct)
    if found is None:
        if len(_factors) > 10_000:
            _factors.clear()
        found = _factors[pct] = (1 + Decimal(pct) / 100).as_integer_ratio()
    return found


def _quantized(numerator: int, denominator: int) -> Decimal:
    """``numerator / denominator`` to six places, half-even, as ``Decimal.quantize`` does
    (for a non-negative value)."""
    scaled, rest = divmod(numerator * 1_000_000, denominator)
    if 2 * rest > denominator or (2 * rest == denominator and scaled & 1):
        scaled += 1
    return Decimal(scaled).scaleb(-6)


def _factor_price(
    cost: rating.DeckRate, base: int, pct: Decimal, increments: Any, rule: str
) -> tuple | None:
    """The price of ``(base per minute, the deck rate's fee) x (1 + pct/100)`` in exact
    integers, or None when it is negative (left to the reference arithmetic)."""
    num, den = _factor(pct)
    rate_num = base * num
    fee_num = cost.connection_fee * num
    if rate_num < 0 or fee_num < 0:
        return None
    if rule == "personal" and pct == _ZERO_PCT:
        rule = "base"
    return (
        cost,
        cost.prefix,
        cost.destination[:200],
        cost.rate,
        cost.first_increment,
        cost.increment,
        (cost.rate, cost.connection_fee * 60, 60),
        _quantized(rate_num, den),
        increments.first_increment,
        increments.increment,
        (rate_num, fee_num * 60, 60 * den),
        rule,
    )


def _package_price(
    pricing: rating.PackagePricing, cost: rating.DeckRate, override: Any, rule: str
) -> tuple | None:
    """``PackagePricing.price`` in exact integers (None: use the reference arithmetic)."""
    package = pricing.package
    if override is None:
        return _factor_price(
            cost, cost.rate + package.markup_fixed, package.markup_pct, package, "markup"
        )
    rate, fee = override.rate, override.connection_fee
    if rate.__class__ is not int or fee.__class__ is not int or rate < 0:
        return None
    return (
        cost,
        cost.prefix,
        cost.destination[:200],
        cost.rate,
        cost.first_increment,
        cost.increment,
        (cost.rate, cost.connection_fee * 60, 60),
        _quantized(rate, 1),
        package.first_increment,
        package.increment,
        (rate, fee * 60, 60),
        rule,
    )


def _price(cost: rating.DeckRate, sell: rating.SellPrice) -> tuple:
    """What a call matched to ``cost`` and sold at ``sell`` needs (reference arithmetic)."""
    return (
        cost,
        cost.prefix,
        cost.destination[:200],
        cost.rate,
        cost.first_increment,
        cost.increment,
        rating.charge_terms(cost.rate, cost.connection_fee),
        Decimal(sell.rate).quantize(_RATE_PLACES),
        sell.first_increment,
        sell.increment,
        rating.charge_terms(sell.rate, sell.connection_fee),
        sell.rule,
    )


def _unrated(
    record: CallRecord, caller: _Caller, reseller_id: int, currency: str, rule: str
) -> tuple:
    return (
        record.call_id,
        reseller_id,
        caller.client_id,
        caller.sub_account_id,
        record.direction,
        record.a_number,
        record.destination,
        record.started_at,
        record.duration,
        record.billsec,
        record.disposition,
        "",
        "",
        currency,
        0,
        0,
        0,
        Decimal(0),
        0,
        0,
        rule,
        0,
    )


def _rate_reference(
    pricer: _Pricer,
    record: CallRecord,
    caller: _Caller,
    client: Client,
    reseller: Reseller,
) -> dict[str, Any] | str:
    """The stored columns of one call, or why it cannot be rated, straight from the rules of
    ``rating`` (Decimal prices, ``rating.rate_call``): what ``_BatchRater`` must equal."""
    values: dict[str, Any] = {
        "call_id": record.call_id,
        "reseller_id": reseller.id,
        "client_id": client.id,
        "sub_account_id": caller.sub_account_id,
        "direction": record.direction,
        "a_number": record.a_number,
        "destination": record.destination,
        "started_at": record.started_at,
        "duration": record.duration,
        "billsec": record.billsec,
        "disposition": record.disposition,
        "matched_prefix": "",
        "destination_name": "",
        "currency": reseller.currency,
        "cost_rate": 0,
        "cost_billed": 0,
        "cost": 0,
        "sell_rate": Decimal(0),
        "sell_billed": 0,
        "sell": 0,
        "rule": "",
        "free_seconds": 0,  # free minutes are a batch's state, applied by ``_BatchRater``
    }
    if record.direction == "inbound":
        values["rule"] = "inbound"
        return values
    number = dialing.normalize(record.destination, reseller.home_country)
    deck = pricer.decks.get(reseller.base_deck_id) if reseller.base_deck_id else None
    cost_rate = deck.lookup(number, record.started_at) if deck is not None and number else None
    if cost_rate is None:
        if record.billsec > 0:
            if deck is None:
                return "no rate: the reseller has no base rate deck"
            return f"no rate for destination {record.destination}"
        values["rule"] = "no_route"
        return values
    if reseller.billing_model == "commission":
        sell = rating.commission_price(cost_rate, client.personal_rate_pct)
    else:
        package_id = caller.package_id or client.package_id
        pricing = pricer.packages.get(package_id) if package_id else None
        sell = pricing.price(number, cost_rate) if pricing else _sell_at_cost(cost_rate)
    rated = rating.rate_call(cost_rate, sell, record.billsec)
    values.update(
        matched_prefix=cost_rate.prefix,
        destination_name=cost_rate.destination[:200],
        cost_rate=cost_rate.rate,
        cost_billed=rated.cost_billed,
        cost=rated.cost,
        sell_rate=Decimal(sell.rate).quantize(_RATE_PLACES),
        sell_billed=rated.sell_billed,
        sell=rated.sell_amount,
        rule=sell.rule,
    )
    return values


async def _ledger_accounts(
    session: AsyncSession, clients: list[Client], resellers: dict[int, Reseller]
) -> dict[str, Account]:
    """The ledger accounts the batch posts to, by key: read in one query; one missing is
    created on first use (``ledger.account``)."""
    wanted: dict[str, Callable[[], Any]] = {}
    for client in clients:
        reseller = resellers[client.reseller_id]
        currency = reseller.currency
        wanted[accounts.client_account_key(client.id)] = lambda c=client, cur=currency: (
            accounts.client_account(session, c, cur)
        )
        wanted[f"operator:sales:{currency}"] = lambda cur=currency: operator_account(
            session, "sales", cur
        )
        if reseller.billing_model != "commission":
            wanted[f"reseller:{reseller.id}:sales"] = lambda r=reseller: reseller_book_account(
                session, r, "sales"
            )
            wanted[accounts.reseller_account_key(reseller.id)] = lambda r=reseller: (
                accounts.reseller_account(session, r)
            )
    found = {
        a.key: a
        for a in await session.scalars(select(Account).where(Account.key.in_(list(wanted))))
    }
    for key, make in wanted.items():
        if key not in found:
            found[key] = await make()
    return found


async def _entries(
    session: AsyncSession,
    clients: dict[int, Client],
    resellers: dict[int, Reseller],
    rows_by_client: dict[int, list[tuple]],
    sums: dict[int, tuple[int, int, int, int]],
) -> tuple[list[ledger.EntrySpec], list[tuple[Client, Account]]]:
    """One ledger entry per client for its calls of the batch, of the client's ``_sums`` (the
    posting rules of the module docstring), with the client and its ledger account; none for a
    client whose calls were all free."""
    specs: list[ledger.EntrySpec] = []
    charged: list[tuple[Client, Reseller, int, int]] = []
    for client_id, (_, _, cost, sell) in sums.items():
        client = clients[client_id]
        reseller = resellers[client.reseller_id]
        if not sell and (reseller.billing_model == "commission" or not cost):
            continue
        charged.append((client, reseller, sell, cost))
    if not charged:
        return [], []
    book = await _ledger_accounts(session, [c for c, *_ in charged], resellers)
    payers: list[tuple[Client, Account]] = []
    for client, reseller, sell, cost in charged:
        currency = reseller.currency
        client_acc = book[accounts.client_account_key(client.id)]
        operator_sales = book[f"operator:sales:{currency}"]
        if reseller.billing_model == "commission":
            legs = [Leg(client_acc, -sell), Leg(operator_sales, sell)]
        else:
            legs = [
                Leg(client_acc, -sell),
                Leg(book[f"reseller:{reseller.id}:sales"], sell),
                Leg(book[accounts.reseller_account_key(reseller.id)], -cost),
                Leg(operator_sales, cost),
            ]
        rows = rows_by_client[client.id]
        key = _batch_key([v[0] for v in rows])
        specs.append(
            ledger.EntrySpec(
                kind="calls",
                currency=currency,
                amount=sell,
                legs=legs,
                idem=Idempotency(IDEM_SCOPE, key, key.removeprefix("cdr:")),
                reseller_id=reseller.id,
                client_id=client.id,
                memo=f"{len(rows)} call{'s' if len(rows) != 1 else ''}",
            )
        )
        payers.append((client, client_acc))
    return specs, payers


CALL_COLUMNS = (
    "call_id",
    "reseller_id",
    "client_id",
    "sub_account_id",
    "direction",
    "a_number",
    "destination",
    "started_at",
    "duration",
    "billsec",
    "disposition",
    "matched_prefix",
    "destination_name",
    "currency",
    "cost_rate",
    "cost_billed",
    "cost",
    "sell_rate",
    "sell_billed",
    "sell",
    "rule",
    "free_seconds",
    "entry_id",
    "created_at",
)


def copy_types(table: Any, columns: Iterable[str]) -> str:
    """The types of ``columns`` of ``table`` as ``_copy.encode`` spells them."""
    letters = []
    for name in columns:
        kind = table.c[name].type
        kind = getattr(kind, "impl_instance", kind)  # a TypeDecorator: what it stores
        for base, letter in _COPY_LETTERS:
            if isinstance(kind, base):
                letters.append(letter)
                break
        else:
            raise TypeError(f"no COPY encoding for {table.name}.{name} ({kind!r})")
    return "".join(letters)


_COPY_LETTERS = ((BigInteger, "q"), (Integer, "i"), (Numeric, "n"), (String, "t"), (DateTime, "T"))
_CALL_TYPES = copy_types(Call.__table__, CALL_COLUMNS)


async def _store(session: AsyncSession, groups: list[tuple[list[tuple], tuple]]) -> None:
    """Bulk insert of ``(rows, tail)`` groups, each row followed by its group's tail (entry id,
    created at) in ``CALL_COLUMNS`` order: a binary ``COPY`` on PostgreSQL (asyncpg, same
    connection and transaction) encoded by ``_copy.encode``, Core executemany in chunks
    elsewhere."""
    if not any(rows for rows, _ in groups):
        return
    if session.get_bind().dialect.name == "postgresql":
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if driver is not None and hasattr(driver, "copy_to_table"):
            await driver.copy_to_table(
                Call.__tablename__,
                source=memoryview(_copy.encode(groups, _CALL_TYPES)),  # not bytes: a path
                columns=list(CALL_COLUMNS),
                format="binary",
            )
            return
    rows = [(*row, *tail) for rows, tail in groups for row in rows]
    for start in range(0, len(rows), CHUNK):
        chunk = [dict(zip(CALL_COLUMNS, row, strict=True)) for row in rows[start : start + CHUNK]]
        await session.execute(insert(Call.__table__), chunk)


_ROLLUP_KEY = ("reseller_id", "client_id", "day", "direction")
_ROLLUP_SUMS = ("calls", "seconds", "cost", "sell")


def _adding_to_rollups(stmt: Any) -> Any:
    """``stmt``, an insert into ``call_rollups``, adding to the totals of a row that exists."""
    table = CallRollup.__table__
    return stmt.on_conflict_do_update(
        index_elements=list(_ROLLUP_KEY),
        set_={name: table.c[name] + stmt.excluded[name] for name in _ROLLUP_SUMS},
    )


async def _roll_up(session: AsyncSession, rows: Iterable[tuple]) -> None:
    """Add the calls to their rollups (in key order, so that two batches never deadlock): one
    ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE`` on PostgreSQL, an executemany
    of the same upsert elsewhere."""
    sums: dict[tuple[int, int, Any, str], list[int]] = {}
    for v in rows:
        started: datetime = v[_STARTED]
        key = (v[1], v[2], started.date(), v[_DIRECTION])
        acc = sums.get(key)
        if acc is None:
            acc = sums[key] = [0, 0, 0, 0]
        acc[0] += 1
        acc[1] += v[_BILLSEC]
        acc[2] += v[_COST]
        acc[3] += v[_SELL]
    if not sums:
        return
    names = (*_ROLLUP_KEY, *_ROLLUP_SUMS)
    values = [(*key, *acc) for key, acc in sorted(sums.items())]
    table = CallRollup.__table__
    if session.get_bind().dialect.name == "postgresql":
        stmt = _adding_to_rollups(unnest_insert(table, names))
        await session.execute(stmt, unnest_params(names, values))
        return
    stmt = _adding_to_rollups(sqlite.insert(table))
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        await session.execute(stmt, [dict(zip(names, v, strict=True)) for v in chunk])
