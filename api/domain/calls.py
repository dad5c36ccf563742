"""CDR ingestion: match each finished call to its caller, rate it twice, store it, post it.

A batch (a GraphQL request, one HTTP delivery, or a chunk of a CSV import) is one transaction:

1. Rows the reader refused, and calls whose id was seen before (in the database or earlier in
   the batch), are reported with their row number and skipped; the rest of the batch lands.
2. Each call is matched to its caller: its sub-account by SIP username, else its client by
   A-number (``client_numbers``). The lookup is scoped: a reseller's API token only finds the
   callers of its own reseller (any other is "unknown caller"); the operator and the system
   find any. A call of a deleted client is "unknown caller" too.
3. Rating (``api.domain.rating``), at the moment the call started:
   cost = the reseller's base deck (deck rate, deck increments);
   sell, markup model = the sub-account's package, else the client's package; without a
   package the client is sold at cost (rule ``cost``);
   sell, commission model = the base rate plus the client's personal percent.
   Each side of each call is rounded once, half-up, to the micro (``rating.charge``). An
   answered outbound call with no route in the deck is refused ("no rate"); an unanswered one
   is stored at zero. Inbound calls are recorded at zero (rule ``inbound``): DIDs and their
   per-minute rates come with the numbers issue.
4. Posting rules, one ledger entry per client per batch (kind ``calls``), whose amount is the
   exact sum of the calls' sell amounts, so no cent is lost to rounding across a batch:

   markup:      client:N -sell, reseller:R:sales +sell   (the client pays the reseller)
                reseller:R -cost, operator:sales:CUR +cost  (the reseller pays the operator)
   commission:  client:N -sell, operator:sales:CUR +sell  (the operator holds the balance)

   No floor applies: the calls already happened, so balances may go below zero. The entry's
   idempotency key (scope ``calls``) is a digest of the batch's call ids of that client. Each
   stored call names its entry (``calls.entry_id``). Afterwards the billing-mode status rule
   runs (``accounts.apply_balance_status``): a strict prepaid client at or below zero is
   suspended.
5. Calls are bulk inserted (Core ``insert``, executemany, in chunks), and the rollups
   ``call_rollups`` (reseller, client, UTC day, direction: calls, billed seconds, cost, sell)
   are upserted (``INSERT … ON CONFLICT DO UPDATE``) in the same transaction.

A concurrent batch delivering the same calls fails on the calls' unique call id and rolls back
whole; delivering it again then reports every call as a duplicate.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, any_, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from api.domain import accounts, ledger, rating
from api.domain.actors import Actor
from api.domain.cdr_formats import CallRecord
from api.domain.ledger import Idempotency, Leg
from api.domain.payments import operator_account, reseller_book_account
from api.models import Account, Call, CallRollup, Client, ClientNumber, Reseller, SubAccount
from api.models.base import utcnow

CHUNK = 1000
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


def _reject(report: IngestReport, row: int, message: str) -> None:
    report.rejected += 1
    report.issues.append(RowIssue(row, message))


async def _existing_call_ids(session: AsyncSession, ids: list[str]) -> set[str]:
    found: set[str] = set()
    if session.get_bind().dialect.name == "postgresql":  # one array parameter, any length
        column = Call.call_id
        stmt = select(column).where(column == any_(bindparam("ids", type_=ARRAY(String))))
        found.update(await session.scalars(stmt, {"ids": ids}))
        return found
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found.update(await session.scalars(select(Call.call_id).where(Call.call_id.in_(chunk))))
    return found


async def _callers(
    session: AsyncSession, actor: Actor, records: list[tuple[int, CallRecord]]
) -> tuple[dict[str, _Caller], dict[str, _Caller]]:
    """Sub-accounts by username and client numbers by number, of the batch, in scope."""
    usernames = sorted({r.sub_account for _, r in records if r.sub_account})
    numbers = sorted(
        {n for _, r in records if r.a_number for n in (r.a_number, _digits(r.a_number)) if n}
    )
    scoped = None if actor.is_operator else actor.reseller_id
    by_username: dict[str, _Caller] = {}
    for start in range(0, len(usernames), CHUNK):
        stmt = select(
            SubAccount.username,
            SubAccount.client_id,
            SubAccount.reseller_id,
            SubAccount.id,
            SubAccount.package_id,
        ).where(SubAccount.username.in_(usernames[start : start + CHUNK]))
        if scoped is not None:
            stmt = stmt.where(SubAccount.reseller_id == scoped)
        for username, client_id, reseller_id, sub_id, package_id in await session.execute(stmt):
            by_username[username] = _Caller(client_id, reseller_id, sub_id, package_id)
    by_number: dict[str, _Caller] = {}
    for start in range(0, len(numbers), CHUNK):
        stmt = select(ClientNumber.number, ClientNumber.client_id, ClientNumber.reseller_id).where(
            ClientNumber.number.in_(numbers[start : start + CHUNK])
        )
        if scoped is not None:
            stmt = stmt.where(ClientNumber.reseller_id == scoped)
        for number, client_id, reseller_id in await session.execute(stmt):
            by_number[number] = _Caller(client_id, reseller_id, None, None)
    return by_username, by_number


def _digits(number: str) -> str:
    return rating.normalize_number(number)


def _match(
    record: CallRecord, by_username: dict[str, _Caller], by_number: dict[str, _Caller]
) -> _Caller | None:
    if record.sub_account and record.sub_account in by_username:
        return by_username[record.sub_account]
    if record.a_number:
        return by_number.get(record.a_number) or by_number.get(_digits(record.a_number))
    return None


class _Pricer:
    """Deck indexes and package pricing, read once per batch (before the rating loop, so that
    rating itself is plain synchronous Python)."""

    def __init__(self) -> None:
        self.decks: dict[int, rating.DeckIndex] = {}
        self.packages: dict[int, rating.PackagePricing | None] = {}

    async def load(self, session: AsyncSession, deck_ids: set[int], package_ids: set[int]) -> None:
        for deck_id in deck_ids:
            self.decks[deck_id] = await rating.deck_index(session, deck_id)
        for package_id in package_ids:
            self.packages[package_id] = await rating.package_pricing(session, package_id)


def _sell_at_cost(cost: rating.DeckRate) -> rating.SellPrice:
    return rating.SellPrice(
        Decimal(cost.rate),
        Decimal(cost.connection_fee),
        cost.first_increment,
        cost.increment,
        "cost",
    )


def _batch_key(call_ids: list[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(call_ids)).encode()).hexdigest()
    return f"cdr:{digest}"


async def ingest(
    session: AsyncSession,
    actor: Actor,
    records: Iterable[tuple[int, CallRecord | str]],
) -> IngestReport:
    """Ingest one batch in the caller's transaction (see the module docstring)."""
    actor.require("calls:write")
    report = IngestReport()
    good: list[tuple[int, CallRecord]] = []
    seen: set[str] = set()
    for row, item in records:
        report.received += 1
        if isinstance(item, str):
            _reject(report, row, item)
            continue
        if item.call_id in seen:
            report.duplicates += 1
            report.issues.append(
                RowIssue(row, f"duplicate call id {item.call_id} (earlier in this batch)", True)
            )
            continue
        seen.add(item.call_id)
        good.append((row, item))
    if not good:
        return report

    existing = await _existing_call_ids(session, [r.call_id for _, r in good])
    fresh: list[tuple[int, CallRecord]] = []
    for row, record in good:
        if record.call_id in existing:
            report.duplicates += 1
            report.issues.append(
                RowIssue(row, f"duplicate call id {record.call_id} (already ingested)", True)
            )
        else:
            fresh.append((row, record))
    if not fresh:
        return report

    by_username, by_number = await _callers(session, actor, fresh)
    client_ids = {c.client_id for c in (*by_username.values(), *by_number.values())}
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
    rows_by_client: dict[int, list[dict[str, Any]]] = defaultdict(list)

    for row, record in fresh:
        caller = _match(record, by_username, by_number)
        client = clients.get(caller.client_id) if caller else None
        if caller is None or client is None:
            who = record.sub_account or record.a_number
            _reject(report, row, f"unknown caller {who}")
            continue
        reseller = resellers[client.reseller_id]
        values = _rate(pricer, record, caller, client, reseller)
        if isinstance(values, str):
            _reject(report, row, values)
            continue
        rows_by_client[client.id].append(values)

    for client_id, rows in rows_by_client.items():
        client = clients[client_id]
        reseller = resellers[client.reseller_id]
        entry_id = await _post(session, actor, client, reseller, rows, report)
        for values in rows:
            values["entry_id"] = entry_id
        totals = report.totals.setdefault(reseller.currency, CurrencyTotals(reseller.currency))
        totals.calls += len(rows)
        totals.seconds += sum(v["billsec"] for v in rows)
        totals.cost += sum(v["cost"] for v in rows)
        totals.sell += sum(v["sell"] for v in rows)
        report.ingested += len(rows)

    all_rows = [v for rows in rows_by_client.values() for v in rows]
    await _store(session, all_rows)
    await _roll_up(session, all_rows)
    report.issues.sort(key=lambda issue: issue.row)
    return report


