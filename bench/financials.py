"""The monthly financial report (``api.domain.financials.report``) of one reseller, with its
days and per-client breakdown, over many calls and ledger entries, beside the scan it
replaces: the same figures computed from the postings (joined to their entries and accounts)
and from the calls, in the same run, and checked equal.

Data: the calls of ``bench.reports`` (its loader: 5,000,000 calls on PostgreSQL, 500,000 on
SQLite, of ~1,000 clients of three markup resellers over six months, COPY-loaded, then their
``call_rollups``), plus 100,000 ledger entries written through the ledger's batch path
(``ledger.post_many``, so the ledger rollups are the real ones), a mix of client payments,
manual charges, call charges, monthly fees, reseller top-ups and number costs spread over the
same six months: the ledger's clock (``api.domain.ledger.utcnow``) is set to each day in turn.
``DIALTONE_BENCH_FINANCIAL_CALLS`` / ``DIALTONE_BENCH_FINANCIAL_ENTRIES`` change the counts.

Printed: ``report_ms`` (median of the report), ``scan_ms`` (median of the scan),
``ratio_scan_to_report`` and whether their figures matched."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

import api.domain.ledger as ledger_module
from api.db import create_engine, session_factory, transaction
from api.domain import accounts, financials, ledger, payments
from api.domain.actors import RESELLER_OWNER_PERMISSIONS, SYSTEM, Actor
from api.domain.ledger import EntrySpec, Idempotency, Leg
from api.models import Client, Reseller
from bench import reports
from bench.support import fresh_database

ENTRIES = 100_000
MONTH = "2024-04"
RUNS = 15
SCAN_RUNS = 5
BATCH = 1000
DAYS = (reports.END - reports.START).days

# kind, weight, amount range in micros
MIX = [
    ("client_payment", 20, (5_000_000, 50_000_000)),
    ("client_charge", 10, (100_000, 5_000_000)),
    ("calls", 50, (10_000, 2_000_000)),
    ("package_monthly_fee", 10, (1_000_000, 10_000_000)),
    ("reseller_deposit", 5, (100_000_000, 500_000_000)),
    ("did_monthly_cost", 5, (500_000, 3_000_000)),
]


def say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


async def _books(sessions, callers) -> tuple[dict[int, Reseller], dict, dict]:
    """Every account the entries post to, created once."""
    client_accounts, reseller_books = {}, {}
    async with transaction(sessions) as s:
        resellers = {r.id: r for r in await s.scalars(select(Reseller))}
        clients = {c.id: c for c in await s.scalars(select(Client))}
        for _, client_id, _ in callers:
            client = clients[client_id]
            cur = resellers[client.reseller_id].currency
            client_accounts[client_id] = await accounts.client_account(s, client, cur)
        for r in resellers.values():
            reseller_books[r.id] = {
                "reseller": await accounts.reseller_account(s, r),
                "sales": await payments.reseller_book_account(s, r, "sales"),
                "receipts": await payments.reseller_book_account(s, r, "receipts"),
                "fees": await payments.reseller_book_account(s, r, "fees"),
                "operator_sales": await payments.operator_account(s, "sales", r.currency),
                "operator_deposits": await payments.operator_account(s, "deposits", r.currency),
                "operator_did_fees": await payments.operator_account(s, "did_fees", r.currency),
            }
    return resellers, client_accounts, reseller_books


def _spec(n: int, kind: str, amount: int, reseller: Reseller, client_id, acc, books):
    b = books[reseller.id]
    client_level = kind not in ("reseller_deposit", "did_monthly_cost")
    if kind == "client_payment":
        legs = [Leg(acc, amount), Leg(b["receipts"], -amount)]
    elif kind == "client_charge":
        legs = [Leg(acc, -amount), Leg(b["sales"], amount)]
    elif kind == "calls":
        cost = amount * 5 // 6
        legs = [
            Leg(acc, -amount),
            Leg(b["sales"], amount),
            Leg(b["reseller"], -cost),
            Leg(b["operator_sales"], cost),
        ]
    elif kind == "package_monthly_fee":
        legs = [Leg(acc, -amount), Leg(b["fees"], amount)]
    elif kind == "reseller_deposit":
        legs = [Leg(b["reseller"], amount), Leg(b["operator_deposits"], -amount)]
    else:  # did_monthly_cost
        legs = [Leg(b["reseller"], -amount), Leg(b["operator_did_fees"], amount)]
    key = f"bench-{n}"
    return EntrySpec(
        kind=kind,
        currency=reseller.currency,
        amount=amount,
        legs=legs,
        idem=Idempotency("bench", key, key),
        reseller_id=reseller.id,
        client_id=client_id if client_level else None,
        memo="bench",
    )


async def post_entries(sessions, callers, total: int) -> float:
    """``total`` entries in batches through ``ledger.post_many``, spread over the six months
    (one day per batch, in order); the seconds it took."""
    rng = random.Random(11)
    resellers, client_accounts, books = await _books(sessions, callers)
    kinds = [k for k, w, _ in MIX for _ in range(w)]
    ranges = {k: r for k, _, r in MIX}
    batches = max(1, -(-total // BATCH))
    started = time.perf_counter()
    real_clock = ledger_module.utcnow
    try:
        n = 0
        for b in range(batches):
            day = reports.START + timedelta(days=b * DAYS // batches, hours=rng.randrange(24))
            ledger_module.utcnow = lambda day=day: day
            specs = []
            for _ in range(min(BATCH, total - n)):
                reseller_id, client_id, _ = callers[rng.randrange(len(callers))]
                kind = kinds[rng.randrange(len(kinds))]
                amount = rng.randrange(*ranges[kind])
                acc = client_accounts[client_id]
                specs.append(_spec(n, kind, amount, resellers[reseller_id], client_id, acc, books))
                n += 1
            async with transaction(sessions) as s:
                await ledger.post_many(s, specs, SYSTEM)
            if (b + 1) % max(1, batches // 10) == 0:
                say(f"ledger entries posted: {n:,}/{total:,}")
    finally:
        ledger_module.utcnow = real_clock
    return time.perf_counter() - started


def _scan_sql(postgres: bool, group: str) -> tuple[str, str]:
    """The figures' inputs straight from the postings and the calls, grouped by ``group``
    (day or client): what the report would have to read without rollups."""
    if postgres:
        entry_day, call_day = (
            "(e.created_at AT TIME ZONE 'UTC')::date",
            "(started_at AT TIME ZONE 'UTC')::date",
        )
    else:
        entry_day, call_day = "date(e.created_at)", "date(started_at)"
    money_group = entry_day if group == "day" else "coalesce(e.client_id, 0)"
    call_group = call_day if group == "day" else "client_id"
    money = (
        f"SELECT {money_group}, e.reseller_id, a.kind, e.kind, e.client_id IS NULL,"
        " sum(p.amount) FROM postings p JOIN ledger_entries e ON e.id = p.entry_id"
        " JOIN accounts a ON a.id = p.account_id WHERE e.reseller_id = :r"
        " AND e.created_at >= :start AND e.created_at < :end"
        f" GROUP BY {money_group}, e.reseller_id, a.kind, e.kind, e.client_id IS NULL"
    )
    calls = (
        f"SELECT {call_group}, reseller_id, count(*), sum(billsec) FROM calls"
        " WHERE reseller_id = :r AND started_at >= :start AND started_at < :end"
        f" GROUP BY {call_group}, reseller_id"
    )
    return money, calls


async def scan(session, postgres: bool, reseller: Reseller, start, end) -> dict:
    """The month's totals, per day and per client, from the scans (the report's rules)."""
    params = {"r": reseller.id, "start": start, "end": end}
    if not postgres:
        params = {**params, "start": _sqlite_time(start), "end": _sqlite_time(end)}
    out = {}
    for group in ("day", "client"):
        money_sql, calls_sql = _scan_sql(postgres, group)
        acc = financials._Accumulator({reseller.id: reseller})
        for g, rid, account_kind, kind, no_client, total in await session.execute(
            text(money_sql), params
        ):
            acc.add_money(g, rid, account_kind, kind, bool(no_client), total)
        for g, rid, n, seconds in await session.execute(text(calls_sql), params):
            figures = acc.figures(g, rid)
            figures.calls += int(n)
            figures.seconds += int(seconds or 0)
        acc.finish()
        out[group] = acc.raw
    return out


def _sqlite_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _figures(f: financials.Figures) -> tuple:
    return (*(getattr(f, n) for n in financials.Figures.__dataclass_fields__), f.profit)


def _matches(report: financials.FinancialReport, scanned: dict) -> bool:
    reseller = report.reseller
    total = financials.Figures(reseller.currency)
    for figures in scanned["day"].values():
        total.add(figures)
    total.earnings = total.revenue  # markup resellers
    if _figures(total) != _figures(report.totals[0]):
        return False
    by_day = {str(day): _figures(f) for (day, _), f in scanned["day"].items()}
    for d in report.days:
        if by_day.get(str(d.day), _figures(financials.Figures(reseller.currency))) != _figures(
            d.totals[0]
        ):
            return False
    by_client = {int(c): _figures(f) for (c, _), f in scanned["client"].items() if int(c)}
    return by_client == {c.client.id: _figures(c.figures) for c in report.clients}


async def run() -> str:
    url = fresh_database()
    postgres = not url.startswith("sqlite")
    calls = reports.CALLS_POSTGRES if postgres else reports.CALLS_SQLITE
    calls = int(os.environ.get("DIALTONE_BENCH_FINANCIAL_CALLS", calls))
    entries = int(os.environ.get("DIALTONE_BENCH_FINANCIAL_ENTRIES", ENTRIES))
    engine = create_engine(url)
    sessions = session_factory(engine)
    say(f"financials: {calls:,} calls, {entries:,} entries on {url.split(':')[0]}")
    callers, reseller_id, _ = await reports.setup(sessions)
    await engine.dispose()

    started = time.perf_counter()
    if postgres:
        await reports.load_postgres(url, calls, callers)
    else:
        await asyncio.to_thread(reports.load_sqlite, url, calls, callers)
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with engine.begin() as conn:
        await conn.execute(text(reports.rollups_sql(postgres)))
    load_s = time.perf_counter() - started
    post_s = await post_entries(sessions, callers, entries)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    say(f"calls loaded in {load_s:.0f} s, entries posted in {post_s:.0f} s")

    first, end = financials.parse_month(MONTH)
    start = datetime.combine(first, datetime.min.time(), UTC)
    stop = datetime.combine(end, datetime.min.time(), UTC)
    actor = Actor(
        kind="reseller_user",
        reseller_id=reseller_id,
        role="reseller_owner",
        label="bench",
        permissions=RESELLER_OWNER_PERMISSIONS,
    )
    async with sessions() as s:
        reseller = await s.get(Reseller, reseller_id)
        samples, report = [], None
        for _ in range(RUNS + 2):  # two warm-ups
            t0 = time.perf_counter()
            report = await financials.report(s, actor, MONTH, reseller_id)
            samples.append(time.perf_counter() - t0)
            s.expunge_all()
        report_ms = statistics.median(samples[2:]) * 1000
        reseller = await s.get(Reseller, reseller_id)
        scan_samples, scanned = [], None
        for _ in range(SCAN_RUNS + 1):
            t0 = time.perf_counter()
            scanned = await scan(s, postgres, reseller, start, stop)
            scan_samples.append(time.perf_counter() - t0)
        scan_ms = statistics.median(scan_samples[1:]) * 1000
        rollup_rows = await s.scalar(
            text(
                "SELECT count(*) FROM ledger_rollups"
                " WHERE reseller_id = :r AND day >= :a AND day < :b"
            ),
            {"r": reseller_id, "a": first, "b": end},
        )
    await engine.dispose()
    assert report is not None and scanned is not None
    matches = _matches(report, scanned)
    [t] = report.totals
    load = "?"
    if os.path.exists("/proc/loadavg"):
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
    return (
        f"financials: backend={'postgresql' if postgres else 'sqlite'} calls={calls}"
        f" entries={entries} clients={len(callers)} month={MONTH}"
        f" month_calls={t.calls} month_rollup_rows={rollup_rows}"
        f" report_clients={len(report.clients)} report_ms={report_ms:.1f}"
        f" scan_ms={scan_ms:.1f} ratio_scan_to_report={scan_ms / report_ms:.1f}"
        f" totals_match_scan={'yes' if matches else 'NO'}"
        f" post_s={post_s:.0f} entries_per_s={entries / post_s:.0f} load_s={load_s:.0f}"
        f" load={load}"
    )