def _rate(
    pricer: _Pricer,
    record: CallRecord,
    caller: _Caller,
    client: Client,
    reseller: Reseller,
) -> dict[str, Any] | str:
    """The stored columns of one call, or why it cannot be rated."""
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
        "entry_id": None,
    }
    if record.direction == "inbound":
        values["rule"] = "inbound"
        return values
    number = rating.normalize_number(record.destination)
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


class _Accounts:
    """Ledger accounts of a batch, looked up once."""

    def __init__(self) -> None:
        self.cache: dict[str, Account] = {}

    async def get(self, key: str, make: Callable[[], Any]) -> Account:
        if key not in self.cache:
            self.cache[key] = await make()
        return self.cache[key]


async def _post(
    session: AsyncSession,
    actor: Actor,
    client: Client,
    reseller: Reseller,
    rows: list[dict[str, Any]],
    report: IngestReport,
) -> int | None:
    """One ledger entry for this client's calls of the batch; its id, or None when free."""
    sell = sum(v["sell"] for v in rows)
    cost = sum(v["cost"] for v in rows)
    commission = reseller.billing_model == "commission"
    if not sell and (commission or not cost):
        return None
    currency = reseller.currency
    client_acc = await accounts.client_account(session, client, currency)
    operator_sales = await operator_account(session, "sales", currency)
    if commission:
        legs = [Leg(client_acc, -sell), Leg(operator_sales, sell)]
    else:
        legs = [
            Leg(client_acc, -sell),
            Leg(await reseller_book_account(session, reseller, "sales"), sell),
            Leg(await accounts.reseller_account(session, reseller), -cost),
            Leg(operator_sales, cost),
        ]
    call_ids = [v["call_id"] for v in rows]
    key = _batch_key(call_ids)
    idem = Idempotency(IDEM_SCOPE, key, key.removeprefix("cdr:"))
    posted = await ledger.post(
        session,
        kind="calls",
        currency=currency,
        amount=sell,
        legs=legs,
        idem=idem,
        actor=actor,
        reseller_id=reseller.id,
        client_id=client.id,
        memo=f"{len(rows)} call{'s' if len(rows) != 1 else ''}",
    )
    if posted.replayed:
        from api.domain.errors import DomainError, ErrorCode

        raise DomainError(
            ErrorCode.CONFLICT, "these calls were delivered concurrently; send them again"
        )
    status = client.status
    await accounts.apply_balance_status(session, actor, client, client_acc.balance)
    if client.status != status and client.status == "suspended":
        report.suspended_client_ids.append(client.id)
    return posted.entry.id


_COPY_COLUMNS = (
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
    "entry_id",
    "created_at",
)


async def _store(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Bulk insert: ``COPY`` on PostgreSQL (asyncpg, same connection and transaction), Core
    executemany in chunks elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        now = utcnow()
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if driver is not None and hasattr(driver, "copy_records_to_table"):
            records = [
                tuple(now if c == "created_at" else v[c] for c in _COPY_COLUMNS) for v in rows
            ]
            await driver.copy_records_to_table(
                Call.__tablename__, records=records, columns=list(_COPY_COLUMNS)
            )
            return
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(Call), rows[start : start + CHUNK])


def _upsert(session: AsyncSession):
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


async def _roll_up(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    sums: dict[tuple[int, int, Any, str], list[int]] = {}
    for v in rows:
        started: datetime = v["started_at"]
        key = (v["reseller_id"], v["client_id"], started.date(), v["direction"])
        acc = sums.setdefault(key, [0, 0, 0, 0])
        acc[0] += 1
        acc[1] += v["billsec"]
        acc[2] += v["cost"]
        acc[3] += v["sell"]
    if not sums:
        return
    values = [
        {
            "reseller_id": rid,
            "client_id": cid,
            "day": day,
            "direction": direction,
            "calls": n,
            "seconds": seconds,
            "cost": cost,
            "sell": sell,
        }
        for (rid, cid, day, direction), (n, seconds, cost, sell) in sorted(sums.items())
    ]
    dialect_insert = _upsert(session)
    stmt = dialect_insert(CallRollup)
    stmt = stmt.on_conflict_do_update(
        index_elements=["reseller_id", "client_id", "day", "direction"],
        set_={
            "calls": CallRollup.calls + stmt.excluded.calls,
            "seconds": CallRollup.seconds + stmt.excluded.seconds,
            "cost": CallRollup.cost + stmt.excluded.cost,
            "sell": CallRollup.sell + stmt.excluded.sell,
        },
    )
    for start in range(0, len(values), CHUNK):
        await session.execute(stmt, values[start : start + CHUNK])
